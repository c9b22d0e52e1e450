#!/usr/bin/env bash
# Soak: `tapflow local -i lo` (live agent, embedded broker, processor and sink in one JVM)
# under a steady redis-benchmark load for MINUTES, sampled every 30 s: the JVM's RSS and
# heap after a full GC (what is really kept), facts stored (read with `tapflow sql` through the
# database the running `local` owns), the agent's kernel and backlog drops. Memory is flat
# when the heap kept after GC stops growing while facts keep coming.
# At the end: facts per command against Redis's INFO commandstats.
#   bench/soak.sh [MINUTES [CLIENTS]]     defaults: 10 2     (needs root: live capture)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
minutes="${1:-10}"
clients="${2:-2}"
work="$(mktemp -d /tmp/tapflow-soak.XXXXXX)"
[ "$(id -u)" -eq 0 ] || { echo "bench/soak.sh: live capture needs root" >&2; exit 2; }
./tapflow --version >/dev/null
jar="$here/cli/target/tapflow.jar"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

java -Xmx1g -jar "$jar" local -i lo --protocol "redis=$port" --agent-id soak --home "$work/home" \
  --stats-interval 30s >"$work/local.out" 2>"$work/local.err" &
local_pid=$!
pids+=($local_pid)
for _ in $(seq 1 900); do grep -q "tapflow: capturing on" "$work/local.err" 2>/dev/null && break; sleep 0.2; done
grep -q "tapflow: capturing on" "$work/local.err" || { cat "$work/local.err" >&2; exit 1; }
redis-cli -p "$port" config resetstat >/dev/null

# steady load: CLIENTS connections of GET/SET, one request in flight each, for the whole soak
( end=$(( $(date +%s) + minutes * 60 ))
  while [ "$(date +%s)" -lt "$end" ]; do
    redis-benchmark -p "$port" -c "$clients" -n 200000 -t get,set -q >/dev/null 2>&1 || true
  done ) &
load_pid=$!
pids+=($load_pid)

sql() { java -XX:TieredStopAtLevel=1 -jar "$jar" sql --home "$work/home" "$1" 2>/dev/null | sed -n 3p | tr -d ' '; }
printf "%6s %8s %14s %10s %12s %12s\n" "min" "rss MB" "heap kept MB" "facts" "kernel drops" "backlog drops"
t0=$(date +%s)
while kill -0 "$load_pid" 2>/dev/null; do
  sleep 30
  rss=$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$local_pid/status")
  jcmd "$local_pid" GC.run >/dev/null 2>&1 || true
  heap=$(jcmd "$local_pid" GC.heap_info 2>/dev/null | awk '/used/ { for (i = 1; i <= NF; i++) if ($i == "used") { v = $(i + 1); sub("K", "", v); print v / 1024; exit } }')
  facts=$(sql "SELECT count(*) FROM latency_facts")
  drops=$(grep "capture so far" "$work/local.err" | tail -1 | sed -n 's/.*kernel_drops=\([0-9]*\).*backlog_drop_segments=\([0-9]*\).*/\1 \2/p')
  printf "%6.1f %8s %14.1f %10s %12s %12s\n" "$(echo "($(date +%s) - $t0) / 60" | bc -l)" "$rss" "${heap:-0}" \
    "${facts:-?}" "${drops% *}" "${drops#* }"
done
sleep 2 # the last replies
truth=$(redis-cli -p "$port" info commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\).*/\1 \2/p' | sort)
kill -TERM "$local_pid"
wait "$local_pid" || true
java -XX:TieredStopAtLevel=1 -jar "$jar" sql --home "$work/home" --limit 100 \
  "SELECT lower(command) AS command, count(*) AS facts FROM latency_facts GROUP BY 1 ORDER BY 1"
echo "Redis INFO commandstats:"
echo "$truth"
grep "capture final" "$work/local.err" || true
