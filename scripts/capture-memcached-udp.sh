#!/usr/bin/env bash
# capture-memcached-udp.sh — a fixture capture of real memcached traffic over UDP, with truth.
#
#   scripts/capture-memcached-udp.sh   -> stream-processor/src/test/resources/pcap/memcached-udp/
#                                         (memcached-udp.pcap, .requests.tsv, .stats.json,
#                                          .packets.tsv, README.md)
#
# Needs root (network namespace, tcpdump), memcached, tcpdump, python3, iproute2.
#
# In a fresh network namespace whose lo has MTU 1500: memcached listens on UDP 11211 (the
# traffic, captured) and on TCP 11300 (bookkeeping: `stats` before and after, never captured:
# tcpdump records UDP only). A small python3 client sends text, meta and binary requests, each
# in one datagram with the 8-byte frame header and its own request id, and waits for every
# datagram of the answer before the next request (noreply and quiet requests get none). A 5000-
# byte value makes a request that IP fragments and an answer of several datagrams.
# Truth: what the client sent and got (requests.tsv), memcached's own `stats` deltas
# (stats.json), tcpdump's reading of every packet (packets.tsv). See the README it writes.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
OUT="$ROOT/stream-processor/src/test/resources/pcap/memcached-udp"
NAME=memcached-udp
UDP_PORT=11211
ADMIN_PORT=11300

die() { echo "capture-memcached-udp: error: $*" >&2; exit 1; }
log() { echo "capture-memcached-udp: $*" >&2; }
# shellcheck source=lib/capture-common.sh
. "$ROOT/scripts/lib/capture-common.sh"

if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  case ${1:-} in -h|--help) sed -n '2,17p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;; '') ;; *) die "no arguments expected" ;; esac
  for c in memcached tcpdump python3 ip; do
    command -v "$c" >/dev/null || die "missing $c (apt-get install memcached tcpdump python3 iproute2)"
  done
  in_namespace "$SELF" tapflow-mcudp
  exit 0
fi

# ---- inside the namespace ----
TMP=$(mktemp -d /tmp/tapflow-mcudp.XXXXXX)
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
memcached -u root -l 127.0.0.1 -U "$UDP_PORT" -p "$ADMIN_PORT" -m 64 -t 1 &
MEMCACHED_PID=$!
for ((i = 0; i < 100; i++)); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $ADMIN_PORT), 1).close()" 2>/dev/null && break
  sleep 0.05
done

tcpdump_start "$TMP/$NAME.pcap" 'udp'

python3 - "$UDP_PORT" "$ADMIN_PORT" "$TMP/$NAME.requests.tsv" "$TMP/$NAME.stats.json" <<'PY'
import socket, struct, sys, json

udp_port, admin_port, requests_out, stats_out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
COUNTERS = ["cmd_get", "get_hits", "get_misses", "cmd_set", "cmd_touch", "touch_hits", "touch_misses",
            "delete_hits", "delete_misses", "incr_hits", "incr_misses", "decr_hits", "decr_misses"]

def stats():
    c = socket.create_connection(("127.0.0.1", admin_port), 2)
    c.sendall(b"stats\r\n")
    data = b""
    while not data.endswith(b"END\r\n"):
        data += c.recv(65536)
    c.close()
    out = {}
    for line in data.decode().splitlines():
        p = line.split()
        if len(p) == 3 and p[0] == "STAT":
            out[p[1]] = p[2]
    return out

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(3)
rows = []
rid = 100

def complete(body, kind, command):
    """Whether an answer is whole, by the protocol: its message ends."""
    if kind == "binary":
        return len(body) >= 24 and len(body) == 24 + struct.unpack(">I", body[8:12])[0]
    if command in ("GET", "STATS"):
        return body.endswith(b"END\r\n")
    if body.startswith(b"VA "):
        head, _, rest = body.partition(b"\r\n")
        return len(rest) == int(head.split()[1]) + 2
    return body.endswith(b"\r\n")

def call(payload, kind, command, reply=True):
    """One request datagram; reads datagrams until the answer is whole (none when reply is False).
    memcached 1.6 answers a multi-key get in several runs, each numbered from sequence 0."""
    global rid
    rid += 1
    s.sendto(struct.pack(">HHHH", rid, 0, 1, 0) + payload, ("127.0.0.1", udp_port))
    body, run, datagrams = b"", {}, 0
    if not reply:
        # memcached 1.6 acknowledges a quiet binary request with a bare frame header (total 0)
        s.settimeout(0.3)
        try:
            d, _ = s.recvfrom(65536)
            if struct.unpack(">HHHH", d[:8])[0] != rid or len(d) != 8:
                sys.exit("unexpected answer to request %d: %r" % (rid, d[:40]))
            datagrams = 1
        except socket.timeout:
            pass
        s.settimeout(3)
    while reply:
        d, _ = s.recvfrom(65536)
        r, seq, tot, _ = struct.unpack(">HHHH", d[:8])
        if r != rid:
            sys.exit("answer for request id %d while waiting for %d" % (r, rid))
        datagrams += 1
        run[seq] = d[8:]
        if len(run) == tot:
            body += b"".join(run[k] for k in sorted(run))
            run = {}
            if complete(body, kind, command):
                break
    if not reply:
        head = "-"
    elif kind == "binary":
        head = "status=%d" % struct.unpack(">H", body[6:8])[0]
    else:
        head = body.split(b"\r\n")[0][:40].decode("ascii", "replace").replace("\t", " ")
    rows.append((rid, kind, command, datagrams, len(body), head))
    return body

def binary(opcode, key=b"", extras=b"", value=b"", opaque=0):
    return struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), len(extras), 0, 0,
                       len(extras) + len(key) + len(value), opaque, 0) + extras + key + value

before = stats()
big = (b"tapflow-memcached-udp-" * 300)[:5000]
call(b"set k1 0 0 5\r\nhello\r\n", "text", "SET")
call(b"get k1\r\n", "text", "GET")
call(b"get nokey\r\n", "text", "GET")
call(b"set big 0 0 5000\r\n" + big + b"\r\n", "text", "SET")       # one datagram, IP-fragmented
call(b"get big\r\n", "text", "GET")                                 # an answer of several datagrams
call(b"get k1 big nokey\r\n", "text", "GET")                        # 2 hits, 1 miss
call(b"set k2 0 0 3 noreply\r\nabc\r\n", "text", "SET", reply=False)
call(b"incr cnt 1\r\n", "text", "INCR")                             # NOT_FOUND
call(b"set cnt 0 0 1\r\n5\r\n", "text", "SET")
call(b"incr cnt 3\r\n", "text", "INCR")
call(b"decr cnt 2\r\n", "text", "DECR")
call(b"delete k2\r\n", "text", "DELETE")
call(b"delete k2\r\n", "text", "DELETE")                            # NOT_FOUND
call(b"touch k1 100\r\n", "text", "TOUCH")
call(b"mg k1 v\r\n", "text", "MG")
call(b"mg nokey v\r\n", "text", "MG")                               # EN
call(b"ms k3 2\r\nhi\r\n", "text", "MS")
call(b"md k3\r\n", "text", "MD")
call(b"stats\r\n", "text", "STATS")                                 # several datagrams
call(binary(0x01, b"bk", struct.pack(">II", 0, 0), b"binary-value"), "binary", "Set")
call(binary(0x00, b"bk"), "binary", "Get")
call(binary(0x0c, b"nokey"), "binary", "GetK")                      # Key not found
call(binary(0x11, b"bq", struct.pack(">II", 0, 0), b"quiet"), "binary", "SetQ", reply=False)
call(binary(0x04, b"bq"), "binary", "Delete")
call(binary(0x0a), "binary", "Noop")
after = stats()

with open(requests_out, "w") as f:
    f.write("request_id\tprotocol\tcommand\tresponse_datagrams\tresponse_bytes\tresponse_head\n")
    for r in rows:
        f.write("\t".join(str(x) for x in r) + "\n")
with open(stats_out, "w") as f:
    json.dump({k: int(after[k]) - int(before[k]) for k in COUNTERS}, f, indent=2, sort_keys=True)
    f.write("\n")
PY

tcpdump_stop

packets_tsv "$TMP/$NAME.pcap" "$TMP/$NAME.packets.tsv"
frags=$(awk -F'\t' 'NR > 1 && ($6 != 0 || $7 == 1)' "$TMP/$NAME.packets.tsv" | wc -l)
((frags > 1)) || die "no IP fragments in the capture (is the MTU 1500?)"

cat >"$TMP/README.md" <<EOF
# memcached over UDP, from real traffic

Made by \`scripts/capture-memcached-udp.sh\` (run it as root to regenerate; everything here is
overwritten). $MEMCACHED_VERSION (\`-U $UDP_PORT -t 1\`), a python3 client, and
$(tcpdump --version 2>&1 | head -1) capturing UDP on lo in a network namespace with MTU 1500.
Timestamps: nanosecond pcap (magic \`a1b23c4d\`), link type Ethernet (Linux loopback).

The client sends each request in one datagram (8-byte frame header: request id, sequence 0,
total 1, reserved 0; request ids 101, 102, ...) and reads every datagram of its answer before
sending the next; \`noreply\` and quiet (SetQ) requests get no answer. Requests, in order: text
set/get (hit, miss), a 5000-byte set (the request datagram is IP-fragmented) and its get (an
answer of several datagrams), a multi-key get (2 hits, 1 miss), set noreply, incr on a missing
key (NOT_FOUND), set/incr/decr, delete twice (DELETED, NOT_FOUND), touch, meta mg (hit, miss
EN), ms, md, stats (several datagrams), then binary Set, Get, GetK of a missing key (status 1),
SetQ, Delete, Noop.

## Files

- \`$NAME.pcap\` — the capture (tcpdump \`-s 0 --time-stamp-precision=nano\`, filter \`udp\`, 0 dropped).
- \`$NAME.requests.tsv\` — what the client sent and got, one row per request in order:
  \`request_id\`, \`protocol\` (text/binary), \`command\` (as a fact names it), \`response_datagrams\`,
  \`response_bytes\` (the answer's payload without frame headers), \`response_head\` (its first
  line, or the binary status); \`-\` for requests that get no answer. memcached 1.6.18 answers
  the quiet SetQ with one empty datagram (a frame header with total 0, no payload): 1 datagram,
  0 bytes. It answers the multi-key get in runs, each numbered from sequence 0: one per value,
  one for END.
- \`$NAME.stats.json\` — memcached's own counters, \`stats\` after minus before (read over TCP on
  port $ADMIN_PORT, never captured): cmd_get (keys asked for), get_hits, get_misses, cmd_set,
  cmd_touch, touch_hits/misses, delete_hits/misses, incr_hits/misses, decr_hits/misses.
- \`$NAME.packets.tsv\` — tcpdump's reading (\`tcpdump -tt -nn -v --nano -r\`), one row per packet:
  \`ts_ns\`, \`proto\`, \`src\`, \`dst\` (\`ip:port\`; a bare address for a non-first fragment),
  \`ip_id\`, \`frag_offset\`, \`more_fragments\`, \`len\` (IP payload bytes); \`seq\`, \`dns_id\`, \`qr\`
  are \`-\` here (see \`scripts/lib/tcpdump_packets.py\`).

Since the client waits for each answer, the datagrams alternate: a request (its last fragment
is when it was whole), then that many answer datagrams. A fact's latency must be the first
answer datagram's time minus the request datagram's.

Sizes at generation:

$(sizes "$TMP"/$NAME.*)
EOF

chown "$(stat -c %u:%g "$ROOT")" "$TMP"/$NAME.* "$TMP/README.md"
mkdir -p "$OUT"
mv -f "$TMP"/$NAME.pcap "$TMP"/$NAME.requests.tsv "$TMP"/$NAME.stats.json "$TMP"/$NAME.packets.tsv "$TMP/README.md" "$OUT/"
log "$OUT/$NAME.pcap: $(stat -c %s "$OUT/$NAME.pcap") bytes, $(($(wc -l <"$OUT/$NAME.packets.tsv") - 1)) packets ($frags fragments), $(($(wc -l <"$OUT/$NAME.requests.tsv") - 1)) requests"
