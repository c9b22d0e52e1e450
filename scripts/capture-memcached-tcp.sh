#!/usr/bin/env bash
# capture-memcached-tcp.sh — a fixture capture of real memcached text-protocol traffic over TCP,
# a few seconds long, with memcached's own counters as truth.
#
#   scripts/capture-memcached-tcp.sh   -> stream-processor/src/test/resources/pcap/memcached-tcp/
#                                         (memcached-tcp.pcap, .stats.json, .commands.json, README.md)
#
# Needs root (network namespace, tcpdump), memcached, tcpdump, python3, iproute2.
#
# In a fresh network namespace whose lo has MTU 1500: memcached listens on TCP 11211 (the
# traffic, captured) and TCP 11300 (bookkeeping: `stats` before and after, never captured:
# tcpdump records port 11211 only). A python3 client runs two connections at once, each a
# loop of paced requests (mostly get and set, some multi-key get, incr/decr, delete, touch, a
# noreply set, and a few requests pipelined in one write), reading every reply before its next
# write. Each connection has keys of its own, so the server's hits and misses do not depend on
# how the two connections interleave (a replay must reproduce them at any speed). Truth: memcached's `stats` deltas (stats.json) and what the client sent, per command
# (commands.json).
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
OUT="$ROOT/stream-processor/src/test/resources/pcap/memcached-tcp"
NAME=memcached-tcp
PORT=11211
ADMIN_PORT=11300
OPS=300          # loop iterations per connection
PACE=0.004       # seconds between iterations

die() { echo "capture-memcached-tcp: error: $*" >&2; exit 1; }
log() { echo "capture-memcached-tcp: $*" >&2; }
# shellcheck source=lib/capture-common.sh
. "$ROOT/scripts/lib/capture-common.sh"

if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  case ${1:-} in -h|--help) sed -n '2,16p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;; '') ;; *) die "no arguments expected" ;; esac
  for c in memcached tcpdump python3 ip; do
    command -v "$c" >/dev/null || die "missing $c (apt-get install memcached tcpdump python3 iproute2)"
  done
  in_namespace "$SELF" tapflow-mctcp
  exit 0
fi

# ---- inside the namespace ----
TMP=$(mktemp -d /tmp/tapflow-mctcp.XXXXXX)
TCPDUMP_PID=
MEMCACHED_PID=
cleanup() {
  [[ -z $TCPDUMP_PID ]] || kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  [[ -z $MEMCACHED_PID ]] || kill "$MEMCACHED_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

MEMCACHED_VERSION=$(memcached -V)
memcached_start "$ADMIN_PORT" -l "127.0.0.1:$PORT,127.0.0.1:$ADMIN_PORT" -U 0 -m 64 -t 2

tcpdump_start "$TMP/$NAME.pcap" "tcp port $PORT"

python3 - "$PORT" "$ADMIN_PORT" "$OPS" "$PACE" "$TMP/$NAME.stats.json" "$TMP/$NAME.commands.json" <<'PY'
import json, random, socket, sys, threading, time
from collections import Counter

port, admin_port, ops, pace = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
stats_out, commands_out = sys.argv[5], sys.argv[6]
COUNTERS = ["cmd_get", "get_hits", "get_misses", "get_expired", "cmd_set", "cmd_touch", "touch_hits",
            "touch_misses", "delete_hits", "delete_misses", "incr_hits", "incr_misses", "decr_hits", "decr_misses",
            "cas_hits", "cas_misses", "cas_badval", "total_items"]

def stats():
    c = socket.create_connection(("127.0.0.1", admin_port), 2)
    c.sendall(b"stats\r\n")
    data = b""
    while not data.endswith(b"END\r\n"):
        data += c.recv(65536)
    c.close()
    return {p[1]: p[2] for p in (l.split() for l in data.decode().splitlines()) if len(p) == 3 and p[0] == "STAT"}

class Client:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.sent = Counter()

    def reply(self, retrieval):
        """One whole reply: a retrieval ends with END, anything else is one line."""
        while True:
            if retrieval:
                i = self.buf.find(b"END\r\n")
                # VALUE blocks carry their length; values here never contain END\r\n
                if i >= 0 and (i == 0 or self.buf[i - 2:i] == b"\r\n"):
                    r, self.buf = self.buf[:i + 5], self.buf[i + 5:]
                    return r
            else:
                i = self.buf.find(b"\r\n")
                if i >= 0:
                    r, self.buf = self.buf[:i + 2], self.buf[i + 2:]
                    return r
            d = self.s.recv(65536)
            if not d:
                sys.exit("memcached closed the connection")
            self.buf += d

    def call(self, requests):
        """requests: [(command, bytes, answered, retrieval)] written in one write, replies read in order."""
        self.s.sendall(b"".join(r[1] for r in requests))
        for command, _, answered, retrieval in requests:
            self.sent[command] += 1
            if answered:
                self.reply(retrieval)

def run(client, seed):
    rnd = random.Random(seed)
    counter = b"counter:%d" % seed
    client.call([("SET", b"set %s 0 0 2\r\n10\r\n" % counter, True, False)])
    start = time.monotonic()
    for i in range(ops):
        key = b"key:%d:%d" % (seed, rnd.randrange(200))
        value = b"v" * rnd.randrange(1, 400)
        r = rnd.random()
        if r < 0.45:
            client.call([("GET", b"get " + key + b"\r\n", True, True)])
        elif r < 0.80:
            client.call([("SET", b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value), True, False)])
        elif r < 0.85:
            keys = b" ".join(b"key:%d:%d" % (seed, rnd.randrange(200)) for _ in range(3))
            client.call([("GET", b"get " + keys + b"\r\n", True, True)])
        elif r < 0.88:
            client.call([("INCR", b"incr %s 1\r\n" % counter, True, False)])
        elif r < 0.90:
            client.call([("DECR", b"decr %s 1\r\n" % counter, True, False)])
        elif r < 0.93:
            client.call([("DELETE", b"delete " + key + b"\r\n", True, False)])
        elif r < 0.95:
            client.call([("TOUCH", b"touch " + key + b" 300\r\n", True, False)])
        elif r < 0.97:
            client.call([("SET", b"set %s 0 0 %d noreply\r\n%s\r\n" % (key, len(value), value), False, False)])
        else:  # pipelined: three requests in one write
            client.call([("SET", b"set %s 0 0 %d\r\n%s\r\n" % (key, len(value), value), True, False),
                         ("GET", b"get " + key + b"\r\n", True, True),
                         ("GETS", b"gets " + key + b"\r\n", True, True)])
        # absolute schedule: pauses do not add up
        delay = start + (i + 1) * pace - time.monotonic()
        if delay > 0:
            time.sleep(delay)

before = stats()
clients = [Client(), Client()]
threads = [threading.Thread(target=run, args=(c, n)) for n, c in enumerate(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for c in clients:
    c.s.close()
time.sleep(0.2)
after = stats()
with open(stats_out, "w") as f:
    json.dump({k: int(after[k]) - int(before[k]) for k in COUNTERS}, f, indent=2, sort_keys=True)
    f.write("\n")
total = Counter()
for c in clients:
    total.update(c.sent)
with open(commands_out, "w") as f:
    json.dump(dict(sorted(total.items())), f, indent=2)
    f.write("\n")
PY

tcpdump_stop

mkdir -p "$OUT"
cat >"$TMP/README.md" <<EOF2
# memcached over TCP (text protocol), from real traffic

Made by \`scripts/capture-memcached-tcp.sh\` (run it as root to regenerate; everything here is
overwritten). $MEMCACHED_VERSION (\`-t 2\`), a python3 client, and $(tcpdump --version 2>&1 | head -1),
captured on: $TAPFLOW_CAPTURE_PATH.
Timestamps: nanosecond pcap (magic \`a1b23c4d\`), link type Ethernet (Linux loopback).

Two client connections at once, each $OPS requests (or pipelined groups) paced $PACE s apart on
an absolute schedule (so the capture lasts about $(python3 -c "print($OPS * $PACE)") s), keys \`key:C:0\`..\`key:C:199\`
of its own (C = 0, 1: hits and misses do not depend on how the connections interleave),
values 1–399 bytes: about 45% get, 35% set, 5% three-key get, incr/decr of \`counter:C\`, delete,
touch, a \`noreply\` set, and set+get+gets pipelined in one write; every reply is read before the
next write. Each connection starts with \`set counter:C\`, which its incr/decr use.

- \`$NAME.pcap\` — the capture (tcpdump \`-s 0 --time-stamp-precision=nano -B 4096\`, filter
  \`tcp port $PORT\`, 0 packets dropped by kernel).
- \`$NAME.stats.json\` — truth from the server: deltas of memcached's \`stats\` counters over the
  run, read on port $ADMIN_PORT (never captured).
- \`$NAME.commands.json\` — requests the client sent, per command.

Sizes at generation:

$(sizes "$TMP/$NAME.pcap" "$TMP/$NAME.stats.json" "$TMP/$NAME.commands.json")
EOF2
mv -f "$TMP/$NAME.pcap" "$TMP/$NAME.stats.json" "$TMP/$NAME.commands.json" "$TMP/README.md" "$OUT/"
log "wrote $OUT: $(tr -d '\n ' <"$OUT/$NAME.stats.json")"
