#!/usr/bin/env bash
# capture-dns.sh — a fixture capture of real DNS traffic over UDP and TCP, with truth.
#
#   scripts/capture-dns.sh     -> stream-processor/src/test/resources/pcap/dns/
#                                 (dns.pcap, dns.dig.txt, dns.queries.tsv, dns.packets.tsv,
#                                  dns.dnsmasq-queries.txt, README.md)
#
# Needs root (network namespace, tcpdump), dnsmasq (dnsmasq-base), dig (dnsutils), tcpdump,
# python3, iproute2; ethtool if present.
#
# What happens, in a fresh network namespace whose lo has MTU 1500 (offloads off):
#   - dnsmasq serves a small zone of its own (tapflow.test: A, AAAA, MX, TXT and a 16-record
#     TXT of ~3.9 KB) on 127.0.0.1:53, no upstream: names it does not have are NXDOMAIN.
#   - dig asks it questions over UDP and TCP (one dig per question, except two questions on one
#     kept-open TCP connection); the large TXT over UDP with +bufsize=4096 (the answer is
#     fragmented by IP) and with +bufsize=512 +ignore (a truncated answer, TC set); and one
#     question to a port nobody listens on (never answered).
#   - tcpdump records everything on lo (UDP, including non-first IP fragments, and TCP).
# Truth: dig's own output per question (dns.dig.txt, verbatim, and dns.queries.tsv, one row
# per question: id, rcode, answer count, query time), dnsmasq's log of the queries it received,
# and tcpdump's reading of every packet (dns.packets.tsv). See the README this script writes.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
OUT="$ROOT/stream-processor/src/test/resources/pcap/dns"
NAME=dns
DEAD_PORT=5399        # nothing listens here: the question sent to it is never answered

die() { echo "capture-dns: error: $*" >&2; exit 1; }
log() { echo "capture-dns: $*" >&2; }
# shellcheck source=lib/capture-common.sh
. "$ROOT/scripts/lib/capture-common.sh"

if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  case ${1:-} in -h|--help) sed -n '2,21p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;; '') ;; *) die "no arguments expected" ;; esac
  for c in dnsmasq dig tcpdump python3 ip; do
    command -v "$c" >/dev/null || die "missing $c (apt-get install dnsmasq-base dnsutils tcpdump python3 iproute2)"
  done
  in_namespace "$SELF" tapflow-dns
  exit 0
fi

# ---- inside the namespace ----
TMP=$(mktemp -d /tmp/tapflow-dns.XXXXXX)
chmod 755 "$TMP"   # dnsmasq reads its hosts file after dropping privileges
TCPDUMP_PID=
cleanup() {
  [[ -z $TCPDUMP_PID ]] || kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  [[ ! -s $TMP/dnsmasq.pid ]] || kill "$(cat "$TMP/dnsmasq.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# --- the zone ------------------------------------------------------------------------------
cat >"$TMP/hosts" <<'EOF'
192.0.2.10 www.tapflow.test
2001:db8::10 www.tapflow.test
192.0.2.25 mail.tapflow.test
EOF
chmod 644 "$TMP/hosts"
{
  echo "port=53"
  echo "listen-address=127.0.0.1"
  echo "bind-interfaces"
  echo "no-resolv"
  echo "no-hosts"
  echo "no-poll"
  echo "local=/tapflow.test/"            # answer for the zone alone: unknown names are NXDOMAIN
  echo "addn-hosts=$TMP/hosts"
  echo "mx-host=tapflow.test,mail.tapflow.test,10"
  echo "txt-record=txt.tapflow.test,\"v=tapflow fixture\""
  # 16 TXT records of 228 bytes each: a ~3.9 KB answer, fragmented over UDP at MTU 1500
  for i in $(seq -w 0 15); do
    printf 'txt-record=big.tapflow.test,"%s"\n' "$(printf "tapflow-big-txt-$i-%.0s" $(seq 12))"
  done
  echo "edns-packet-max=4096"            # dnsmasq 2.90 caps UDP answers at 1232 bytes otherwise
  echo "log-queries=extra"
  echo "log-facility=$TMP/dnsmasq.log"
} >"$TMP/dnsmasq.conf"
DNSMASQ_VERSION=$(dnsmasq --version | head -1 | sed 's/ *Copyright.*//')
DIG_VERSION=$(dig -v 2>&1 | head -1)
dnsmasq -C "$TMP/dnsmasq.conf" --pid-file="$TMP/dnsmasq.pid"
for ((i = 0; i < 100; i++)); do
  dig +short +tries=1 +timeout=1 @127.0.0.1 www.tapflow.test A >/dev/null 2>&1 && break
  sleep 0.05
done
: >"$TMP/dnsmasq.log"   # the readiness probe above is not part of the capture or its truth

# --- capture -------------------------------------------------------------------------------
# 'udp' matches non-first IP fragments too (no UDP header there, but the IP protocol is UDP)
tcpdump_start "$TMP/$NAME.pcap" 'udp or tcp'

# Every dig prints the query it sends (+qr) and the answer it gets; its output is the truth.
ask() { echo "=== dig $*" >>"$TMP/$NAME.dig.txt"; dig +qr "$@" >>"$TMP/$NAME.dig.txt" 2>&1 || true; }
: >"$TMP/$NAME.dig.txt"
S=@127.0.0.1
ask $S www.tapflow.test A
ask $S www.tapflow.test AAAA
ask $S txt.tapflow.test TXT
ask $S tapflow.test MX
ask $S nothing.tapflow.test A
ask $S +bufsize=4096 big.tapflow.test TXT
ask $S +bufsize=512 +ignore big.tapflow.test TXT
ask $S +tcp www.tapflow.test A
ask $S +tcp www.tapflow.test AAAA
ask $S +tcp txt.tapflow.test TXT
ask $S +tcp tapflow.test MX
ask $S +tcp nothing.tapflow.test A
ask $S +tcp big.tapflow.test TXT
ask $S +tcp +keepopen www.tapflow.test A tapflow.test MX
ask $S -p "$DEAD_PORT" +tries=1 +timeout=1 www.tapflow.test A

tcpdump_stop
kill "$(cat "$TMP/dnsmasq.pid")"; sleep 0.2
grep -E ' query\[' "$TMP/dnsmasq.log" | sed 's/^.*dnsmasq\[[0-9]*\]: //' >"$TMP/$NAME.dnsmasq-queries.txt"

# --- truth files ---------------------------------------------------------------------------
# dns.queries.tsv: one row per question dig sent, from dig's output.
python3 - "$TMP/$NAME.dig.txt" "$TMP/$NAME.queries.tsv" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rows = []
for run in text.split("=== dig ")[1:]:
    args = run.splitlines()[0]
    transport = "tcp" if "+tcp" in args.split() else "udp"
    port = re.search(r"-p (\d+)", args)
    port = port.group(1) if port else "53"
    # each question: ";; Sending:" block, then its answer (";; Got answer:") or an error
    for block in run.split(";; Sending:")[1:]:
        sent, _, got = block.partition(";; Got answer:")
        qid = re.search(r"id: (\d+)", sent).group(1)
        q = re.search(r"QUESTION SECTION:\n;(\S+)\s+IN\s+(\S+)", sent)
        qname, qtype = q.group(1).rstrip("."), q.group(2)
        if got:
            h = re.search(r"status: (\w+), id: (\d+)", got)
            flags = re.search(r";; flags: ([^;]*);.*ANSWER: (\d+)", got)
            qtime = re.search(r"Query time: (\d+) msec", got).group(1)
            server = re.search(r"SERVER: \S+ \((UDP|TCP)\)", got).group(1).lower()
            if h.group(2) != qid or server != transport:
                sys.exit("dig output: answer %s/%s for query %s/%s" % (h.group(2), server, qid, transport))
            rows.append((transport, port, qid, qname, qtype, h.group(1), flags.group(2),
                         flags.group(1).strip().replace(" ", ","), qtime))
        else:
            rows.append((transport, port, qid, qname, qtype, "-", "-", "-", "-"))
ids = [r[2] for r in rows]
if len(set(ids)) != len(ids):
    sys.exit("two questions got the same id by chance: run again")
with open(sys.argv[2], "w") as f:
    f.write("transport\tserver_port\tid\tqname\tqtype\trcode\tanswers\tflags\tquery_time_ms\n")
    for r in rows:
        f.write("\t".join(r) + "\n")
PY

# dns.packets.tsv: tcpdump's reading of every packet (-v: IP id and fragment offset)
packets_tsv "$TMP/$NAME.pcap" "$TMP/$NAME.packets.tsv"

frags=$(awk -F'\t' 'NR > 1 && ($6 != 0 || $7 == 1)' "$TMP/$NAME.packets.tsv" | wc -l)
((frags > 1)) || die "no IP fragments in the capture (is the MTU 1500?)"
[[ $(awk -F'\t' 'NR > 1 && $6 == "-"' "$TMP/$NAME.queries.tsv" | wc -l) == 1 ]] || die "expected exactly one unanswered question"
grep -q ',tc' "$TMP/$NAME.queries.tsv" || die "expected a truncated (tc) answer"

cat >"$TMP/README.md" <<EOF
# DNS fixture from real traffic

Made by \`scripts/capture-dns.sh\` (run it as root to regenerate; everything here is
overwritten). $DNSMASQ_VERSION serving its own zone, $DIG_VERSION asking,
$(tcpdump --version 2>&1 | head -1) capturing, on: $TAPFLOW_CAPTURE_PATH.
Timestamps: nanosecond pcap (magic \`a1b23c4d\`), link type Ethernet (Linux loopback).

dnsmasq listened on 127.0.0.1:53 with no upstream (\`no-resolv\`, \`local=/tapflow.test/\`):
\`www.tapflow.test\` A 192.0.2.10 and AAAA 2001:db8::10, \`tapflow.test\` MX 10
\`mail.tapflow.test\`, \`txt.tapflow.test\` TXT, \`big.tapflow.test\` 16 TXT records (a 3.9 KB
answer), \`edns-packet-max=4096\`; any other name in the zone is NXDOMAIN.

## Questions (in this order; one \`dig +qr\` each)

UDP: A, AAAA, TXT, MX, A of a missing name (NXDOMAIN), the large TXT with \`+bufsize=4096\`
(its answer is IP-fragmented: 3 fragments), the large TXT with \`+bufsize=512 +ignore\` (a
truncated answer: TC set, 1 record, dig does not retry over TCP). TCP (\`+tcp\`): A, AAAA, TXT,
MX, NXDOMAIN, the large TXT (several segments), then A and MX on one connection
(\`+keepopen\`). Last, A over UDP to port $DEAD_PORT where nothing listens (the kernel answers
with ICMP port unreachable, which is not DNS): never answered.

## Files

- \`dns.pcap\` — the capture (tcpdump \`-s 0 --time-stamp-precision=nano\`, filter \`udp or tcp\`, 0 dropped).
- \`dns.dig.txt\` — what dig printed, verbatim, each run after a line \`=== dig <arguments>\`.
- \`dns.queries.tsv\` — one row per question, read off dig's output: \`transport\`, \`server_port\`,
  \`id\`, \`qname\`, \`qtype\`, \`rcode\` (dig's status), \`answers\` (ANSWER count), \`flags\`
  (the answer's header flags, comma-separated: \`tc\` = truncated), \`query_time_ms\` (dig's own
  whole-millisecond timing, from a coarse clock: in steps of a kernel tick); \`-\` where no answer came.
- \`dns.dnsmasq-queries.txt\` — the \`query[TYPE] name from addr\` lines of dnsmasq's log: the server's own
  record of each question it received.
- \`dns.packets.tsv\` — tcpdump's reading (\`tcpdump -tt -nn -v --nano -r\`), one row per packet:
  \`ts_ns\`, \`proto\`, \`src\`, \`dst\` (\`ip:port\`; a bare address for a non-first fragment),
  \`ip_id\`, \`frag_offset\`, \`more_fragments\`, \`seq\` (TCP, as tcpdump prints it: relative, 1 is the
  first byte after the SYN; else \`-\`),
  \`len\` (TCP payload, or IP payload for UDP), \`dns_id\` and \`qr\` (\`q\`/\`r\`) where tcpdump
  decoded a DNS message starting in the packet.

A fact's latency must equal the capture time of the answer's first packet minus that of the
question's last packet, both read here. An IP-fragmented answer is readable, and is one
datagram, when its last fragment arrived: that fragment's time is the answer's time.

Sizes at generation:

$(sizes "$TMP"/$NAME.*)
EOF

chown "$(stat -c %u:%g "$ROOT")" "$TMP"/$NAME.* "$TMP/README.md"
mkdir -p "$OUT"
mv -f "$TMP"/$NAME.pcap "$TMP"/$NAME.dig.txt "$TMP"/$NAME.queries.tsv "$TMP"/$NAME.packets.tsv \
  "$TMP"/$NAME.dnsmasq-queries.txt "$TMP/README.md" "$OUT/"
log "$OUT/$NAME.pcap: $(stat -c %s "$OUT/$NAME.pcap") bytes, $(($(wc -l <"$OUT/$NAME.packets.tsv") - 1)) packets ($frags fragments), $(($(wc -l <"$OUT/$NAME.queries.tsv") - 1)) questions"
