#!/usr/bin/env bash
# capture-redis-impaired.sh — fixture captures of real Redis traffic over an impaired link,
# each recorded at both ends at once, with truth.
#
#   scripts/capture-redis-impaired.sh [--seed N]
#       fixtures -> stream-processor/src/test/resources/pcap/redis-impaired/
#   options: --only NAME[,NAME]  only these scenarios, no README (for trying things out)
#            --out DIR           write into DIR instead
#
# Needs root, redis-server, redis-cli, redis-benchmark, tcpdump, iproute2, ethtool, python3.
#
# The link: three network namespaces made here and nothing else touched,
#   tfi-cli-$$ [cli0 10.77.0.1/24] <-veth-> [mid-c] tfi-mid-$$ [mid-s] <-veth-> [srv0 10.77.0.2/24] tfi-srv-$$
# mtu 1500, tso/gso/gro and tx/rx checksum offloads off on all four ends (so every frame is
# a real <= 1514-byte frame with its checksums computed), IPv6 off, static neighbour entries
# (no ARP). The kernel has no netem, so scripts/impair-forwarder.py bridges mid-c and mid-s
# in the middle namespace (AF_PACKET) and drops, duplicates, reorders and delays frames.
#
# How truth is made (see the README.md this script writes beside the fixtures):
#   - Each scenario gets a fresh redis-server in the server namespace, TCP on 10.77.0.2 and a
#     unix socket. All bookkeeping (CONFIG RESETSTAT, INFO commandstats) goes over the unix
#     socket, which no tcpdump sees; its own footprint in commandstats is measured on the
#     idle server and subtracted, as in capture-redis.sh.
#   - Two tcpdumps record the same traffic: one in the client namespace on cli0 (client
#     vantage), one in the server namespace on srv0 (server vantage).
#   - Order per scenario: forwarder up -> server -> calibrate -> both tcpdumps ready ->
#     RESETSTAT -> traffic (every client has read its last reply) -> 1.5 s -> INFO -> stop
#     both tcpdumps -> check 0 dropped by kernel on each -> forwarder's counts.
#     (midstream differs: the client runs first and the capture starts and stops inside it.)
#   - Loss does not change the truth: TCP retransmits, the server reads every request once.
#     The script checks it: it reassembles each capture's TCP streams (python3, stdlib) and
#     the requests counted on the wire must equal commandstats, at both vantages.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
FORWARDER="$ROOT/scripts/impair-forwarder.py"
FIXTURES="$ROOT/stream-processor/src/test/resources/pcap/redis-impaired"

# Values used by the scenarios; documented in the generated README.
SEED=20240611               # forwarder seed of the first scenario; scenario k uses SEED + k - 1
LOSS=0.02 REORDER=0.05 DUP=0.01 DELAY_MS=1 HOLD_MS=3   # impaired-* scenarios
MID_LOSS=0.005 MID_REORDER=0.02 MID_DUP=0              # midstream: lightly impaired (same delay)
PLAIN_N=400                 # impaired-plain: requests per redis-benchmark test
PIPE_N=512                  # impaired-pipelined: a multiple of -P 16
LARGE_N=150 LARGE_D=4000    # impaired-large: requests per test, value bytes
MID_VALUE=4000              # midstream: value bytes of the SET/GET loop
MID_RCVBUF=2048             # midstream: the client's SO_RCVBUF (the kernel doubles it)
MID_READ=128 MID_READ_MS=2  # midstream: the client reads replies MID_READ bytes at a time, MID_READ_MS apart
MID_CONNS=3                 # midstream: connections
MID_LEAD=1                  # midstream: seconds of traffic before the capture starts
MID_RECORD=2.5              # midstream: seconds the capture runs
SETTLE_SECONDS=1.5          # tcpdump without --immediate-mode delivers in blocks: wait before stopping it
MAX_PCAP_BYTES=1600000      # warn above this: the fixtures are committed

CLI_IP=10.77.0.1 SRV_IP=10.77.0.2

die() { echo "capture-redis-impaired: error: $*" >&2; exit 1; }
log() { echo "capture-redis-impaired: $*" >&2; }

usage() {
  sed -n '2,10p' "$SELF" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

ONLY=
while (($#)); do
  case $1 in
    --seed) (($# >= 2)) && [[ $2 =~ ^[0-9]+$ ]] || usage 2; SEED=$2; shift 2 ;;
    --only) (($# >= 2)) || usage 2; ONLY=",$2,"; shift 2 ;;
    --out) (($# >= 2)) || usage 2; mkdir -p "$2"; FIXTURES=$(cd "$2" && pwd); shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown argument: $1" >&2; usage 2 ;;
  esac
done

((EUID == 0)) || die "run as root (network namespaces, AF_PACKET, tcpdump)"
for c in redis-server redis-cli redis-benchmark tcpdump ip ethtool python3 awk; do
  command -v "$c" >/dev/null || die "missing $c (apt-get install redis-server redis-tools tcpdump iproute2 ethtool python3)"
done
[[ -r $FORWARDER ]] || die "missing $FORWARDER"

NS_CLI="tfi-cli-$$" NS_MID="tfi-mid-$$" NS_SRV="tfi-srv-$$"
NAMESPACES=()            # only namespaces made here; cleanup deletes exactly these
PIDS=()                  # every process started here, by id
TMP=$(mktemp -d /tmp/tapflow-impaired.XXXXXX)
chmod 755 "$TMP"         # tcpdump writes its file after dropping root

cleanup() {
  local p ns
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  for ns in "${NAMESPACES[@]}"; do
    # anything still running in a namespace made here (only its own processes, by id)
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# untrack PID: a process waited for is no longer ours to signal (its id may be reused)
untrack() {
  local p keep=()
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}
trap 'exit 130' INT TERM

# in_ns NS CMD...: run CMD in a namespace. Not for CMD &: that would make $! a subshell, not the process.
in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

REDIS_VERSION=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
TCPDUMP_VERSION=$(tcpdump --version 2>&1 | sed -n 's/^tcpdump version //p')
LIBPCAP_VERSION=$(tcpdump --version 2>&1 | sed -n 's/^libpcap version \([^ ]*\).*/\1/p')
PYTHON_VERSION=$(python3 -c 'import platform; print(platform.python_version())')
KERNEL=$(uname -r)

# --- the link ------------------------------------------------------------------------------

topology_up() {
  local ns dev
  for ns in "$NS_CLI" "$NS_MID" "$NS_SRV"; do
    ip netns list | grep "^$ns\b" >/dev/null && die "namespace $ns already exists"
    ip netns add "$ns"
    NAMESPACES+=("$ns")
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip -n "$ns" link set lo up
  done
  # Made inside the namespaces: no interface ever exists in the caller's namespace.
  ip -n "$NS_MID" link add mid-c type veth peer name cli0 netns "$NS_CLI"
  ip -n "$NS_MID" link add mid-s type veth peer name srv0 netns "$NS_SRV"
  for dev in "$NS_CLI cli0" "$NS_MID mid-c" "$NS_MID mid-s" "$NS_SRV srv0"; do
    set -- $dev
    in_ns "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
    in_ns "$1" ethtool -k "$2" | awk '
      /^(tcp-segmentation-offload|generic-segmentation-offload|generic-receive-offload|tx-checksumming|rx-checksumming):/ && $2 != "off" { bad = 1 }
      END { exit bad }' || die "$1 $2: offloads still on"
    ip -n "$1" link set "$2" mtu 1500 up
  done
  ip -n "$NS_MID" link set mid-c promisc on
  ip -n "$NS_MID" link set mid-s promisc on
  ip -n "$NS_CLI" addr add "$CLI_IP/24" dev cli0
  ip -n "$NS_SRV" addr add "$SRV_IP/24" dev srv0
  local mac_cli mac_srv
  mac_cli=$(ip -n "$NS_CLI" -br link show cli0 | awk '{ print $3 }')
  mac_srv=$(ip -n "$NS_SRV" -br link show srv0 | awk '{ print $3 }')
  ip -n "$NS_CLI" neigh replace "$SRV_IP" lladdr "$mac_srv" dev cli0 nud permanent
  ip -n "$NS_SRV" neigh replace "$CLI_IP" lladdr "$mac_cli" dev srv0 nud permanent
}

# fw_start SEED LOSS REORDER DUP: the forwarder in the middle namespace; sets FW_PID
fw_start() {
  local seed=$1 loss=$2 reorder=$3 dup=$4 i
  rm -f "$TMP/fw.ready"
  ip netns exec "$NS_MID" python3 "$FORWARDER" mid-c mid-s --seed "$seed" --loss "$loss" \
    --reorder "$reorder" --dup "$dup" --delay-ms "$DELAY_MS" --reorder-hold-ms "$HOLD_MS" \
    --ready-file "$TMP/fw.ready" 2>"$TMP/fw.err" &
  FW_PID=$!
  PIDS+=("$FW_PID")
  for ((i = 0; i < 250; i++)); do
    [[ -s $TMP/fw.ready ]] && return 0
    kill -0 "$FW_PID" 2>/dev/null || break
    sleep 0.02
  done
  cat "$TMP/fw.err" >&2
  die "forwarder did not start"
}

# fw_stop OUT: stop the forwarder; its per-direction counts go to OUT
fw_stop() {
  kill -TERM "$FW_PID"
  wait "$FW_PID" || true
  untrack "$FW_PID"
  grep '^impair-forwarder: mid-' "$TMP/fw.err" | sed 's/^impair-forwarder: //; s/^mid-c->mid-s/client->server/; s/^mid-s->mid-c/server->client/' >"$1"
  [[ $(wc -l <"$1") == 2 ]] || { cat "$TMP/fw.err" >&2; die "no counts from the forwarder"; }
  awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if ((kv[1] == "socket_drops" || kv[1] == "oversize") && kv[2] != 0) bad = 1 } } END { exit bad }' "$1" \
    || { cat "$1" >&2; die "forwarder lost frames it was not asked to, or saw frames over 1514 bytes"; }
}

# --- server (as capture-redis.sh, in the server namespace) ----------------------------------

# start_server NAME: sets PORT, SOCK, SERVER_PID
start_server() {
  local name=$1 dir="$TMP/$1" i
  mkdir -p "$dir"
  SOCK="$dir/redis.sock"
  PORT=$((20000 + RANDOM % 40000))
  {
    echo "bind $SRV_IP"
    echo "port $PORT"
    echo "protected-mode no"       # no password, and not on loopback: the namespace is private
    echo "unixsocket $SOCK"
    echo "unixsocketperm 700"
    echo "dir $dir"
    echo "logfile $dir/redis.log"
    echo "save \"\""
    echo "appendonly no"
  } >"$dir/redis.conf"
  ip netns exec "$NS_SRV" redis-server "$dir/redis.conf" &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for ((i = 0; i < 100; i++)); do
    if [[ -S $SOCK ]] && [[ $(admin PING 2>/dev/null) == PONG ]]; then return 0; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.05
  done
  die "redis-server did not start (see $dir/redis.log)"
}

stop_server() {
  admin SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$SERVER_PID" 2>/dev/null || true
  untrack "$SERVER_PID"
}

# Bookkeeping connection: the unix socket, never captured.
admin() { redis-cli -s "$SOCK" "$@"; }

# INFO commandstats -> lines "name calls rejected_calls failed_calls"
commandstats() {
  admin INFO commandstats | tr -d '\r' | awk -F'[:,=]' '
    /^cmdstat_/ {
      name = substr($1, 9); calls = rej = fail = 0
      for (i = 2; i < NF; i += 2) {
        if ($i == "calls") calls = $(i + 1)
        else if ($i == "rejected_calls") rej = $(i + 1)
        else if ($i == "failed_calls") fail = $(i + 1)
      }
      print name, calls, rej, fail
    }' | sort
}

# The bookkeeping's own footprint, measured on an idle server.
calibrate() {
  admin CONFIG RESETSTAT >/dev/null
  commandstats >"$TMP/baseline"
  awk '$1 != "config|resetstat" { bad = 1 } END { exit bad }' "$TMP/baseline" \
    || die "unexpected bookkeeping footprint: $(tr '\n' ' ' <"$TMP/baseline")"
}

# truth_json OUTFILE: (INFO now) - baseline, as {"command": calls}
truth_json() {
  local out=$1
  commandstats >"$TMP/after"
  awk '
    FNR == NR { base[$1] = $2; next }
    {
      calls = $2 - base[$1]
      if ($3 != 0) { printf "command %s has rejected_calls=%s: truth would not match the wire\n", $1, $3 > "/dev/stderr"; bad = 1 }
      if (calls > 0) row[$1] = calls
    }
    END {
      if (bad) exit 1
      n = 0; for (k in row) keys[++n] = k
      for (i = 2; i <= n; i++) { v = keys[i]; for (j = i - 1; j > 0 && keys[j] > v; j--) keys[j + 1] = keys[j]; keys[j + 1] = v }
      printf "{\n"
      for (i = 1; i <= n; i++) printf "  \"%s\": %d%s\n", keys[i], row[keys[i]], (i < n ? "," : "")
      printf "}\n"
    }' "$TMP/baseline" "$TMP/after" >"$out" || die "bad commandstats for $out"
}

# --- capture: one tcpdump per vantage --------------------------------------------------------

# capture_start NAME: NAME-client.pcap (cli0, client namespace), NAME-server.pcap (srv0)
capture_start() {
  local name=$1 v ns dev i
  TCPDUMP_PIDS=()
  for v in client server; do
    if [[ $v == client ]]; then ns=$NS_CLI dev=cli0; else ns=$NS_SRV dev=srv0; fi
    : >"$TMP/tcpdump-$v.err"
    ip netns exec "$ns" tcpdump -i "$dev" -w "$TMP/$name-$v.pcap" -s 0 --time-stamp-precision=nano -B 4096 \
      "tcp port $PORT" 2>"$TMP/tcpdump-$v.err" &
    TCPDUMP_PIDS+=("$!")
    PIDS+=("$!")
  done
  for v in client server; do
    for ((i = 0; i < 250; i++)); do
      grep -q 'listening on' "$TMP/tcpdump-$v.err" && continue 2
      sleep 0.02
    done
    cat "$TMP/tcpdump-$v.err" >&2
    die "tcpdump ($v) did not start"
  done
}

capture_stop() {
  local p v dropped
  for p in "${TCPDUMP_PIDS[@]}"; do kill -INT "$p"; done
  for p in "${TCPDUMP_PIDS[@]}"; do wait "$p" || true; untrack "$p"; done
  for v in client server; do
    dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$TMP/tcpdump-$v.err")
    [[ -n $dropped ]] || { cat "$TMP/tcpdump-$v.err" >&2; die "no 'dropped by kernel' line from tcpdump ($v)"; }
    ((dropped == 0)) || { cat "$TMP/tcpdump-$v.err" >&2; die "tcpdump ($v): $dropped packets dropped by kernel"; }
  done
}

# packets_tsv PCAP OUT: tcpdump's own reading; one row per TCP packet with payload (as capture-redis.sh).
packets_tsv() {
  tcpdump -tt -nn -S --nano -r "$1" 'tcp' 2>/dev/null | awk '
    BEGIN { OFS = "\t"; print "ts_ns", "src", "dst", "seq", "len" }
    {
      len = -1; seq = ""
      for (i = 1; i <= NF; i++) {
        if ($i == "length") len = $(i + 1) + 0
        else if ($i == "seq") { seq = $(i + 1); sub(/,$/, "", seq) }
      }
      if (len <= 0) next
      split($1, t, "."); if (length(t[2]) != 9) { print "not a nanosecond timestamp: " $1 > "/dev/stderr"; exit 1 }
      src = $3; dst = $5; sub(/:$/, "", dst)
      sub(/\.[0-9]+$/, ":&", src); sub(/:\./, ":", src)
      sub(/\.[0-9]+$/, ":&", dst); sub(/:\./, ":", dst)
      split(seq, s, ":")
      if (s[2] - s[1] != len) { print "seq range and length disagree: " $0 > "/dev/stderr"; exit 1 }
      print t[1] t[2], src, dst, s[1], len
    }' >"$2"
}

# seq_counts TSV: per direction (client->server, server->client) of all connections together,
# "rows same_seq below gap": rows; rows whose seq was already seen in their flow (a
# retransmission or a duplicate); rows whose seq is below the highest seq+len seen so far in
# their flow (out of order: filling a hole); rows whose seq is beyond it (a hole opens).
seq_counts() {
  awk -F'\t' -v srv="$SRV_IP:$PORT" '
    function signed(d) { d = d % 4294967296; if (d >= 2147483648) d -= 4294967296; if (d < -2147483648) d += 4294967296; return d }
    NR == 1 { next }
    {
      dir = ($3 == srv) ? "c2s" : "s2c"; f = $2 ">" $3; s = $4 + 0; e = (s + $5) % 4294967296
      rows[dir]++
      if (f in hi) {
        if ((f, $4) in seen) same[dir]++
        else if (signed(s - hi[f]) < 0) below[dir]++
        else if (signed(s - hi[f]) > 0) gap[dir]++
        if (signed(e - hi[f]) > 0) hi[f] = e
      } else hi[f] = e
      seen[f, $4] = 1      # by the string: mawk prints numbers over 2^31 as %.6g
    }
    END {
      printf "client->server rows=%d same_seq=%d below=%d gap=%d\n", rows["c2s"], same["c2s"], below["c2s"], gap["c2s"]
      printf "server->client rows=%d same_seq=%d below=%d gap=%d\n", rows["s2c"], same["s2c"], below["s2c"], gap["s2c"]
    }' "$1"
}

# wire_check PCAP TRUTH_JSON|--midstream: reassembles every TCP stream of the capture and
# counts the requests (RESP arrays) and replies on it. With a truth file, every stream must
# be complete from its SYN, with no hole, retransmitted bytes equal to the first copy, and
# requests per command == commandstats, replies == requests. With --midstream it tells, per
# stream, whether the capture's first payload byte is the start of a message.
wire_check() {
  python3 - "$1" "$2" "$PORT" <<'PY'
import collections, json, re, struct, sys

path, truth_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
REQUEST_START = re.compile(rb"\*[0-9]+\r\n\$")
REPLY_START = re.compile(rb"(\+OK\r\n|-[A-Z]+ |:-?[0-9]+\r\n|\$-?[0-9]+\r\n|\*-?[0-9]+\r\n)")
SUBCOMMANDS = {"acl", "client", "cluster", "command", "config", "function", "latency", "memory",
               "module", "object", "pubsub", "script", "slowlog", "xgroup", "xinfo"}

def packets(path):
    data = open(path, "rb").read()
    magic = data[:4]
    e = "<" if magic in (b"\x4d\x3c\xb2\xa1", b"\xd4\xc3\xb2\xa1") else ">"
    if struct.unpack(e + "I", data[:4])[0] != 0xa1b23c4d:
        sys.exit(f"{path}: not a nanosecond pcap")
    if struct.unpack(e + "I", data[20:24])[0] != 1:
        sys.exit(f"{path}: not Ethernet")
    off = 24
    while off + 16 <= len(data):
        sec, nsec, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if incl != orig or struct.unpack("!H", frame[12:14])[0] != 0x0800:
            sys.exit(f"{path}: truncated or non-IPv4 frame")
        ip = frame[14:]
        ihl, total = (ip[0] & 15) * 4, struct.unpack("!H", ip[2:4])[0]
        if ip[9] != 6:
            continue
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        flags, doff = tcp[13], (tcp[12] >> 4) * 4
        yield (ip[12:16], sport, ip[16:20], dport), seq, flags, tcp[doff:]

streams = collections.OrderedDict()
for key, seq, flags, payload in packets(path):
    st = streams.setdefault(key, {"isn": None, "segs": [], "first": None})
    if flags & 0x02:
        st["isn"] = seq
    if payload:
        st["segs"].append((seq, payload))
        if st["first"] is None:
            st["first"] = payload[:24]

def parse(buf, pos):
    """One RESP value at pos -> (value, next pos); value is a list of args for arrays."""
    t = buf[pos:pos + 1]
    end = buf.index(b"\r\n", pos)
    head = buf[pos + 1:end]
    pos = end + 2
    if t in (b"+", b"-", b":"):
        return head, pos
    if t == b"$":
        n = int(head)
        if n < 0:
            return None, pos
        if buf[pos + n:pos + n + 2] != b"\r\n":
            raise ValueError("bad bulk")
        return buf[pos:pos + n], pos + n + 2
    if t == b"*":
        items = []
        for _ in range(max(int(head), 0)):
            v, pos = parse(buf, pos)
            items.append(v)
        return items, pos
    raise ValueError(f"unexpected RESP type {t!r} at {pos}")

if truth_path == "--midstream":
    for (src, sport, dst, dport), st in streams.items():
        if not st["segs"]:
            continue
        first = st["first"]
        start = REQUEST_START if dport == port else REPLY_START
        boundary = start.match(first) is not None
        side = "client->server" if dport == port else "server->client"
        print(f"{side} :{sport}->:{dport} first payload {'starts a message' if boundary else 'is inside a message'}: {first[:16]!r}")
    sys.exit(0)

truth = json.load(open(truth_path))
requests, replies = collections.Counter(), 0
for (src, sport, dst, dport), st in streams.items():
    if not st["segs"]:
        continue
    if st["isn"] is None:
        sys.exit(f"{path}: stream :{sport}->:{dport} has no SYN in the capture")
    base = (st["isn"] + 1) & 0xffffffff
    size = max(((s - base) & 0xffffffff) + len(p) for s, p in st["segs"])
    buf, have = bytearray(size), bytearray(size)
    for s, p in st["segs"]:
        o = (s - base) & 0xffffffff
        for i, b in enumerate(p):       # bytes seen twice must be the same bytes
            if have[o + i] and buf[o + i] != b:
                sys.exit(f"{path}: :{sport}->:{dport} retransmitted bytes differ at {o + i}")
        buf[o:o + len(p)] = p
        have[o:o + len(p)] = b"\x01" * len(p)
    if 0 in have:
        sys.exit(f"{path}: :{sport}->:{dport} has a hole at offset {have.index(0)} of {size}")
    pos, buf = 0, bytes(buf)
    while pos < len(buf):
        v, pos = parse(buf, pos)
        if dport == port:
            if not isinstance(v, list) or not v:
                sys.exit(f"{path}: a request that is not a RESP array: {v!r}")
            name = v[0].decode().lower()
            if name in SUBCOMMANDS and len(v) > 1:
                name += "|" + v[1].decode().lower()
            requests[name] += 1
        else:
            replies += 1
n = sum(requests.values())
if dict(requests) != truth:
    sys.exit(f"{path}: requests on the wire {dict(requests)} != commandstats {truth}")
if replies != n:
    sys.exit(f"{path}: {replies} replies for {n} requests")
print(f"{len([s for s in streams.values() if s['segs']])} streams complete, {n} requests == commandstats, {replies} replies")
PY
}

# --- scenarios -------------------------------------------------------------------------------

bench() { in_ns "$NS_CLI" redis-benchmark -h "$SRV_IP" -p "$PORT" --csv "$@" >"$TMP/bench.out"; }

scenario_plain() { bench -c 4 -n "$PLAIN_N" -t set,get,incr,lpush,lpop; }
scenario_pipelined() { bench -c 4 -n "$PIPE_N" -P 16 -t set,get,incr,lpush,lpop; }
scenario_large() { bench -c 2 -n "$LARGE_N" -d "$LARGE_D" -t set,get; }

# The midstream client: MID_CONNS long-lived connections (python3, plain sockets), each a loop of
# SET key <value> / GET key with a short pause, until the stop file appears; then it reads
# its last reply, closes, and prints how many SET and GET it sent. It is a slow reader: a
# small receive buffer (so a small TCP window) and small reads with a pause after each, so
# the server's 4 KB replies cross the link window by window over tens of milliseconds, and
# a capture that starts at an arbitrary instant is likely to start inside one.
midstream_client() {
  ip netns exec "$NS_CLI" python3 - "$SRV_IP" "$PORT" "$TMP/midstream.stop" "$MID_VALUE" \
    "$MID_RCVBUF" "$MID_READ" "$MID_READ_MS" "$MID_CONNS" >"$TMP/midstream.out" <<'PY' &
import os, socket, sys, threading, time

host, port, stop = sys.argv[1], int(sys.argv[2]), sys.argv[3]
value_bytes, rcvbuf, read_size, read_pause, conns = map(int, sys.argv[4:9])
PAUSE = 0.005
counts = {"set": 0, "get": 0}
lock = threading.Lock()

def value(c, i):
    s, k = [], 0
    while sum(map(len, s)) < value_bytes:
        s.append(b"tapflow-%d-%06d-%04d;" % (c, i, k))
        k += 1
    return b"".join(s)[:value_bytes]

def command(*args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)

def run(c):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)   # before connect: sets the window
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.connect((host, port))
    buf = b""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(read_size)          # a slow reader: small reads, a pause after each
            if not chunk:
                raise EOFError
            buf += chunk
            time.sleep(read_pause / 1000)
    def line():
        nonlocal buf
        while b"\r\n" not in buf:
            need(len(buf) + 1)
        head, buf = buf.split(b"\r\n", 1)
        return head
    i = 0
    while not os.path.exists(stop):
        key, val = b"mid:%d:%d" % (c, i % 8), value(c, i)
        s.sendall(command(b"SET", key, val))
        if line() != b"+OK":
            raise SystemExit("SET failed")
        s.sendall(command(b"GET", key))
        n = int(line()[1:])
        need(n + 2)
        got, buf = buf[:n], buf[n + 2:]
        if got != val:
            raise SystemExit("GET returned another value")
        with lock:
            counts["set"] += 1
            counts["get"] += 1
        i += 1
        time.sleep(PAUSE + 0.003 * c)     # 5, 8, 11 ms: the connections drift apart
    s.close()

threads = [threading.Thread(target=run, args=(c,)) for c in range(conns)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(counts["set"], counts["get"])
PY
  MID_CLIENT_PID=$!
  PIDS+=("$MID_CLIENT_PID")
}

# --- one scenario ----------------------------------------------------------------------------

NOTES="$TMP/notes"
mkdir -p "$NOTES" "$TMP/stage"
SCENARIO_INDEX=0

# run_scenario NAME FUNCTION LOSS REORDER DUP
run_scenario() {
  local name=$1 fn=$2 loss=$3 reorder=$4 dup=$5 t0=$SECONDS seed v
  seed=$((SEED + SCENARIO_INDEX - 1))
  log "scenario $name (loss $loss, reorder $reorder, dup $dup, delay ${DELAY_MS} ms, seed $seed)"
  fw_start "$seed" "$loss" "$reorder" "$dup"
  start_server "$name"
  calibrate
  if [[ $name == midstream ]]; then
    rm -f "$TMP/midstream.stop"
    admin CONFIG RESETSTAT >/dev/null
    midstream_client
    sleep "$MID_LEAD"
    kill -0 "$MID_CLIENT_PID" 2>/dev/null || die "midstream client ended early"
    capture_start "$name"
    sleep "$MID_RECORD"
    capture_stop
    : >"$TMP/midstream.stop"
    wait "$MID_CLIENT_PID" || die "midstream client failed"
    untrack "$MID_CLIENT_PID"
    truth_json "$TMP/stage/$name.commandstats.json"
    read -r MID_SETS MID_GETS <"$TMP/midstream.out"
    grep -q "\"set\": $MID_SETS\b" "$TMP/stage/$name.commandstats.json" && grep -q "\"get\": $MID_GETS\b" "$TMP/stage/$name.commandstats.json" \
      || die "midstream: client sent $MID_SETS SET / $MID_GETS GET, commandstats $(tr -d '\n ' <"$TMP/stage/$name.commandstats.json")"
  else
    capture_start "$name"
    admin CONFIG RESETSTAT >/dev/null
    "$fn"
    sleep "$SETTLE_SECONDS"
    truth_json "$TMP/stage/$name.commandstats.json"
    capture_stop
  fi
  stop_server
  fw_stop "$NOTES/$name.forwarder"
  for v in client server; do
    mv "$TMP/$name-$v.pcap" "$TMP/stage/"
    packets_tsv "$TMP/stage/$name-$v.pcap" "$TMP/stage/$name-$v.packets.tsv"
    seq_counts "$TMP/stage/$name-$v.packets.tsv" >"$NOTES/$name-$v.seq"
    if [[ $name == midstream ]]; then
      wire_check "$TMP/stage/$name-$v.pcap" --midstream >"$NOTES/$name-$v.wire"
    else
      wire_check "$TMP/stage/$name-$v.pcap" "$TMP/stage/$name.commandstats.json" >"$NOTES/$name-$v.wire" \
        || die "$name ($v vantage): the wire does not match the truth"
    fi
    echo "$(tcpdump -r "$TMP/stage/$name-$v.pcap" 2>/dev/null | wc -l) $(stat -c %s "$TMP/stage/$name-$v.pcap")" >"$NOTES/$name-$v.size"
  done
  echo "$seed $loss $reorder $dup" >"$NOTES/$name.params"
  summarize "$name"
  log "  ($((SECONDS - t0)) s)"
}

summarize() {
  local name=$1 v pkts bytes
  log "  commandstats: $(tr -d '\n ' <"$TMP/stage/$name.commandstats.json")"
  for v in client server; do
    read -r pkts bytes <"$NOTES/$name-$v.size"
    ((bytes <= MAX_PCAP_BYTES)) || log "  WARNING: $name-$v.pcap is $bytes bytes"
    log "  $name-$v.pcap: $bytes bytes, $pkts packets"
    sed 's/^/      /' "$NOTES/$name-$v.seq" "$NOTES/$name-$v.wire" >&2
  done
  sed 's/^/    forwarder /' "$NOTES/$name.forwarder" >&2
}

# --- README ----------------------------------------------------------------------------------

# notes NAME: the per-scenario numbers, as markdown
notes() {
  local name=$1 v pkts bytes rows
  read -r seed loss reorder dup <"$NOTES/$name.params"
  echo "  Forwarder seed $seed; loss $loss, reorder $reorder, dup $dup, delay $DELAY_MS ms. Server's"
  echo "  count of commands: $(tr -d '\n' <"$FIXTURES/$name.commandstats.json" | sed 's/{  */{/; s/  */ /g')."
  echo "  Forwarder counts (frames, all connections):"
  sed 's/^/  - /; s/ released_by_next=.*//' "$NOTES/$name.forwarder" | sed 's/=/ /g'
  for v in client server; do
    read -r pkts bytes <"$NOTES/$name-$v.size"
    rows=$(($(wc -l <"$FIXTURES/$name-$v.packets.tsv") - 1))
    echo "  \`$name-$v.pcap\` ($v vantage): $pkts packets, $rows with payload, $bytes bytes, payload over $(
      awk -F'\t' 'NR == 2 { a = substr($1, 1, 16) } END { printf "%.3f", (substr($1, 1, 16) - a) / 1e6 }' "$FIXTURES/$name-$v.packets.tsv") s."
    sed 's/^/  - /; s/rows=\([0-9]*\) same_seq=\([0-9]*\) below=\([0-9]*\) gap=\([0-9]*\)/\1 rows: \2 same seq again, \3 below the highest seen, \4 beyond it/' "$NOTES/$name-$v.seq"
    sed 's/^/  - /' "$NOTES/$name-$v.wire"
  done
}

fixtures_readme() {
  cat >"$FIXTURES/README.md" <<EOF
# Redis fixtures from real traffic over an impaired link, seen from both ends

Made by \`scripts/capture-redis-impaired.sh\` (run it as root to regenerate; everything here is
overwritten; \`--seed N\` changes the impairment). Redis $REDIS_VERSION (server and
redis-benchmark from Debian), tcpdump $TCPDUMP_VERSION (libpcap $LIBPCAP_VERSION), Python
$PYTHON_VERSION, kernel $KERNEL. Timestamps: nanosecond pcap (magic \`a1b23c4d\`), link type
Ethernet.

## The link

Three network namespaces, all made by the script:

    client ns [cli0 $CLI_IP/24] <-veth-> [mid-c] middle ns [mid-s] <-veth-> [srv0 $SRV_IP/24] server ns

All four veth ends have mtu 1500 and tso, gso, gro, tx and rx checksum offloads off, so every
frame is a real <= 1514-byte Ethernet frame with computed checksums, and TCP cuts messages
at the MSS (1448 payload bytes with timestamps). IPv6 is off and the neighbour entries are
static (no ARP). The kernel has no netem; \`scripts/impair-forwarder.py\` bridges mid-c and
mid-s in the middle namespace through AF_PACKET sockets and, per IPv4 frame, with a seeded
random generator: drops it (loss), sends it twice (dup), or holds it back and sends it right
after the next frame of the same direction, or ${HOLD_MS} ms late if none comes (reorder); every
frame is delayed ${DELAY_MS} ms. Each scenario runs its own forwarder (its seed below); its counts
are per direction over all connections of the scenario, including handshakes and pure ACKs.

## Files

For each scenario \`<name>\`:

- \`<name>-client.pcap\` — capture on cli0 in the client namespace: the client vantage. It
  sees every segment the client sent (retransmissions too, and also the originals the
  forwarder then dropped) and the server's segments as they arrived (after loss, duplication
  and reordering).
- \`<name>-server.pcap\` — capture on srv0 in the server namespace, of the same traffic at the
  same time: the server vantage, the mirror image.
- \`<name>-client.packets.tsv\`, \`<name>-server.packets.tsv\` — tcpdump's own reading of each
  pcap (\`tcpdump -tt -nn -S --nano -r\`), one row per TCP packet with payload, in capture
  order, with a header row: \`ts_ns\` (capture time, ns since the epoch), \`src\` and \`dst\`
  (\`ip:port\`), \`seq\` (absolute TCP sequence number of the first payload byte), \`len\`
  (payload bytes). Same format as \`../redis/\`. Retransmitted and duplicated segments are
  rows of their own.
- \`<name>.commandstats.json\` — truth from the server, shared by both captures:
  \`{"command": calls}\` from \`INFO commandstats\` after \`CONFIG RESETSTAT\`, as in \`../redis/\`.

Both tcpdumps ran at once with \`-s 0 --time-stamp-precision=nano -B 4096\`, filter
\`tcp port <port>\`, no \`--immediate-mode\`; each run was checked for \`0 packets dropped by
kernel\` on both. Both are stamped by the same host clock: a segment's time at the receiving
vantage is later than at the sending one by the forwarder's delay (${DELAY_MS} ms and up).

How the truth is kept exact: each scenario has its own redis-server (\`--save ''\`, no AOF,
\`protected-mode no\`) on a random port of $SRV_IP; the script's own \`CONFIG RESETSTAT\` and
\`INFO\` go over a unix socket, which tcpdump never sees, and their trace in commandstats
(\`config|resetstat\` = 1) is measured on the idle server and subtracted. Every client reads
its last reply before INFO is read, and the script fails on any \`rejected_calls\`. Loss does
not change the count: TCP retransmits, and the server executes every request exactly once.
The script checks this on each capture, independently of tapflow: it reassembles every TCP
stream from its SYN (python3, stdlib), requires no hole and retransmitted bytes equal to the
first copy, parses RESP both ways, and requires the requests per command to equal
commandstats and one reply per request (the per-scenario lines "streams complete" below).
redis-benchmark opens one extra connection at start and sends \`CONFIG GET save\` and
\`CONFIG GET appendonly\` on it: the \`config|get\` = 2 in each benchmark's truth, on the wire too.

## Times on an impaired link

The rule (the project's latency contract: response's first packet minus request's last
packet): bytes count from the moment they became contiguous in the receiver's stream, that
is when the hole before them was filled. Read each direction of each connection of a
capture in capture order and reassemble by sequence number: a segment's time is its own
capture time if everything before it was already there, else the capture time of the
segment that filled the last hole before it. A request's time is the time at which its
last byte became contiguous; a reply's time is when its first byte did. Copies of bytes
already there (retransmissions, duplicates) change nothing: the first copy counts.

Which packets make the holes depends on the vantage: at the server vantage the request
stream (client->server) has them; at the client vantage the reply stream does, while the
client's own stream is in order there (its retransmissions show as repeated seq). So the
same request has different times, and a different latency, in the two captures: by the
link's delay and by where the loss fell. Each capture is read on its own terms.

Counts below, read off the packets.tsv per direction (all connections together): "same seq
again" are rows whose seq was already seen in that flow (a retransmission, or a duplicate
made by the forwarder); "below the highest seen" are rows whose seq is lower than the
highest seq+len seen so far (arrived late: reordered, or a retransmission filling a hole);
"beyond it" are rows whose seq is past it (a hole opened at that moment).

## Scenarios

- \`impaired-plain\` — \`redis-benchmark -c 4 -n $PLAIN_N -t set,get,incr,lpush,lpop\`, no
  pipelining: one request per segment, one request in flight per connection. With a single
  segment in flight per connection and direction, no stream has a hole: loss shows as a
  retransmission (same seq again, late), duplication as a repeated segment, and reordering
  as a segment held up to ${HOLD_MS} ms or sent after a segment of another connection.
$(notes impaired-plain)
- \`impaired-pipelined\` — the same with \`-P 16\` and \`-n $PIPE_N\` (a multiple of 16, so exactly
  $PIPE_N per test): 16 requests per write, so one segment holds many requests and a lost
  segment delays all of them. Here too a batch of 16 is one segment each way, so the
  streams have retransmissions and duplicates but no holes.
$(notes impaired-pipelined)
- \`impaired-large\` — \`redis-benchmark -c 2 -n $LARGE_N -d $LARGE_D -t set,get\`: each SET request
  and each GET reply is $LARGE_D bytes of value, three segments, so segments of one message are
  lost, duplicated and reordered within it.
$(notes impaired-large)
- \`midstream\` — lightly impaired (loss $MID_LOSS, reorder $MID_REORDER, dup $MID_DUP, delay
  $DELAY_MS ms). A python3 client (plain sockets, TCP_NODELAY) holds $MID_CONNS connections, each
  a loop of \`SET mid:<c>:<i % 8> <$MID_VALUE-byte value>\` / \`GET\` of it with a pause of
  5 + 3c ms (c = 0, 1, ...: the connections drift apart).
  It is a slow reader: \`SO_RCVBUF\` $MID_RCVBUF (it advertises a window under 1 KB) and
  replies read $MID_READ bytes at a time, ${MID_READ_MS} ms apart, so each GET reply crosses the link
  in window-sized segments, each after the client's window update, over tens of ms.
  Both connections were established ${MID_LEAD} s before the tcpdumps started; the tcpdumps
  ran ${MID_RECORD} s and were stopped while the client went on, then the client was stopped
  (tcpdump without \`--immediate-mode\` hands packets over in blocks, so the packets of the
  last moments before the stop may be missing: the files end where their last block ended).
  So the captures have no SYN and no FIN, begin and end wherever the traffic was at those
  instants, and may start inside a message (see below: the first payload bytes of each
  stream). The commandstats here count every command of the whole run, including those
  before and after the capture: they are NOT the truth of the capture (the script checked
  them against the client's own count of what it sent). Tests use the packets as truth.
$(notes midstream)

Sizes at generation:

$(cd "$FIXTURES" && for f in *.pcap *.json *.tsv; do printf -- '- `%s` %s bytes\n' "$f" "$(stat -c %s "$f")"; done)
EOF
}

# --- main ------------------------------------------------------------------------------------

T_START=$SECONDS
topology_up
log "link: $NS_CLI cli0 $CLI_IP <-> $NS_MID (forwarder) <-> $NS_SRV srv0 $SRV_IP"

# want NAME: the scenario is to run (all, unless --only). The seed of a scenario is fixed by
# its place in this list, with or without --only.
want() { SCENARIO_INDEX=$((SCENARIO_INDEX + 1)); [[ -z $ONLY || $ONLY == *",$1,"* ]]; }
want impaired-plain && run_scenario impaired-plain scenario_plain "$LOSS" "$REORDER" "$DUP"
want impaired-pipelined && run_scenario impaired-pipelined scenario_pipelined "$LOSS" "$REORDER" "$DUP"
want impaired-large && run_scenario impaired-large scenario_large "$LOSS" "$REORDER" "$DUP"
want midstream && run_scenario midstream - "$MID_LOSS" "$MID_REORDER" "$MID_DUP"

# Truth checks that must hold for the benchmarks.
check_calls() {
  local name=$1 n=$2 cmd got
  shift 2
  [[ -e $TMP/stage/$name.commandstats.json ]] || return 0
  for cmd in "$@"; do
    got=$(sed -n "s/^  \"$cmd\": \([0-9]*\).*/\1/p" "$TMP/stage/$name.commandstats.json")
    [[ $got == "$n" ]] || die "$name: $cmd calls ${got:-0}, expected $n"
  done
}
check_calls impaired-plain "$PLAIN_N" set get incr lpush lpop
check_calls impaired-pipelined "$PIPE_N" set get incr lpush lpop
check_calls impaired-large "$LARGE_N" set get

# Everything was made in the staging directory; move it into the tree only now.
mkdir -p "$FIXTURES"
[[ -n $ONLY ]] || rm -f "$FIXTURES"/*.pcap "$FIXTURES"/*.packets.tsv "$FIXTURES"/*.commandstats.json
mv -f "$TMP/stage"/* "$FIXTURES/"
[[ -n $ONLY ]] || fixtures_readme
chown -R "$(stat -c %u:%g "$ROOT")" "$FIXTURES"
log "done in $((SECONDS - T_START)) s"
ls -l "$FIXTURES" >&2
