#!/usr/bin/env bash
# bench/fleet.sh — a fleet on one machine: N hosts as network namespaces on one bridge, a tapflow
# agent on each, Redis and memcached servers on some, clients on the others (every request is
# captured twice: at the client's host and at the server's), one real KRaft broker and one
# PostgreSQL (each a JVM of its own), the stream processor as several JVMs of one application id,
# scaled 1 -> 2 -> 4 -> 2 while the load runs (num.standby.replicas=1), and one sink.
# At the end, per server, command and vantage: facts == the servers' own counters (Redis INFO
# commandstats, memcached stats deltas); every fact id once in tapflow.facts.v1; every agent's
# capture health (final report, drops); vantage_pairs (client >= server) if that table exists.
#
#   bench/fleet.sh [--hosts N] [--processors M] [--duration SECONDS] [--skew-ms MS]
#                  [--throughput "1 2 4"] [--rounds-per-client N] [--work DIR]
#     --hosts N          host namespaces (>= 2; default 4): h1 Redis, h2 memcached (h1 too when
#                        N = 2), the rest clients
#     --processors M     the most processor JVMs at once (1..4; default 4): the run scales
#                        1 -> 2 -> M -> M/2 at a quarter, half and three quarters of --duration
#     --duration S       seconds of load (default 60)
#     --skew-ms MS       the last client host's agent runs with --clock-offset-ms MS (default 250; 0: none)
#     --throughput LIST  afterwards, the same segments processed again by 1, 2, 4 (LIST) processor
#                        JVMs under new application ids: pairs/s, partitions and records per instance
#     --rounds-per-client N, --requests-per-round R
#                        each client host runs N rounds (default: as many as fit), spread over
#                        --duration, of redis-benchmark (-c 2, R requests of each of SET, GET,
#                        INCR, LPUSH, LPOP; default 1000) and memcslap (-c 2, R/5 GETs)
#     --work DIR         keep the run's files (logs, truth.tsv, facts.tsv, audit.txt) in DIR
#   FLEET_CLASSPATH=...  run the JVMs from this class path instead of cli/target/tapflow.jar
#                        (the JUnit test passes its own)
# Needs root (namespaces, AF_PACKET), iproute2, redis-server, redis-tools, memcached,
# libmemcached-tools (memcslap). Everything it makes is named fleet<id>…; a trap removes it.
# Exit 0 when every check passed, 1 when one failed, 2 on bad usage or a missing tool.
set -euo pipefail
export LC_ALL=C
here="$(cd "$(dirname "$0")/.." && pwd)"

hosts=4 processors=4 duration=60 skew_ms=250 throughput="" rounds=0 per_round=1000 work=""
usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
  case $1 in
    --hosts) hosts=$2; shift 2 ;;
    --processors) processors=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --skew-ms) skew_ms=$2; shift 2 ;;
    --throughput) throughput=$2; shift 2 ;;
    --rounds-per-client) rounds=$2; shift 2 ;;
    --requests-per-round) per_round=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "fleet: unknown argument $1" >&2; usage 2 ;;
  esac
done
die() { echo "fleet: $*" >&2; exit 2; }
log() { printf '%s fleet: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
[[ $hosts =~ ^[0-9]+$ ]] && ((hosts >= 2 && hosts <= 40)) || die "--hosts must be 2..40"
[[ $processors =~ ^[0-9]+$ ]] && ((processors >= 1 && processors <= 4)) || die "--processors must be 1..4"
[[ $duration =~ ^[0-9]+$ ]] && ((duration >= 8)) || die "--duration must be at least 8 seconds"
[[ $skew_ms =~ ^-?[0-9]+$ ]] || die "--skew-ms must be a number of milliseconds"
[[ $rounds =~ ^[0-9]+$ ]] && [[ $per_round =~ ^[0-9]+$ ]] && ((per_round >= 5)) || die "bad --rounds-per-client or --requests-per-round"
((EUID == 0)) || die "needs root (network namespaces, live capture)"
for t in ip redis-server redis-cli redis-benchmark memcached memcslap java; do
  command -v "$t" >/dev/null || die "missing $t (apt-get install iproute2 redis-server redis-tools memcached libmemcached-tools)"
done

if [ -n "${FLEET_CLASSPATH:-}" ]; then
  java_cp=(-cp "$FLEET_CLASSPATH")
else
  "$here/tapflow" --version >/dev/null # builds the jar when missing or stale
  java_cp=(-cp "$here/cli/target/tapflow.jar")
fi
tapflow() { java "${java_cp[@]}" -XX:TieredStopAtLevel=1 -Xmx256m dev.tapflow.cli.Tapflow "$@"; }
audit() { java "${java_cp[@]}" -XX:TieredStopAtLevel=1 -Xmx512m dev.tapflow.cli.FleetAudit "$@"; }
# the agent's JVM as ./tapflow capture runs it (see README, Live capture: a small JVM)
agent_jvm=(-Xms16m -Xmx48m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:MaxMetaspaceSize=64m
  -XX:ReservedCodeCacheSize=32m -Xss512k -XX:+ExitOnOutOfMemoryError)

# --- names and addresses: unique per run, checked free -------------------------------------
id=$(( $$ % 100000 ))
octet=""
for ((k = 0; k < 250; k++)); do
  o=$(( (id + k) % 250 + 1 ))
  if [ -z "$(ip -4 route show "10.88.$o.0/24" 2>/dev/null)" ] && [ -z "$(ip -4 addr show | grep " 10\.88\.$o\.")" ]; then
    octet=$o
    break
  fi
done
[ -n "$octet" ] || die "no free 10.88.x.0/24 subnet"
net="10.88.$octet"
bridge="fleet${id}br"
ns_of() { echo "fleet${id}-h$1"; }
ip_of() { echo "$net.$((10 + $1))"; }
broker_ip="$net.1"
redis_host=1
memcached_host=$(( hosts >= 3 ? 2 : 1 ))
first_client=$(( memcached_host + 1 ))
skew_host=$hosts
app="fleet-$id"

keep_work=1
if [ -z "$work" ]; then
  work="$(mktemp -d /tmp/tapflow-fleet.XXXXXX)"
  keep_work=0
fi
mkdir -p "$work"
work="$(cd "$work" && pwd)"

# --- cleanup: every process by the pid recorded, then the namespaces and the bridge ---------
declare -A proc_pid=()
pids=()
agent_pids=()
load_pids=()
cleanup() {
  set +e
  for p in "${load_pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${agent_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for k in "${!proc_pid[@]}"; do kill -TERM "${proc_pid[$k]}" 2>/dev/null; done
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  exec 7>&- 8>&- # the broker's and the database's stdin: they stop in order
  for p in "${load_pids[@]}" "${agent_pids[@]}" "${proc_pid[@]}" "${pids[@]}" ${services_pids[@]+"${services_pids[@]}"}; do
    for _ in $(seq 1 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null
  done
  for i in $(seq 1 "$hosts"); do ip netns del "$(ns_of "$i")" 2>/dev/null; done
  ip link del "$bridge" 2>/dev/null
  ((keep_work)) || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the network: a bridge in the root namespace (the broker listens on its address) --------
log "hosts $hosts on $bridge $net.0/24, work in $work"
ip link add "$bridge" type bridge
ip addr add "$broker_ip/24" dev "$bridge"
ip link set "$bridge" up
for i in $(seq 1 "$hosts"); do
  ns=$(ns_of "$i")
  ip netns add "$ns"
  ip link add "fleet${id}v$i" type veth peer name eth0 netns "$ns"
  ip link set "fleet${id}v$i" master "$bridge" up
  ip netns exec "$ns" ip addr add "$(ip_of "$i")/24" dev eth0
  ip netns exec "$ns" ip link set eth0 up mtu 1500
  ip netns exec "$ns" ip link set lo up
  # real <= 1514-byte frames on the wire the agents capture, as between real hosts
  if command -v ethtool >/dev/null; then
    ip netns exec "$ns" ethtool -K eth0 tso off gso off gro off >/dev/null 2>&1 || true
    ethtool -K "fleet${id}v$i" tso off gso off gro off >/dev/null 2>&1 || true
  fi
done

# --- broker and database, each a JVM of its own that runs until its stdin closes -----------
services_pids=()
mkfifo "$work/kafka.in" "$work/postgres.in"
java "${java_cp[@]}" -Xmx768m dev.tapflow.embedded.StandaloneServices kafka "$work" "$broker_ip" \
  <"$work/kafka.in" >"$work/kafka.log" 2>&1 &
services_pids+=($!)
exec 7>"$work/kafka.in"
java "${java_cp[@]}" -Xmx128m dev.tapflow.embedded.StandaloneServices postgres "$work/home" \
  <"$work/postgres.in" >"$work/postgres.log" 2>&1 &
services_pids+=($!)
exec 8>"$work/postgres.in"
for _ in $(seq 1 600); do [ -s "$work/bootstrap" ] && [ -s "$work/home/jdbc-url" ] && break; sleep 0.2; done
[ -s "$work/bootstrap" ] || { cat "$work/kafka.log" >&2; die "the broker did not start"; }
[ -s "$work/home/jdbc-url" ] || { cat "$work/postgres.log" >&2; die "PostgreSQL did not start"; }
bootstrap=$(cat "$work/bootstrap")
log "broker $bootstrap, database $(cat "$work/home/jdbc-url")"
tapflow topics --bootstrap-servers "$bootstrap" --max-processors "$processors" >"$work/topics.log" 2>&1 \
  || { cat "$work/topics.log" >&2; die "tapflow topics failed"; }
log "$(cat "$work/topics.log")"

# --- servers --------------------------------------------------------------------------------
mkdir -p "$work/redis"
ip netns exec "$(ns_of $redis_host)" redis-server --bind "$(ip_of $redis_host)" 127.0.0.1 --port 6379 \
  --unixsocket "$work/redis.sock" --protected-mode no --save '' --appendonly no --dir "$work/redis" >"$work/redis.log" 2>&1 &
pids+=($!)
ip netns exec "$(ns_of $memcached_host)" memcached -u root -l "$(ip_of $memcached_host),127.0.0.1" -p 11211 -U 0 \
  >"$work/memcached.log" 2>&1 &
pids+=($!)
# bookkeeping never crosses eth0, where the agents capture: Redis over its unix socket,
# memcached over the server namespace's own loopback
rcli() { redis-cli -s "$work/redis.sock" "$@"; }
mstats() {
  ip netns exec "$(ns_of $memcached_host)" bash -c 'exec 3<>/dev/tcp/127.0.0.1/11211; printf "stats\r\nquit\r\n" >&3; cat <&3' \
    | tr -d '\r' | awk '$1 == "STAT" { print $2, $3 }'
}
for _ in $(seq 1 100); do rcli ping >/dev/null 2>&1 && mstats | grep '^pid ' >/dev/null && break; sleep 0.1; done
rcli ping >/dev/null || die "redis-server did not start"

# --- agents: one per host namespace, on its eth0 --------------------------------------------
for i in $(seq 1 "$hosts"); do
  ns=$(ns_of "$i")
  skew=()
  if ((i == skew_host && skew_ms != 0)); then skew=(--clock-offset-ms "$skew_ms"); fi
  MALLOC_ARENA_MAX=2 ip netns exec "$ns" java "${java_cp[@]}" "${agent_jvm[@]}" dev.tapflow.cli.Tapflow capture \
    -i eth0 --bootstrap-servers "$bootstrap" --agent-id "$ns" --stats-interval 5s ${skew[@]+"${skew[@]}"} \
    >"$work/agent-h$i.out" 2>"$work/agent-h$i.err" &
  agent_pids+=($!)
done
for i in $(seq 1 "$hosts"); do
  for _ in $(seq 1 600); do grep -q "tapflow: capturing on" "$work/agent-h$i.err" 2>/dev/null && break; sleep 0.2; done
  grep -q "tapflow: capturing on" "$work/agent-h$i.err" || { cat "$work/agent-h$i.err" >&2; die "agent h$i did not start"; }
done
log "agents capturing on ${hosts} hosts$( ((skew_ms != 0)) && echo ", h$skew_host with its clock ${skew_ms} ms off")"

# --- processors and sink --------------------------------------------------------------------
# a standby replica of every task's state on another instance; and a new instance takes its share
# of active tasks at the next rebalance, restoring their state from the changelog, instead of
# warming up replicas first and waiting for a probing rebalance (10 min by default)
printf 'num.standby.replicas=1\nacceptable.recovery.lag=1000000000\n' >"$work/processor.properties"
start_processor() { # K APP
  java "${java_cp[@]}" -Xmx512m dev.tapflow.cli.Tapflow process --bootstrap-servers "$bootstrap" --app-id "$2" \
    --state-dir "$work/state-$2-$1" --kafka-config "$work/processor.properties" \
    >"$work/processor-$2-$1.out" 2>"$work/processor-$2-$1.err" &
  proc_pid[$2-$1]=$!
}
stop_processors() { # APP K... : SIGTERM to all at once (each leaves the group), then wait for them
  local a=$1 k
  shift
  for k in "$@"; do kill -TERM "${proc_pid[$a-$k]}" 2>/dev/null || true; done
  for k in "$@"; do wait "${proc_pid[$a-$k]}" 2>/dev/null || true; unset "proc_pid[$a-$k]"; done
}
await_assigned() { # K APP: until the instance runs with partitions of its own (up to 3 min; the load goes on)
  local f="$work/processor-$2-$1.err"
  for _ in $(seq 1 900); do grep -q 'tapflow: process active=\[[0-9]' "$f" 2>/dev/null && return 0; sleep 0.2; done
  log "processor $1 of $2 has no partition after 3 minutes"
}
running=0
scale_to() { # N: start or stop processor JVMs of $app until N run; a new one counts once it has partitions
  local n=$1 stopping=() started=()
  while ((running < n)); do running=$((running + 1)); start_processor "$running" "$app"; started+=("$running"); done
  for k in ${started[@]+"${started[@]}"}; do await_assigned "$k" "$app"; done
  while ((running > n)); do stopping+=("$running"); running=$((running - 1)); done
  ((${#stopping[@]} == 0)) || stop_processors "$app" "${stopping[@]}"
  echo "$(date +%s.%N) $n" >>"$work/scale.log"
  log "processors of $app: $n"
}
scale_to 1
TAPFLOW_JDBC_USER=$(cat "$work/home/jdbc-user") TAPFLOW_JDBC_PASSWORD_FILE="$work/home/jdbc-password" \
  java "${java_cp[@]}" -Xmx384m dev.tapflow.cli.Tapflow sink --bootstrap-servers "$bootstrap" \
  --jdbc-url "$(cat "$work/home/jdbc-url")" >"$work/sink.out" 2>"$work/sink.err" &
pids+=($!)

# --- load: every client host runs Redis and memcached clients until the end ----------------
rcli config resetstat >/dev/null
mstats >"$work/memcached.before"
end=$(( $(date +%s) + duration ))
pause=0.5
((rounds > 0)) && pause=$(awk -v d="$duration" -v r="$rounds" 'BEGIN { printf "%.2f", d * 0.8 / r }')
for i in $(seq "$first_client" "$hosts"); do
  ns=$(ns_of "$i")
  ( n=0
    while [ "$(date +%s)" -lt "$end" ] && { ((rounds == 0)) || ((n < rounds)); }; do
      ip netns exec "$ns" redis-benchmark -h "$(ip_of $redis_host)" -p 6379 -c 2 -n "$per_round" -t set,get,incr,lpush,lpop \
        -q >/dev/null 2>&1 || true
      n=$((n + 1))
      sleep "$pause"
    done ) &
  load_pids+=($!)
  ( n=0
    while [ "$(date +%s)" -lt "$end" ] && { ((rounds == 0)) || ((n < rounds)); }; do
      ip netns exec "$ns" memcslap -s "$(ip_of $memcached_host):11211" -c 2 -e $((per_round / 5)) -t get >/dev/null 2>&1 || true
      n=$((n + 1))
      sleep "$pause"
    done ) &
  load_pids+=($!)
done
log "load from hosts h$first_client..h$hosts for ${duration}s"

# scale while the load runs: 1 -> 2 at 1/4, -> M at 1/2, -> M/2 at 3/4 (never above M)
t0=$(date +%s)
for step in "1 2" "2 $processors" "3 $(( processors / 2 > 0 ? processors / 2 : 1 ))"; do
  set -- $step
  at=$(( t0 + duration * $1 / 4 ))
  while [ "$(date +%s)" -lt "$at" ]; do sleep 0.5; done
  target=$2; ((target > processors)) && target=$processors
  scale_to "$target"
done
for p in "${load_pids[@]}"; do wait "$p" || true; done
load_pids=()
sleep 1 # the last replies reach the capture
rcli info commandstats | tr -d '\r' >"$work/redis.commandstats"
mstats >"$work/memcached.after"
log "load done; stopping the agents (final reports)"
for p in "${agent_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
for p in "${agent_pids[@]}"; do wait "$p" || true; done
agent_pids=()

# --- wait for the pipeline ------------------------------------------------------------------
audit await "$bootstrap" "$app" tapflow.segments.v1 600 >"$work/await.txt" || { cat "$work/await.txt" >&2; log "processors did not catch up"; }
audit facts "$bootstrap" tapflow.facts.v1 >"$work/audit.txt"
distinct=$(sed -n 's/.*distinct=\([0-9]*\).*/\1/p' "$work/audit.txt")
sql() { tapflow sql --home "$work/home" --format tsv --limit 100000 "$1" | tail -n +2; }
for _ in $(seq 1 600); do
  stored=$(sql "SELECT count(*) FROM latency_facts")
  finals=$(sql "SELECT count(DISTINCT agent) FROM capture_stats WHERE final")
  [ "$stored" -ge "$distinct" ] && [ "$finals" -ge "$hosts" ] && break
  sleep 1
done

# --- truth and facts ------------------------------------------------------------------------
redis_srv="$(ip_of $redis_host):6379"
mc_srv="$(ip_of $memcached_host):11211"
{ # the servers' own counts: server, command, requests (Redis: minus INFO and CONFIG RESETSTAT, which this script sent over the socket)
  sed -n 's/^cmdstat_\([a-z|_-]*\):calls=\([0-9]*\).*/\1 \2/p' "$work/redis.commandstats" | grep -v -e '^info ' -e '^config|resetstat ' \
    | awk -v s="$redis_srv" '{ print s "\t" $1 "\t" $2 }'
  join <(sort "$work/memcached.before") <(sort "$work/memcached.after") \
    | awk -v s="$mc_srv" '$1 == "cmd_get" { print s "\tget\t" $3 - $2 } $1 == "cmd_set" { print s "\tset\t" $3 - $2 }'
} | sort >"$work/truth.tsv"
sql "SELECT agent, server_ip || ':' || server_port, lower(command) || CASE WHEN lower(command) = 'config'
       THEN '|' || lower(split_part(coalesce(args, ''), ' ', 1)) ELSE '' END, status, count(*)
     FROM latency_facts GROUP BY 1, 2, 3, 4" >"$work/facts-by-agent.tsv"
# vantage by where the agent sits: the server's own host, or a client's
awk -F'\t' -v r="$(ns_of $redis_host)" -v rs="$redis_srv" -v m="$(ns_of $memcached_host)" -v ms="$mc_srv" '
  { side = (($2 == rs && $1 == r) || ($2 == ms && $1 == m)) ? "server" : "client"
    n[$2 "\t" $3 "\t" side] += $5 }
  END { for (k in n) print k "\t" n[k] }' "$work/facts-by-agent.tsv" | sort >"$work/facts.tsv"
awk -F'\t' '$4 != "OK" && $3 != "quit" { bad += $5 } END { print bad + 0 }' "$work/facts-by-agent.tsv" >"$work/not-ok.txt"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
echo
echo "Facts per server, command and vantage vs the servers' own counters"
printf '  %-20s %-14s %10s %12s %12s  %s\n' SERVER COMMAND "SERVER SAYS" "CLIENT-SIDE" "SERVER-SIDE" CHECK
while IFS=$'\t' read -r srv cmd want; do
  c=$(awk -F'\t' -v s="$srv" -v c="$cmd" '$1 == s && $2 == c && $3 == "client" { print $4 }' "$work/facts.tsv")
  v=$(awk -F'\t' -v s="$srv" -v c="$cmd" '$1 == s && $2 == c && $3 == "server" { print $4 }' "$work/facts.tsv")
  ok=ok
  if [ "${c:-0}" != "$want" ] || [ "${v:-0}" != "$want" ]; then ok=MISMATCH; fail "$srv $cmd: server $want, facts client ${c:-0} server ${v:-0}"; fi
  printf '  %-20s %-14s %10s %12s %12s  %s\n' "$srv" "$cmd" "$want" "${c:-0}" "${v:-0}" "$ok"
done <"$work/truth.tsv"
# facts of commands the servers did not count: Redis must have none; memcached's quit is never answered
while IFS=$'\t' read -r srv cmd side n; do
  if ! awk -F'\t' -v s="$srv" -v c="$cmd" '$1 == s && $2 == c { f = 1 } END { exit !f }' "$work/truth.tsv"; then
    printf '  %-20s %-14s %10s %12s  (%s-side; not a server counter)\n' "$srv" "$cmd" - "$n" "$side"
    [[ $srv == "$redis_srv" ]] && fail "$srv $cmd: $n facts the server did not count"
  fi
done <"$work/facts.tsv"
[ "$(cat "$work/not-ok.txt")" = 0 ] || fail "$(cat "$work/not-ok.txt") facts not OK (TIMEOUT/ERROR)"

echo
echo "Facts topic (read_committed): $(cat "$work/audit.txt"); in PostgreSQL: $(sql "SELECT count(*) FROM latency_facts")"
grep -q ' duplicates=0 ' "$work/audit.txt" || fail "duplicated fact ids in tapflow.facts.v1"
grep -q ' undecodable=0' "$work/audit.txt" || fail "undecodable records in tapflow.facts.v1"
[ "$(sql "SELECT count(*) FROM latency_facts")" = "$distinct" ] || fail "PostgreSQL does not hold every fact"

echo
echo "Capture health per agent (final report; capture_health summed)"
sql "SELECT s.agent, s.packets, s.kernel_drops, s.if_drops, s.segments, s.published_segments,
       s.producer_error_segments, s.backlog_drop_segments, h.packets, h.minutes
     FROM capture_stats s LEFT JOIN (SELECT agent, sum(packets) AS packets, count(*) AS minutes
       FROM capture_health GROUP BY agent) h USING (agent) WHERE s.final ORDER BY s.agent" >"$work/health.tsv"
printf '  %-16s %9s %7s %7s %9s %9s %7s %7s %10s\n' AGENT PACKETS KDROPS IFDROPS SEGMENTS PUBLISHED PERR BACKLOG "HEALTH PKT"
while IFS=$'\t' read -r a pk kd ifd sg pub perr bl hp mins; do
  printf '  %-16s %9s %7s %7s %9s %9s %7s %7s %10s\n' "$a" "$pk" "$kd" "$ifd" "$sg" "$pub" "$perr" "$bl" "$hp"
  [ "$kd" = 0 ] || fail "$a: $kd kernel drops"
  [ "$sg" = "$pub" ] && [ "$perr" = 0 ] && [ "$bl" = 0 ] || fail "$a: segments $sg, published $pub, errors $perr, backlog drops $bl"
  [ "$hp" = "$pk" ] || fail "$a: capture_health adds up to $hp packets, final report $pk"
done <"$work/health.tsv"
[ "$(wc -l <"$work/health.tsv")" = "$hosts" ] || fail "final reports from $(wc -l <"$work/health.tsv") of $hosts agents"

echo
echo "Processor instances of $app (scaled $(awk '{ printf "%s%s", (NR > 1 ? " -> " : ""), $2 }' "$work/scale.log"); num.standby.replicas=1)"
stop_processors "$app" $(seq 1 "$running") # their last line: the records each processed in all
for f in "$work"/processor-"$app"-*.err; do
  k=${f##*-}; k=${k%.err}
  echo "  instance $k: assignments $(grep 'tapflow: process active' "$f" | sed 's/tapflow: process //; s/ processed=.*//; s/active=//; s/ standby=/+standby/' | paste -sd' ' | sed 's/ / -> /g')"
  echo "              $(grep 'tapflow: process final' "$f" | sed 's/.*\(processed=[0-9]*\)/\1 records in all/')"
done

echo
if [ "$(sql "SELECT to_regclass('vantage_pairs') IS NOT NULL")" = "t" ]; then
  # one pair per request the servers counted, each seen at the client's host and the server's
  for _ in $(seq 1 120); do
    [ "$(sql "SELECT count(*) FROM vantage_pairs")" -ge "$(awk -F'\t' '{ n += $3 } END { print n + 0 }' "$work/truth.tsv")" ] && break
    sleep 1
  done
  sql "SELECT count(*), count(*) FILTER (WHERE client_latency_ns < server_latency_ns),
         count(*) FILTER (WHERE network_ns < 0) FROM vantage_pairs" >"$work/vantage.tsv"
  read -r pairs bad negative <"$work/vantage.tsv"
  requests=$(awk -F'\t' '{ n += $3 } END { print n + 0 }' "$work/truth.tsv")
  echo "vantage_pairs: $pairs pairs for $requests requests the servers counted; $bad with client-side latency < server-side"
  [ "$pairs" = "$requests" ] || fail "vantage_pairs: $pairs pairs, the servers counted $requests requests"
  [ "$bad" = 0 ] || fail "$bad pairs with client-side latency < server-side"
  echo "Clock skew by agent pair (vantage_clock_skew; h$skew_host's agent ran with --clock-offset-ms $skew_ms)"
  sql "SELECT client_agent, server_agent, pairs, round(offset_ms::numeric, 3), causality_violations, skewed
       FROM vantage_clock_skew ORDER BY 1, 2" >"$work/skew.tsv"
  printf '  %-16s %-16s %8s %12s %10s %8s\n' CLIENT SERVER PAIRS "OFFSET MS" VIOLATIONS SKEWED
  while IFS=$'\t' read -r ca sa n off viol skewed; do
    printf '  %-16s %-16s %8s %12s %10s %8s\n' "$ca" "$sa" "$n" "$off" "$viol" "$skewed"
    if [ "$ca" = "$(ns_of "$skew_host")" ] && ((skew_ms != 0)); then
      [ "$skewed" = t ] || fail "$ca's clock is $skew_ms ms off and vantage_clock_skew does not flag it"
      awk -v o="$off" -v k="$skew_ms" 'BEGIN { d = o + k; exit !(d < 5 && d > -5) }' \
        || fail "$ca -> $sa: estimated offset $off ms, the agent's clock was $skew_ms ms off"
    else
      [ "$skewed" = f ] || fail "$ca -> $sa flagged skewed, but only h$skew_host's clock was off"
    fi
  done <"$work/skew.tsv"
else
  echo "vantage_pairs: no such table (the vantage join is not in this build): not checked"
fi

# --- throughput: the same segments again, 1, 2, 4 processor JVMs ---------------------------
if [ -n "$throughput" ]; then
  echo
  echo "Throughput: the run's $(sed -n 's/.*end=\([0-9]*\).*/\1/p' "$work/await.txt") segment records again, $distinct facts each time (new application ids)"
  printf '  %-9s %10s %10s %10s  %s\n' INSTANCES "FIRST S" "DONE S" "PAIRS/S" "PER INSTANCE: PARTITIONS (ACTIVE) AND RECORDS PROCESSED"
  for n in $throughput; do
    tapp="$app-tp$n"
    for k in $(seq 1 "$n"); do start_processor "$k" "$tapp"; done
    line=$(audit await "$bootstrap" "$tapp" tapflow.segments.v1 900 || true)
    stop_processors "$tapp" $(seq 1 "$n")
    first=$(sed -n 's/.*first_progress_ms=\([0-9-]*\).*/\1/p' <<<"$line")
    done_ms=$(sed -n 's/.*caught_up_ms=\([0-9-]*\).*/\1/p' <<<"$line")
    per=""
    for k in $(seq 1 "$n"); do
      last=$(grep 'tapflow: process final' "$work/processor-$tapp-$k.err" | sed 's/.*active=\(\[[^]]*\]\).*processed=\([0-9]*\)/\1 \2/')
      per="$per #$k ${last:-?};"
    done
    rate=$(awk -v f="$distinct" -v a="$first" -v b="$done_ms" 'BEGIN { if (b > a && a >= 0) printf "%.0f", f / ((b - a) / 1000); else print "-" }')
    printf '  %-9s %10.1f %10.1f %10s %s\n' "$n" "$(awk -v a="$first" 'BEGIN { print a / 1000 }')" \
      "$(awk -v b="$done_ms" 'BEGIN { print b / 1000 }')" "$rate" "$per"
    echo "$n $line$per" >>"$work/throughput.txt"
  done
  echo "  (FIRST: seconds from launching the JVMs to the group's first committed progress; DONE: to every segment"
  echo "   committed; PAIRS/S: facts / (DONE - FIRST). Processed counts include re-processing after rebalances.)"
fi

echo
if ((failures)); then
  echo "fleet: $failures check(s) FAILED (files in $work)"
  keep_work=1
  exit 1
fi
echo "fleet: every check passed"
