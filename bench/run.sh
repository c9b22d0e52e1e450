#!/usr/bin/env bash
# tapflow against tshark and tcpdump, side by side in one run, on the captures of
# bench/generate.sh (made first when missing). Per capture, each tool REPEAT times (default 5):
#   tcpdump          tcpdump -r FILE -w /dev/null                       (the read floor)
#   tshark           tshark -n -r FILE -d <port>,<dissector> >/dev/null (one summary line a packet, what users run)
#   tshark-fields    tshark ... -T fields -e <time, endpoints, the protocol's request/response fields>
#   analyze          tapflow analyze FILE (the decode core: reading, reassembly, decoding, pairing,
#                    fact ids; every fact made, none printed: --slower-than 1000h), ./tapflow's JVM
#                    (with its AppCDS archive when there is one)
#   analyze-nocds    the same without the class-data archive (TAPFLOW_CDS=off)
#   analyze-1t       the same with one engine (--threads 1; the default runs one per CPU, up to 4,
#                    beside the reading thread)
#   analyze-print    every fact made with its id and printed as a text line (to a file), as tshark
#                    prints a line per packet
#   local            tapflow local FILE: the embedded broker, the Kafka Streams processor with
#                    exactly_once_v2, the JDBC sink into the embedded PostgreSQL (fresh --home each
#                    run); pairs/s over the time from the import's start until the last fact was in
#                    the table (tapflow's own line), wall/CPU/RSS of the whole process
# CPU s = user + sys of the process and its children (/usr/bin/time), rss = the peak (the
# largest process's). Prints one table (median wall over the runs, spread = (max-min)/median,
# packets/s, pairs/s, MB/s, CPU s, peak RSS, ratio of packets/s to tshark's and to tcpdump's on
# the same capture) with the machine's load (uptime) before and after; writes it as CSV and a
# PNG chart beside the raw runs in OUT (bench/target/results/<date>/).
#   bench/run.sh [CAPTURE...]        default: every bench/target/captures/*.pcap
# Environment: REPEAT (5), LOCAL_REPEAT (REPEAT), TOOLS ("tcpdump tshark tshark-fields analyze
# analyze-nocds analyze-1t analyze-print local"), JMH=1 also runs bench/decoders.sh and bench/reassembly.sh into OUT.
set -euo pipefail
export LC_ALL=C
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
repeat="${REPEAT:-5}"
local_repeat="${LOCAL_REPEAT:-$repeat}"
tools="${TOOLS:-tcpdump tshark tshark-fields analyze analyze-nocds analyze-1t analyze-print local}"
out="${OUT:-$here/bench/target/results/$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$out"
for tool in tcpdump tshark capinfos; do
  command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool not installed (apt-get install tcpdump tshark)" >&2; exit 2; }
done

captures=("$@")
if [ ${#captures[@]} -eq 0 ]; then
  ls bench/target/captures/*.pcap >/dev/null 2>&1 || bench/generate.sh
  captures=(bench/target/captures/*.pcap)
fi
. bench/classpath.sh # builds bench/jmh (BenchReport)
./tapflow --version >/dev/null # builds the CLI jar (and its class-data archive) when missing or stale

work="$(mktemp -d /tmp/bench-run.XXXXXX)"
trap 'rm -rf "$work"' EXIT
runs="$out/runs.tsv"
: >"$runs"

# the server's port of a capture: the destination port of the first SYN (or UDP datagram)
server_port() {
  tcpdump -nn -r "$1" -c 1 '(tcp[tcpflags] & (tcp-syn|tcp-ack)) == tcp-syn or udp' 2>/dev/null |
    sed -n 's/.* > [0-9.]*\.\([0-9]*\): .*/\1/p'
}
# protocol of a capture, from its name as bench/generate.sh writes them
protocol_of() {
  case "$(basename "$1")" in redis*) echo redis ;; memcached*) echo memcached ;; dns*) echo dns ;; kafka*) echo kafka ;;
    *) echo "bench/run.sh: $1: name it redis*, memcached*, dns* or kafka* (the protocol)" >&2; exit 2 ;; esac
}
tshark_args() { # FILE PROTOCOL PORT [fields]
  local d fields=()
  case "$2" in
    redis) d="-d tcp.port==$3,resp"; fields=(-e resp.bulk_string.value) ;;
    memcached) d="-d tcp.port==$3,memcache"; fields=(-e memcache.command -e memcache.response) ;;
    kafka) d="-d tcp.port==$3,kafka"; fields=(-e kafka.request_key -e kafka.correlation_id) ;;
    dns) d="-d udp.port==$3,dns"; fields=(-e dns.id -e dns.qry.name -e dns.time) ;;
  esac
  echo "-n -r $1 $d"
  if [ "${4:-}" = fields ]; then
    echo "-T fields -e frame.time_epoch -e ip.src -e ip.dst -e tcp.stream -e udp.srcport ${fields[*]}"
  fi
}

# timed NAME FILE RUN COMMAND...: one run, a line of $runs (pairs and e2e filled in by the caller's files)
timed() {
  local name="$1" file="$2" run="$3"; shift 3
  /usr/bin/time -o "$work/time" -f "%e %U %S %M" "$@" >"$work/stdout" 2>"$work/stderr" || {
    echo "bench/run.sh: $name on $file failed:" >&2; tail -20 "$work/stderr" >&2; exit 1; }
  local wall user sys rss pairs e2e=""
  read -r wall user sys rss <"$work/time"
  pairs="$(sed -n 's/^tapflow: \([0-9]*\) facts.*/\1/p' "$work/stderr" | tail -1)"
  if [ "$name" = local ]; then
    e2e="$(sed -n 's/.*all in PostgreSQL \([0-9]*\) ms after it.*/\1/p' "$work/stderr" | awk '{ printf "%.3f", $1 / 1000 }')"
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(basename "$file" .pcap)" "$name" "$run" "$wall" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')" "$rss" "$packets" "${pairs:-0}" "$bytes" "$e2e" >>"$runs"
  [ "${name#analyze}" = "$name" ] || [ -n "$pairs" ] || { echo "no facts line from tapflow analyze:" >&2; cat "$work/stderr" >&2; exit 1; }
}

load_before="$(uptime)"
echo "load before: $load_before" >&2
for file in "${captures[@]}"; do
  proto="$(protocol_of "$file")"
  port="$(server_port "$file")"
  [ -n "$port" ] || { echo "bench/run.sh: $file: no SYN or UDP datagram to tell the server's port" >&2; exit 2; }
  read -r -a tshark_plain <<<"$(tshark_args "$file" "$proto" "$port")"
  read -r -a tshark_fields <<<"$(tshark_args "$file" "$proto" "$port" fields | tr '\n' ' ')"
  packets="$(capinfos -c -M "$file" | sed -n 's/^Number of packets: *//p')"
  bytes="$(stat -c %s "$file")"
  proto_opt=(--protocol "$proto=$port")
  echo "$(basename "$file"): $proto on port $port, $packets packets, $bytes bytes" >&2
  for run in $(seq 1 "$repeat"); do
    for tool in $tools; do
      case "$tool" in
        tcpdump) timed tcpdump "$file" "$run" tcpdump -r "$file" -w /dev/null ;;
        tshark) timed tshark "$file" "$run" tshark "${tshark_plain[@]}" ;;
        tshark-fields) timed tshark-fields "$file" "$run" tshark "${tshark_fields[@]}" ;;
        analyze) timed analyze "$file" "$run" ./tapflow analyze "${proto_opt[@]}" "$file" --slower-than 1000h ;;
        analyze-nocds) TAPFLOW_CDS=off timed analyze-nocds "$file" "$run" ./tapflow analyze "${proto_opt[@]}" "$file" --slower-than 1000h ;;
        analyze-1t) timed analyze-1t "$file" "$run" ./tapflow analyze "${proto_opt[@]}" "$file" --slower-than 1000h --threads 1 ;;
        analyze-print) timed analyze-print "$file" "$run" ./tapflow analyze "${proto_opt[@]}" "$file" ;;
        local)
          [ "$run" -le "$local_repeat" ] || continue
          rm -rf "$work/home"
          timed local "$file" "$run" ./tapflow local --home "$work/home" "${proto_opt[@]}" "$file"
          rm -rf "$work/home" ;;
      esac
    done
  done
done
load_after="$(uptime)"
note="$(nproc) cores; load before:${load_before##*load average:}; after:${load_after##*load average:}; REPEAT=$repeat"
java -cp "$cp" dev.tapflow.bench.BenchReport "$runs" "$out/table.csv" "$out/chart.png" "$note" | tee "$out/table.txt"
echo "runs: $runs; table: $out/table.txt, $out/table.csv; chart: $out/chart.png" >&2
if [ "${JMH:-0}" = 1 ]; then
  bench/decoders.sh | tee "$out/decoders.txt"
  bench/reassembly.sh | tee "$out/reassembly.txt"
fi
