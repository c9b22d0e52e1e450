# capture-common.sh — sourced by the fixture scripts (capture-dns.sh, capture-memcached-udp.sh,
# capture-memcached-tcp.sh, capture-redis-bursts.sh, …):
# a fresh network namespace to run in, tcpdump started and stopped with its drop count checked,
# and tcpdump's own reading of a capture as a TSV. Expects die() and log() from the caller.

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SETTLE_SECONDS=${SETTLE_SECONDS:-1.5}   # tcpdump without --immediate-mode delivers in blocks: wait before stopping it

# in_namespace SCRIPT PREFIX: runs SCRIPT again inside a fresh network namespace whose lo has
# MTU 1500 and segmentation offloads off (TCP cuts at the MSS, UDP is IP-fragmented, as on a
# real 1500-byte link), with TAPFLOW_CAPTURE_INNER=1 and TAPFLOW_CAPTURE_PATH describing it.
in_namespace() {
  local script=$1 ns="$2-$$" path
  ((EUID == 0)) || die "run as root (tcpdump, network namespaces)"
  trap "ip netns del '$ns' 2>/dev/null || true" EXIT
  ip netns add "$ns" || die "cannot create a network namespace"
  ip netns exec "$ns" ip link set lo up mtu 1500
  if command -v ethtool >/dev/null && ip netns exec "$ns" ethtool -K lo tso off gso off gro off 2>/dev/null; then
    path="network namespace, lo mtu 1500, tso/gso/gro off (ethtool)"
  else
    ip netns exec "$ns" ip link set lo gso_max_segs 1 || die "cannot turn off segmentation offload in the namespace"
    path="network namespace, lo mtu 1500, gso_max_segs 1 (no ethtool)"
  fi
  TAPFLOW_CAPTURE_INNER=1 TAPFLOW_CAPTURE_PATH="$path" ip netns exec "$ns" "$script"
}

# tcpdump_start PCAP FILTER: sets TCPDUMP_PID; returns once tcpdump listens (kernel buffer: TCPDUMP_BUFFER_KB, 4096)
tcpdump_start() {
  local i
  : >"$TMP/tcpdump.err"
  tcpdump -i lo -w "$1" -s 0 --time-stamp-precision=nano -B "${TCPDUMP_BUFFER_KB:-4096}" "$2" 2>"$TMP/tcpdump.err" &
  TCPDUMP_PID=$!
  for ((i = 0; i < 200; i++)); do
    grep -q 'listening on' "$TMP/tcpdump.err" && return 0
    kill -0 "$TCPDUMP_PID" 2>/dev/null || break
    sleep 0.02
  done
  cat "$TMP/tcpdump.err" >&2
  die "tcpdump did not start"
}

# tcpdump_stop: waits SETTLE_SECONDS, stops tcpdump, fails unless it dropped nothing
tcpdump_stop() {
  local dropped
  sleep "$SETTLE_SECONDS"
  kill -INT "$TCPDUMP_PID"
  wait "$TCPDUMP_PID" || true
  TCPDUMP_PID=
  dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$TMP/tcpdump.err")
  [[ $dropped == 0 ]] || { cat "$TMP/tcpdump.err" >&2; die "tcpdump: '${dropped:-?}' packets dropped by kernel"; }
}

# memcached_start ADMIN_PORT ARGS...: starts memcached (as root) with ARGS, sets MEMCACHED_PID,
# returns once it accepts TCP connections on ADMIN_PORT
memcached_start() {
  local admin=$1 i
  shift
  memcached -u root "$@" &
  MEMCACHED_PID=$!
  for ((i = 0; i < 100; i++)); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $admin), 1).close()" 2>/dev/null && return 0
    sleep 0.05
  done
  die "memcached did not start"
}

# packets_tsv PCAP OUT: tcpdump's own reading, one row per packet (see tcpdump_packets.py)
packets_tsv() {
  tcpdump -tt -nn -v --nano -r "$1" 2>/dev/null | python3 "$LIB_DIR/tcpdump_packets.py" >"$2"
}

# sizes FILE...: a Markdown list of the files and their sizes, for the READMEs
sizes() {
  local f
  for f in "$@"; do printf -- '- `%s` %s bytes\n' "$(basename "$f")" "$(stat -c %s "$f")"; done
}
