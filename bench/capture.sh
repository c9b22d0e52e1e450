#!/usr/bin/env bash
# The live agent's cost against tcpdump's, on the same redis-benchmark load on loopback:
#   CPU per captured packet, two ways: of the capturing process only (all its threads, from
#   its schedstat), and of the whole machine beyond the same load without any capture (the
#   kernel's share of capturing included: copying packets into the ring, running the filter);
#   counted from just before the load starts to just after it ends, after an unmeasured
#   warm-up load of a quarter of the size (the JIT compiles the agent's hot path; an agent
#   runs for days). Also packets per second, kernel drops, and peak RSS (VmHWM).
# Captures compared, each alone on the same load:
#   tcpdump        tcpdump -i lo -w /dev/null (libpcap's own cost: the yardstick)
#   agent-dry      tapflow capture --dry-run: capture, decode, batch, Avro-encode; no Kafka
#   agent-lz4      tapflow capture to a broker in another process (the default, lz4)
#   agent-zstd     the same with compression.type=zstd (--kafka-config)
# Loads: redis-benchmark GET/SET with C clients, one request per packet each way (-P 1), and
# the same pipelined (-P 16: fewer, larger packets).
# The agent runs with the JVM options of deploy/systemd/tapflow-capture.service (TAPFLOW_AGENT_JAVA_OPTS
# overrides them; CAPTURES="tcpdump agent-lz4" and ONLY_UNPIPELINED=1 run a part). Needs root (live capture), redis-server, redis-benchmark and tcpdump.
#   bench/capture.sh [REQUESTS [CLIENTS [WORKDIR]]]     defaults: 400000 50
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
requests="${1:-400000}"
clients="${2:-50}"
work="${3:-$(mktemp -d /tmp/tapflow-capture-bench.XXXXXX)}"
mkdir -p "$work"
agent_opts="${TAPFLOW_AGENT_JAVA_OPTS:-$(sed -n 's/^Environment=TAPFLOW_JAVA_OPTS=//p' deploy/systemd/tapflow-capture.service | tr -d '"')}"

[ "$(id -u)" -eq 0 ] || { echo "bench/capture.sh: live capture needs root" >&2; exit 2; }
for tool in redis-server redis-benchmark tcpdump; do
  command -v "$tool" >/dev/null || { echo "bench/capture.sh: $tool not installed" >&2; exit 2; }
done

. bench/classpath.sh
./tapflow --version >/dev/null # builds cli/target/tapflow.jar when missing or stale
jar="$here/cli/target/tapflow.jar"
hz="$(getconf CLK_TCK)"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  exec 7>&- 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# on-CPU time of each thread of a process, ns ("tid ns" lines; schedstat: exact, where stat's
# ticks are 10 ms); cpu_delta BEFORE AFTER: what the threads used in between (threads started
# meanwhile count whole; a thread that ended meanwhile loses its last part, so never negative)
cpu_snapshot() { for t in /proc/"$1"/task/*; do echo "${t##*/} $(cut -d' ' -f1 "$t/schedstat" 2>/dev/null)"; done; }
cpu_delta() { awk 'NR == FNR { before[$1] = $2; next } { s += $2 - ($1 in before ? before[$1] : 0) }
  END { printf "%.0f", s }' "$1" "$2"; }
# busy time of the whole machine, ticks: user nice system irq softirq steal (what the host pays,
# the kernel's share of capturing included: copying packets into the capture ring, running BPF)
# bytes the broker holds for the segments topic (compressed as the producer sent them)
topic_bytes() { find "$work/kafka" -path '*tapflow.segments.v1-*' -name '*.log' -printf '%s\n' 2>/dev/null |
  awk '{ s += $1 } END { printf "%.0f", s }'; }
host_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
peak_rss_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
await_line() { # FILE PATTERN SECONDS
  for _ in $(seq 1 $(( $3 * 10 ))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "bench/capture.sh: timed out waiting for '$2' in $1:" >&2; cat "$1" >&2; exit 1
}

port="$(free_port)"
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# the broker: a process of its own, alive while fd 7 stays open
mkfifo "$work/broker.in"
java -cp "$cp" dev.tapflow.bench.StandaloneBroker "$work" 2 <"$work/broker.in" >"$work/broker.log" 2>&1 &
pids+=($!)
exec 7>"$work/broker.in"
for _ in $(seq 1 600); do [ -s "$work/bootstrap" ] && break; sleep 0.1; done
[ -s "$work/bootstrap" ] || { echo "broker did not start:" >&2; cat "$work/broker.log" >&2; exit 1; }
bootstrap="$(cat "$work/bootstrap")"
echo "compression.type=zstd" >"$work/zstd.properties"

results="$work/results.tsv"
: >"$results"

# packets captured so far (the warm-up's), to count only the measured load's
packets_so_far() { # NAME PID LOG
  case "$1" in
    none) echo 0 ;;
    tcpdump) kill -USR1 "$2"; sleep 0.3 # "tcpdump: N packets captured, ..."
      sed -n 's/^tcpdump: \([0-9]*\) packets captured.*/\1/p' "$3" | tail -1 ;;
    *) sed -n 's/.*capture so far packets=\([0-9]*\) .*/\1/p' "$3" | tail -1 ;;
  esac
}

# run NAME LOAD-ARGS...: starts the capture NAME, runs the load, stops it, appends a result row
run() {
  local name="$1"; shift
  local log="$work/$name.log" pid
  case "$name" in
    none)
      sleep 3600 & pid=$! ;;
    tcpdump)
      tcpdump -i lo -n -s 262144 -B 8192 -w /dev/null "tcp port $port" >"$log" 2>&1 &
      pid=$!; await_line "$log" "listening on" 20 ;;
    agent-*)
      local extra=()
      case "$name" in
        agent-dry) extra=(--dry-run) ;;
        agent-lz4) extra=(--bootstrap-servers "$bootstrap") ;;
        agent-zstd) extra=(--bootstrap-servers "$bootstrap" --kafka-config "$work/zstd.properties") ;;
      esac
      # shellcheck disable=SC2086
      MALLOC_ARENA_MAX=2 java $agent_opts -jar "$jar" capture -i lo --port "$port" --agent-id bench --stats-interval 1s \
        "${extra[@]}" >"$log" 2>&1 &
      pid=$!; await_line "$log" "tapflow: capturing on" 60 ;;
  esac
  # warm up (the JIT compiles the hot path; an agent runs for days): WARMUP_PERCENT (25) % of the load, unmeasured
  redis-benchmark -p "$port" -n "$(( requests * ${WARMUP_PERCENT:-25} / 100 ))" -c "$clients" -t get,set -q "$@" >/dev/null 2>&1
  sleep 1.5 # the agent reports every second: one report after the warm-up's last packet
  local c0 t0 c1 t1 h0 h1 rss k0 k1 p0
  p0="$(packets_so_far "$name" "$pid" "$log")"
  k0="$(topic_bytes)"
  cpu_snapshot "$pid" >"$work/cpu0"; h0="$(host_ticks)"; t0="$(date +%s.%N)"
  redis-benchmark -p "$port" -n "$requests" -c "$clients" -t get,set -q "$@" >"$work/load.out" 2>&1
  t1="$(date +%s.%N)"; h1="$(host_ticks)"; cpu_snapshot "$pid" >"$work/cpu1"
  c0=0; c1="$(cpu_delta "$work/cpu0" "$work/cpu1")"
  rss="$(peak_rss_kb "$pid")"
  kill -TERM "$pid" # (a background job of a script ignores SIGINT)
  wait "$pid" || true
  k1="$(topic_bytes)"
  local packets drops
  if [ "$name" = none ]; then
    packets="$(awk -v n="$requests" 'BEGIN { print 4 * n }')" # no capture: nominal, for the host baseline
    drops=0
  elif [ "$name" = tcpdump ]; then
    packets="$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$log")"
    drops="$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$log")"
  else
    packets="$(sed -n 's/.*capture final packets=\([0-9]*\) .*/\1/p' "$log")"
    drops="$(sed -n 's/.*capture final .* kernel_drops=\([0-9]*\) .*/\1/p' "$log")"
  fi
  [ -n "$packets" ] && [ -n "$p0" ] && [ "$packets" -gt "$p0" ] || { echo "no packet count from $name:" >&2; cat "$log" >&2; exit 1; }
  packets=$(( packets - p0 ))
  local rps
  rps="$(tr '\r' '\n' <"$work/load.out" | awk '/requests per second/ { s += $2; n++ } END { printf "%.0f", n ? s / n : 0 }')"
  awk -v n="$name" -v load="$*" -v p="$packets" -v d="${drops:-0}" -v c0="$c0" -v c1="$c1" -v hz="$hz" \
      -v h0="$h0" -v h1="$h1" -v t0="$t0" -v t1="$t1" -v rss="$rss" -v rps="$rps" -v kb="$(( k1 - k0 ))" 'BEGIN {
    cpu = (c1 - c0) / 1e9; wall = t1 - t0; host = (h1 - h0) / hz
    printf "%s\t%s\t%d\t%d\t%.3f\t%.0f\t%.3f\t%.1f\t%d\t%.2f\t%.3f\t%.1f\n", n, load == "" ? "-P 1" : load, p, d, cpu,
      p / wall, cpu / p * 1e6, rss / 1024, rps, wall, host, kb / p
  }' >>"$results"
}

for load in "" "-P 16"; do
  [ -n "${ONLY_UNPIPELINED:-}" ] && [ -n "$load" ] && continue
  for name in ${CAPTURES:-none tcpdump agent-dry agent-lz4 agent-zstd}; do
    # shellcheck disable=SC2086
    run "$name" $load
  done
done

echo "bench/capture.sh: $requests GET/SET requests per run, $clients clients, loopback, $(nproc) cores"
echo "agent JVM options: $agent_opts"
awk -F'\t' 'BEGIN {
  printf "%-11s %-6s %9s %6s %8s %9s %11s %9s %8s %7s %12s %9s %12s\n", "capture", "load", "packets", "drops", "cpu s",
    "pkt/s", "us cpu/pkt", "x tcpdump", "rss MB", "req/s", "host us/pkt", "x tcpdump", "broker B/pkt"
} {
  # host: busy time of the whole machine beyond the same load without capture, per captured packet
  if ($1 == "none") { base_host[$2] = $11; next }
  host_pkt = ($11 - base_host[$2]) / $3 * 1e6
  if ($1 == "tcpdump") { base[$2] = $7; base_h[$2] = host_pkt }
  ratio = base[$2] > 0 ? sprintf("%.1f", $7 / base[$2]) : "-"
  hratio = base_h[$2] > 0 ? sprintf("%.2f", host_pkt / base_h[$2]) : "-"
  printf "%-11s %-6s %9d %6d %8.3f %9.0f %11.3f %9s %8.1f %7d %12.3f %9s %12s\n", $1, $2, $3, $4, $5, $6, $7, ratio, $8, $9,
    host_pkt, hratio, ($1 ~ /lz4|zstd/ ? sprintf("%.1f", $12) : "-")
}' "$results"
