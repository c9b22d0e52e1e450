#!/usr/bin/env bash
# capture-udp-fragments.sh — a fixture of real IP fragments: large UDP datagrams over IPv4 and
# IPv6 loopback with a 1500-byte MTU, so the kernel fragments them, captured by tcpdump.
#
#   scripts/capture-udp-fragments.sh     -> capture-producer/src/test/resources/pcap/udp-fragments.pcap
#                                           and udp-fragments.truth.tsv beside it
#
# Needs root (network namespace, tcpdump), python3, tcpdump, iproute2.
#
# How truth is made: one python3 process binds a receiver on 127.0.0.1 and on ::1, and sends
# each datagram from its own sender socket (a fixed source port per datagram). The receiver
# must get every datagram whole, with the bytes sent (the kernel reassembled it); only then is
# the datagram written to the truth file: family, source and destination port, size in bytes,
# SHA-256 of the payload. The payload is recognisable text: "tapflow udp-fragments #<n> <size>
# bytes|" repeated and cut to size. One IPv6 datagram carries a hop-by-hop options header
# (IPV6_HOPOPTS), so its fragment header follows another extension header; one small datagram
# per family is not fragmented at all.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
OUT="$ROOT/capture-producer/src/test/resources/pcap"
NAME=udp-fragments
SETTLE_SECONDS=1   # tcpdump without --immediate-mode delivers in blocks: wait before stopping it

die() { echo "capture-udp-fragments: error: $*" >&2; exit 1; }
log() { echo "capture-udp-fragments: $*" >&2; }

if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  case ${1:-} in -h|--help) sed -n '2,17p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;; '') ;; *) die "no arguments expected" ;; esac
  ((EUID == 0)) || die "run as root (tcpdump, network namespaces)"
  for c in python3 tcpdump ip; do
    command -v "$c" >/dev/null || die "missing $c (apt-get install python3 tcpdump iproute2)"
  done
  NS="tapflow-frag-$$"
  trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
  ip netns add "$NS" || die "cannot create a network namespace"
  # A fresh namespace: nothing else on its loopback. UDP is fragmented by IP at the MTU
  # whatever the offload settings (no UDP segmentation offload unless a socket asks for it).
  ip netns exec "$NS" ip link set lo up mtu 1500
  TAPFLOW_CAPTURE_INNER=1 ip netns exec "$NS" "$SELF"
  exit 0
fi

# ---- inside the namespace ----
TMP=$(mktemp -d /tmp/tapflow-frag.XXXXXX)
TCPDUMP_PID=
cleanup() {
  [[ -z $TCPDUMP_PID ]] || kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

: >"$TMP/tcpdump.err"
tcpdump -i lo -w "$TMP/$NAME.pcap" -s 0 --time-stamp-precision=nano -B 4096 'ip proto 17 or ip6' 2>"$TMP/tcpdump.err" &
TCPDUMP_PID=$!
for ((i = 0; i < 200; i++)); do
  grep -q 'listening on' "$TMP/tcpdump.err" && break
  kill -0 "$TCPDUMP_PID" 2>/dev/null || break
  sleep 0.02
done
grep -q 'listening on' "$TMP/tcpdump.err" || { cat "$TMP/tcpdump.err" >&2; die "tcpdump did not start"; }

python3 - "$TMP/$NAME.truth.tsv" <<'PY'
import hashlib, socket, sys

# (family, size, hop-by-hop header before the fragment header)
DATAGRAMS = [
    (socket.AF_INET, 4000, False),
    (socket.AF_INET, 9000, False),
    (socket.AF_INET, 100, False),    # not fragmented
    (socket.AF_INET6, 4000, False),
    (socket.AF_INET6, 9000, False),
    (socket.AF_INET6, 3000, True),   # hop-by-hop options, then the fragment header
    (socket.AF_INET6, 100, False),   # not fragmented
]
RECEIVER_PORT = 40000
FIRST_SENDER_PORT = 40001
# hop-by-hop options header: next header (the kernel fills it), length 0 (8 bytes), PadN of 4
HOPOPTS = bytes([0, 0, 1, 4, 0, 0, 0, 0])

def payload(n, size):
    unit = b"tapflow udp-fragments #%d %d bytes|" % (n, size)
    return (unit * (size // len(unit) + 1))[:size]

loopback = {socket.AF_INET: "127.0.0.1", socket.AF_INET6: "::1"}
receivers = {}
for fam, host in loopback.items():
    r = socket.socket(fam, socket.SOCK_DGRAM)
    r.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    r.bind((host, RECEIVER_PORT))
    r.settimeout(5)
    receivers[fam] = r

rows = []
for n, (fam, size, hop) in enumerate(DATAGRAMS, 1):
    data = payload(n, size)
    s = socket.socket(fam, socket.SOCK_DGRAM)
    sport = FIRST_SENDER_PORT + n - 1
    s.bind((loopback[fam], sport))
    if hop:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_HOPOPTS, HOPOPTS)
    s.sendto(data, (loopback[fam], RECEIVER_PORT))
    got, src = receivers[fam].recvfrom(65536)
    if got != data or src[1] != sport:
        sys.exit("datagram %d: received %d bytes from port %d, sent %d from %d" % (n, len(got), src[1], size, sport))
    s.close()
    rows.append("%s\t%d\t%d\t%d\t%s\t%s" % ("ipv4" if fam == socket.AF_INET else "ipv6", sport, RECEIVER_PORT,
                                          size, "hopopts" if hop else "-", hashlib.sha256(data).hexdigest()))

with open(sys.argv[1], "w") as f:
    f.write("# made by scripts/capture-udp-fragments.sh; each datagram was received whole by the kernel\n")
    f.write("# payload: b'tapflow udp-fragments #<n> <bytes> bytes|' repeated and cut to <bytes>; n is the row number\n")
    f.write("family\tsrc_port\tdst_port\tbytes\text_headers\tsha256\n")
    f.write("\n".join(rows) + "\n")
PY

sleep "$SETTLE_SECONDS"
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true
TCPDUMP_PID=
dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$TMP/tcpdump.err")
[[ $dropped == 0 ]] || { cat "$TMP/tcpdump.err" >&2; die "tcpdump: '${dropped:-?}' packets dropped by kernel"; }

frags=$(tcpdump -nn -v -r "$TMP/$NAME.pcap" 2>/dev/null | grep -c -E 'flags \[\+\]|offset [1-9]|frag \(' || true)
((frags > 0)) || die "no IP fragments in the capture (is the MTU 1500?)"
chown "$(stat -c %u:%g "$ROOT")" "$TMP/$NAME.pcap" "$TMP/$NAME.truth.tsv"
mkdir -p "$OUT"
mv -f "$TMP/$NAME.pcap" "$TMP/$NAME.truth.tsv" "$OUT/"
log "$OUT/$NAME.pcap: $(stat -c %s "$OUT/$NAME.pcap") bytes, $(tcpdump -r "$OUT/$NAME.pcap" 2>/dev/null | wc -l) packets ($frags lines about fragments); kernel $(uname -r), $(tcpdump --version 2>&1 | head -1)"
