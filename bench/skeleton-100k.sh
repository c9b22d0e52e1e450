#!/usr/bin/env bash
# The walking skeleton's figures: how long `tapflow analyze` and `tapflow local` take on a
# capture of ~100k Redis requests (redis-benchmark, plain and -P 16), made on the spot by
# scripts/capture-redis.sh (not committed). Prints wall/CPU/RSS per run and the pairs/s.
#   bench/skeleton-100k.sh [REQUESTS] [WORKDIR]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-100000}"
work="${2:-/tmp/tapflow-bench}"
mkdir -p "$work"
if [ ! -f "$work/benchmark-plain.pcap" ]; then
  "$here/scripts/capture-redis.sh" --bench "$n" "$work"
fi
"$here/tapflow" --version >/dev/null   # builds the jar if needed
jar="$here/cli/target/tapflow.jar"


printf '%-34s %8s %8s %8s %9s %10s\n' run wall_s user_s sys_s rss_mb pairs/s
for kind in plain pipelined; do
  f="$work/benchmark-$kind.pcap"
  pairs=$(java -jar "$jar" analyze "$f" --format jsonl 2>/dev/null | wc -l)
  /usr/bin/time -o "$work/time.txt" -f "%e %U %S %M" java -jar "$jar" analyze "$f" --slower-than 1000h >/dev/null 2>&1
  read -r wall user sys rss < "$work/time.txt"
  printf '%-34s %8s %8s %8s %9d %10.0f\n' "analyze $kind ($pairs pairs)" "$wall" "$user" "$sys" $((rss / 1024)) "$(awk "BEGIN{print $pairs / $wall}")"
  rm -rf "$work/home"
  /usr/bin/time -o "$work/time.txt" -f "%e %U %S %M" java -jar "$jar" local --home "$work/home" "$f" >/dev/null 2>"$work/local-$kind.err"
  read -r wall user sys rss < "$work/time.txt"
  printf '%-34s %8s %8s %8s %9d %10.0f\n' "local $kind (first start)" "$wall" "$user" "$sys" $((rss / 1024)) "$(awk "BEGIN{print $pairs / $wall}")"
  grep 'facts:' "$work/local-$kind.err" | sed 's/^/    /'
done
