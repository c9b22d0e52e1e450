#!/usr/bin/env bash
# capture-redis-bursts.sh — a fixture capture of real redis-benchmark traffic lasting a few
# seconds (bursts with pauses between them), with the server's own command counts as truth.
#
#   scripts/capture-redis-bursts.sh   -> stream-processor/src/test/resources/pcap/redis-bursts/
#                                        (benchmark-bursts.pcap, .commandstats.json, README.md)
#
# Needs root (network namespace, tcpdump), redis-server, redis-cli, redis-benchmark, tcpdump,
# python3, iproute2.
#
# In a fresh network namespace whose lo has MTU 1500: one redis-server with a TCP port (the
# traffic, captured) and a unix socket (bookkeeping: CONFIG RESETSTAT and INFO, never captured).
# BURSTS runs of `redis-benchmark -c 2 -n N -t get,set -r 1000`, PAUSE seconds apart, so the
# capture is short in packets but long in time: a replay at speed 1.0 can be timed against it.
# Truth: INFO commandstats after the traffic minus the bookkeeping's own trace (config|resetstat).
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
OUT="$ROOT/stream-processor/src/test/resources/pcap/redis-bursts"
NAME=benchmark-bursts
BURSTS=5          # redis-benchmark runs
BENCH_N=200       # requests per test (get, set) per run
PAUSE=0.5         # seconds between runs

die() { echo "capture-redis-bursts: error: $*" >&2; exit 1; }
log() { echo "capture-redis-bursts: $*" >&2; }
# shellcheck source=lib/capture-common.sh
. "$ROOT/scripts/lib/capture-common.sh"

if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  case ${1:-} in -h|--help) sed -n '2,16p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;; '') ;; *) die "no arguments expected" ;; esac
  for c in redis-server redis-cli redis-benchmark tcpdump python3 ip; do
    command -v "$c" >/dev/null || die "missing $c (apt-get install redis-server redis-tools tcpdump python3 iproute2)"
  done
  in_namespace "$SELF" tapflow-rbursts
  exit 0
fi

# ---- inside the namespace ----
TMP=$(mktemp -d /tmp/tapflow-rbursts.XXXXXX)
TCPDUMP_PID=
REDIS_PID=
cleanup() {
  [[ -z $TCPDUMP_PID ]] || kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  [[ -z $REDIS_PID ]] || kill "$REDIS_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

PORT=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
SOCK="$TMP/redis.sock"
REDIS_VERSION=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
redis-server --port "$PORT" --bind 127.0.0.1 --unixsocket "$SOCK" --unixsocketperm 700 --save '' \
  --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
for ((i = 0; i < 100; i++)); do
  [[ -S $SOCK ]] && redis-cli -s "$SOCK" PING 2>/dev/null | grep PONG >/dev/null && break
  sleep 0.05
done
admin() { redis-cli -s "$SOCK" "$@"; }
admin PING | grep PONG >/dev/null || die "redis-server did not start"

tcpdump_start "$TMP/$NAME.pcap" "tcp port $PORT"
admin CONFIG RESETSTAT >/dev/null
for ((b = 1; b <= BURSTS; b++)); do
  redis-benchmark -h 127.0.0.1 -p "$PORT" -c 2 -n "$BENCH_N" -t get,set -r 1000 -q >/dev/null
  ((b == BURSTS)) || sleep "$PAUSE"
done
admin INFO commandstats | tr -d '\r' >"$TMP/info"
tcpdump_stop

# {"command": calls}, less the bookkeeping (config|resetstat; INFO is counted after it is read)
python3 - "$TMP/info" "$TMP/$NAME.commandstats.json" <<'PY'
import json, re, sys
out = {}
for m in re.finditer(r"cmdstat_([^:]+):calls=(\d+),usec=\d+,usec_per_call=[\d.]+,rejected_calls=(\d+),failed_calls=(\d+)",
                     open(sys.argv[1]).read()):
    if m.group(3) != "0":
        sys.exit("rejected calls: " + m.group(0))
    if m.group(1) not in ("config|resetstat", "info"):
        out[m.group(1)] = int(m.group(2))
json.dump(out, open(sys.argv[2], "w"), indent=2, sort_keys=True)
open(sys.argv[2], "a").write("\n")
PY

mkdir -p "$OUT"
cat >"$TMP/README.md" <<EOF2
# Redis bursts, from real traffic

Made by \`scripts/capture-redis-bursts.sh\` (run it as root to regenerate; everything here is
overwritten). Redis $REDIS_VERSION (server and redis-benchmark from Debian),
$(tcpdump --version 2>&1 | head -1), captured on: $TAPFLOW_CAPTURE_PATH.
Timestamps: nanosecond pcap (magic \`a1b23c4d\`), link type Ethernet (Linux loopback).

$BURSTS runs of \`redis-benchmark -c 2 -n $BENCH_N -t get,set -r 1000\`, $PAUSE s apart, against
one fresh \`redis-server --save '' --appendonly no\`: a capture a few seconds long but small, for
timing a replay at speed 1.0 against it (\`tapflow replay\` tests). Each run also opens one
connection for \`CONFIG GET save\` and \`CONFIG GET appendonly\`.

- \`$NAME.pcap\` — the capture (tcpdump \`-s 0 --time-stamp-precision=nano -B 4096\`, filter
  \`tcp port <server port>\`, 0 packets dropped by kernel).
- \`$NAME.commandstats.json\` — truth from the server: \`{"command": calls}\` from \`INFO
  commandstats\` after \`CONFIG RESETSTAT\`, both over a unix socket tcpdump never sees (and
  left out). No command was rejected, so calls == requests on the wire, per command.

Sizes at generation:

$(sizes "$TMP/$NAME.pcap" "$TMP/$NAME.commandstats.json")
EOF2
mv -f "$TMP/$NAME.pcap" "$TMP/$NAME.commandstats.json" "$TMP/README.md" "$OUT/"
log "wrote $OUT: $(tr -d '\n ' <"$OUT/$NAME.commandstats.json")"
