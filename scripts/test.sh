#!/usr/bin/env bash
# The project's test command (the README's second command; .ci/run calls it):
# installs the OS packages the tests use, then builds and runs every test.
#   scripts/test.sh            all tests
#   scripts/test.sh -pl cli    extra Maven arguments are passed through
set -euo pipefail
cd "$(dirname "$0")/.."

need_pkgs=()
# docker-compose: deploy/ checks docker/compose.yaml with it; systemd: systemd-analyze verify of the unit;
# iproute2: FleetTest (bench/fleet.sh) makes its hosts as network namespaces
for p in libpcap0.8 tcpdump redis-server redis-tools memcached libmemcached-tools docker-compose systemd iproute2; do
  dpkg -s "$p" >/dev/null 2>&1 || need_pkgs+=("$p")
done
command -v mvn >/dev/null 2>&1 || need_pkgs+=(maven)
command -v javac >/dev/null 2>&1 || need_pkgs+=(openjdk-17-jdk-headless)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "installing OS packages: ${need_pkgs[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_pkgs[@]}"
fi
# redis-server from Debian starts a system service on 6379 we do not need
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  systemctl stop redis-server || true
fi

# memcached from Debian starts a system service on 11211 we do not need either
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet memcached 2>/dev/null; then
  systemctl stop memcached || true
fi
# tests that need these servers and clients fail here instead of skipping when one is missing
export TAPFLOW_REQUIRE_TOOLS=1

exec mvn -B -ntp verify "$@"
