#!/usr/bin/env bash
# capture-redis.sh — fixture captures of real Redis traffic, with truth.
#
#   scripts/capture-redis.sh                 fixtures -> stream-processor/src/test/resources/pcap/redis/
#                                            and samples -> samples/
#   scripts/capture-redis.sh --bench N DIR   two large captures (about N requests each, plain and
#                                            pipelined -P 16) into DIR, for benchmarks; not committed
#   options: --no-netns   capture on the host's loopback instead of a fresh network namespace
#
# Needs root, redis-server, redis-cli, redis-benchmark, tcpdump, iproute2 (ethtool if present).
#
# How truth is made (see the README.md this script writes beside the fixtures):
#   - Each scenario gets a fresh redis-server with a TCP port on 127.0.0.1 and a unix socket.
#     All bookkeeping (CONFIG RESETSTAT, INFO commandstats) goes over the unix socket, and
#     tcpdump records only `tcp port <server port>`, so bookkeeping is never in the capture.
#   - The bookkeeping's own trace in commandstats is measured, not guessed: right after the
#     server starts we RESETSTAT and INFO with no traffic at all; whatever that shows (always
#     config|resetstat=1, plus auth=1 when the server has a password) is the baseline that
#     is subtracted from every scenario's INFO.
#   - Order per scenario: tcpdump ready -> RESETSTAT -> traffic (every client has read its
#     last reply) -> 1.5 s -> INFO -> stop tcpdump -> check 0 dropped by kernel.
#   - A command rejected before execution (NOAUTH, arity, ...) is counted by Redis under
#     rejected_calls, not calls (and for a subcommand under the parent too); the scenarios
#     send none, and the script fails if any appears, so calls == requests on the wire.
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
FIXTURES="$ROOT/stream-processor/src/test/resources/pcap/redis"
SAMPLES="$ROOT/samples"

# Values used by the scenarios; documented in the generated READMEs.
FIXTURE_PASSWORD='tapflow-fixture-password'   # fake, on the wire on purpose: redaction tests look for it
BENCH_N=512          # requests per redis-benchmark test in the fixtures; a multiple of -P 16
SAMPLE_BENCH_N=560   # requests per test in samples/redis-benchmark.pcap (5 tests)
BIG_VALUE_BYTES=100000
SAMPLE_BIG_VALUE_BYTES=16000
SETTLE_SECONDS=1.5   # tcpdump without --immediate-mode delivers in blocks: wait before stopping it

die() { echo "capture-redis: error: $*" >&2; exit 1; }
log() { echo "capture-redis: $*" >&2; }

usage() {
  sed -n '2,10p' "$SELF" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

# ---------------------------------------------------------------------------------------------
# Outer part: argument parsing, network namespace, then the inner part runs inside it.
# ---------------------------------------------------------------------------------------------
if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  MODE=fixtures; BENCH_TOTAL=; BENCH_DIR=; USE_NETNS=1
  while (($#)); do
    case $1 in
      --bench) (($# >= 3)) || usage 2; MODE=bench; BENCH_TOTAL=$2; BENCH_DIR=$3; shift 3 ;;
      --no-netns) USE_NETNS=0; shift ;;
      -h|--help) usage 0 ;;
      *) echo "unknown argument: $1" >&2; usage 2 ;;
    esac
  done
  [[ $MODE != bench || $BENCH_TOTAL =~ ^[0-9]+$ ]] || die "--bench N: N must be a number"
  ((EUID == 0)) || die "run as root (tcpdump, network namespaces)"
  for c in redis-server redis-cli redis-benchmark tcpdump ip ss awk; do
    command -v "$c" >/dev/null || die "missing $c (apt-get install redis-server redis-tools tcpdump iproute2)"
  done
  if [[ $MODE == bench ]]; then
    mkdir -p "$BENCH_DIR"; BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
  fi

  NS=
  cleanup_outer() { [[ -z $NS ]] || ip netns del "$NS" 2>/dev/null || true; }
  trap cleanup_outer EXIT
  trap 'exit 130' INT TERM

  CAPTURE_PATH=
  if ((USE_NETNS)); then
    NS="tapflow-capture-$$"
    if ip netns add "$NS" 2>/dev/null && ip netns exec "$NS" ip link set lo up mtu 1500; then
      # Loopback hands whole GSO super-packets (up to 64 KB) to tcpdump; with offloads off
      # TCP itself cuts every message at the MSS, as on a real 1500-byte link.
      if command -v ethtool >/dev/null && ip netns exec "$NS" ethtool -K lo tso off gso off gro off 2>/dev/null; then
        CAPTURE_PATH="network namespace, lo mtu 1500, tso/gso/gro off (ethtool)"
      else
        ip netns exec "$NS" ip link set lo gso_max_segs 1 \
          || die "cannot turn off segmentation offload in the namespace"
        CAPTURE_PATH="network namespace, lo mtu 1500, gso_max_segs 1 (no ethtool)"
      fi
    else
      log "network namespaces unavailable: falling back to the host loopback"
      ip netns del "$NS" 2>/dev/null || true
      NS=
    fi
  fi
  if [[ -z $NS ]]; then
    CAPTURE_PATH="host loopback, mtu $(cat /sys/class/net/lo/mtu), offloads as the host has them (large messages may be single packets)"
  fi
  log "capture path: $CAPTURE_PATH"

  export TAPFLOW_CAPTURE_INNER=1 TAPFLOW_CAPTURE_PATH="$CAPTURE_PATH" TAPFLOW_CAPTURE_MODE=$MODE \
    TAPFLOW_BENCH_TOTAL=$BENCH_TOTAL TAPFLOW_BENCH_DIR=$BENCH_DIR
  if [[ -n $NS ]]; then
    ip netns exec "$NS" "$SELF"
  else
    "$SELF"
  fi
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Inner part: runs in the namespace (or on the host as the fallback).
# ---------------------------------------------------------------------------------------------
MODE=$TAPFLOW_CAPTURE_MODE
CAPTURE_PATH=$TAPFLOW_CAPTURE_PATH
TMP=$(mktemp -d /tmp/tapflow-capture.XXXXXX)
PIDS=()          # servers and helpers started here; tcpdump is tracked apart
TCPDUMP_PID=

cleanup_inner() {
  local p
  if [[ -n $TCPDUMP_PID ]]; then kill -INT "$TCPDUMP_PID" 2>/dev/null || true; fi
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup_inner EXIT
trap 'exit 130' INT TERM

REDIS_VERSION=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')

# --- server --------------------------------------------------------------------------------

# start_server NAME [PASSWORD]: sets PORT, SOCK, PASS, SERVER_PID
start_server() {
  local name=$1 dir="$TMP/$1"
  PASS=${2:-}
  mkdir -p "$dir"
  SOCK="$dir/redis.sock"
  for _ in 1 2 3 4 5; do
    PORT=$((20000 + RANDOM % 40000))
    if ss -Htln "sport = :$PORT" | grep . >/dev/null; then continue; fi
    # Settings in a file: the password never appears on a process command line.
    {
      echo "bind 127.0.0.1"
      echo "port $PORT"
      echo "unixsocket $SOCK"
      echo "unixsocketperm 700"
      echo "dir $dir"
      echo "logfile $dir/redis.log"
      echo "enable-debug-command local"
      [[ -z $PASS ]] || echo "requirepass $PASS"
    } >"$dir/redis.conf"
    chmod 600 "$dir/redis.conf"
    redis-server "$dir/redis.conf" --save '' --appendonly no &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    local i
    for ((i = 0; i < 100; i++)); do
      if [[ -S $SOCK ]] && [[ $(admin PING 2>/dev/null) == PONG ]]; then return 0; fi
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.05
    done
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  done
  die "redis-server did not start (see $dir/redis.log)"
}

stop_server() {
  admin SHUTDOWN NOSAVE >/dev/null 2>&1 || true
  wait "$SERVER_PID" 2>/dev/null || true
}

# Bookkeeping connection: the unix socket, never captured. The password goes by environment.
admin() {
  if [[ -n $PASS ]]; then REDISCLI_AUTH=$PASS redis-cli -s "$SOCK" "$@"; else redis-cli -s "$SOCK" "$@"; fi
}

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
  awk '$1 != "config|resetstat" && $1 != "auth" { bad = 1 } END { exit bad }' "$TMP/baseline" \
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

# --- capture -------------------------------------------------------------------------------

capture_start() {
  local pcap=$1 i
  : >"$TMP/tcpdump.err"
  tcpdump -i lo -w "$pcap" -s 0 --time-stamp-precision=nano -B 4096 "tcp port $PORT" 2>"$TMP/tcpdump.err" &
  TCPDUMP_PID=$!
  for ((i = 0; i < 200; i++)); do
    grep -q 'listening on' "$TMP/tcpdump.err" && return 0
    kill -0 "$TCPDUMP_PID" 2>/dev/null || break
    sleep 0.02
  done
  cat "$TMP/tcpdump.err" >&2
  die "tcpdump did not start"
}

capture_stop() {
  kill -INT "$TCPDUMP_PID"
  wait "$TCPDUMP_PID" || true
  TCPDUMP_PID=
  local dropped
  dropped=$(sed -n 's/^\([0-9]*\) packets\{0,1\} dropped by kernel.*/\1/p' "$TMP/tcpdump.err")
  [[ -n $dropped ]] || { cat "$TMP/tcpdump.err" >&2; die "no 'dropped by kernel' line from tcpdump"; }
  ((dropped == 0)) || { cat "$TMP/tcpdump.err" >&2; die "tcpdump: $dropped packets dropped by kernel"; }
}

# packets_tsv PCAP OUT: tcpdump's own reading; one row per TCP packet with payload.
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

# run_scenario NAME OUTDIR FUNCTION [PASSWORD]: one server, one pcap, one truth.
# PREPARE=FUNCTION in the environment runs on the fresh server before anything is measured.
run_scenario() {
  local name=$1 outdir=$2 fn=$3 pass=${4:-} t0=$SECONDS
  log "scenario $name"
  start_server "$name" "$pass"
  [[ -z ${PREPARE:-} ]] || "$PREPARE"   # before calibrate and capture: not in the truth
  calibrate
  capture_start "$TMP/$name.pcap"
  admin CONFIG RESETSTAT >/dev/null
  "$fn"
  sleep "$SETTLE_SECONDS"
  truth_json "$TMP/$name.commandstats.json"
  capture_stop
  stop_server
  packets_tsv "$TMP/$name.pcap" "$TMP/$name.packets.tsv"
  mkdir -p "$outdir"
  # tcpdump drops privileges and leaves its file owned by user tcpdump: give all to the tree's owner
  chown "$(stat -c %u:%g "$ROOT")" "$TMP/$name".*
  mv -f "$TMP/$name.pcap" "$TMP/$name.commandstats.json" "$TMP/$name.packets.tsv" "$outdir/"
  summarize "$outdir" "$name"
  log "  ($((SECONDS - t0)) s)"
}

summarize() {
  local dir=$1 name=$2 pkts rows maxlen calls
  pkts=$(tcpdump -r "$dir/$name.pcap" 2>/dev/null | wc -l)
  rows=$(($(wc -l <"$dir/$name.packets.tsv") - 1))
  maxlen=$(awk -F'\t' 'NR > 1 && $5 > m { m = $5 } END { print m + 0 }' "$dir/$name.packets.tsv")
  calls=$(awk -F': ' '/"/ { gsub(/[",]/, ""); s += $2 } END { print s + 0 }' "$dir/$name.commandstats.json")
  log "  $name.pcap $(stat -c %s "$dir/$name.pcap") bytes, $pkts packets, $rows with payload (largest $maxlen), $calls commands:"
  log "  $(tr -d '\n ' <"$dir/$name.commandstats.json")"
}

# --- a tiny RESP client over bash's /dev/tcp, for what redis-cli cannot do ------------------
# (CLIENT REPLY OFF/SKIP: redis-cli 7.0 waits for a reply that never comes; pub/sub with
# unsubscribe; RESP3 DEBUG PROTOCOL types). One write per command, like a client library.

resp_connect() { exec {RESP_FD}<>"/dev/tcp/127.0.0.1/$PORT"; }
resp_close() { exec {RESP_FD}>&-; }

resp_send() {
  local s="*$#"$'\r\n' a
  for a; do s+="\$${#a}"$'\r\n'"$a"$'\r\n'; done
  printf '%s' "$s" >&"$RESP_FD"
}

# resp_read: reads one complete RESP2/RESP3 value; RESP_TYPE is its first byte.
resp_read() {
  local line n i
  IFS= read -r -t 10 -u "$RESP_FD" line || die "no reply from redis (port $PORT)"
  line=${line%$'\r'}
  local t=${line:0:1}
  n=${line:1}
  case $t in
    '+' | '-' | ':' | '_' | ',' | '#' | '(') ;;
    '$' | '=' | '!') if ((n >= 0)); then IFS= read -r -t 10 -N $((n + 2)) -u "$RESP_FD" RESP_DATA || die "short bulk"; fi ;;
    '*' | '~' | '>') for ((i = 0; i < n; i++)); do resp_read; done ;;
    '%') for ((i = 0; i < 2 * n; i++)); do resp_read; done ;;
    '|') for ((i = 0; i < 2 * n; i++)); do resp_read; done; resp_read; t='|' ;;
    *) die "unexpected RESP line: $line" ;;
  esac
  RESP_TYPE=$t
  RESP_LINE=$line
}

# resp_call CMD...: send and read the reply (sequential, no pipelining)
resp_call() { resp_send "$@"; resp_read; }

bulk() { printf '%s' "${RESP_DATA%$'\r\n'}"; }   # the last bulk string read
expect_error() { [[ $RESP_TYPE == - ]] || die "expected an error reply, got: $RESP_LINE"; }

# --- scenarios -----------------------------------------------------------------------------

big_value() { awk -v n="$1" 'BEGIN { s = ""; i = 0; while (length(s) < n) s = s sprintf("tapflow-%07d;", i++); printf "%s", substr(s, 1, n) }'; }

# redis-cli-session: three connections on a server with requirepass.
scenario_cli_session() {
  local big
  big=$(big_value "${SESSION_BIG_BYTES:-$BIG_VALUE_BYTES}")
  # 1. redis-cli reading commands from stdin, one round trip each. It authenticates from
  #    REDISCLI_AUTH (AUTH on the wire, nothing in argv) and, being a REPL, first sends
  #    COMMAND DOCS (a ~170 KB nested reply).
  REDISCLI_AUTH=$PASS redis-cli -h 127.0.0.1 -p "$PORT" >"$TMP/cli1.out" <<EOF
PING
SET user:1:name alice
GET user:1:name
GET user:404:name
SET counter 10
INCR counter
INCRBY counter 5
LPUSH queue a b c
LRANGE queue 0 -1
SET s plain-string
LLEN s
HSET user:2 name bob age 42
HGETALL user:2
MGET user:1:name nokey s
EXPIRE s 100
TTL s
TTL nokey
SET big $big
GET big
STRLEN big
MULTI
INCR tx:counter
LPUSH tx:list x y
EXEC
ECHO "hello tapflow"
DEL counter queue user:2 big
EOF
  grep -q WRONGTYPE "$TMP/cli1.out" || die "redis-cli session: no WRONGTYPE error"

  # 2. RESP3: a wrong password first, then HELLO 3 with AUTH, then RESP3 reply types.
  resp_connect
  resp_call AUTH default wrong-password; expect_error
  resp_call HELLO 3 AUTH default "$PASS"; [[ $RESP_TYPE == % ]] || die "HELLO 3: $RESP_LINE"
  resp_call SADD tags red green blue
  resp_call SMEMBERS tags; [[ $RESP_TYPE == '~' ]] || die "SMEMBERS in RESP3: $RESP_LINE"
  resp_call HSET h f1 v1 f2 v2
  resp_call HGETALL h
  resp_call GET missing; [[ $RESP_TYPE == _ ]] || die "nil in RESP3: $RESP_LINE"
  resp_call ZADD z 1.5 m
  resp_call ZSCORE z m
  resp_call DEBUG PROTOCOL attrib; [[ $RESP_TYPE == '|' ]] || die "attribute: $RESP_LINE"
  resp_call DEBUG PROTOCOL bignum
  resp_call DEBUG PROTOCOL verbatim
  resp_call DEBUG PROTOCOL true
  resp_call LLEN h; expect_error
  resp_call PING
  resp_close

  # 3. RESP2 with CLIENT REPLY OFF/ON/SKIP. The connection ends with a command that has a
  #    reply, so the server has executed everything before the truth is read.
  resp_connect
  resp_call AUTH "$PASS"
  resp_send CLIENT REPLY OFF
  resp_send SET r1 1
  resp_send INCR r1
  resp_call CLIENT REPLY ON
  resp_call GET r1; [[ $(bulk) == 2 ]] || die "CLIENT REPLY OFF: GET r1 = $(bulk)"
  resp_send CLIENT REPLY SKIP
  resp_send SET r2 skipped
  resp_call GET r2
  # Three requests in one write (pipelined): only GET is answered.
  printf '%s' $'*3\r\n$6\r\nCLIENT\r\n$5\r\nREPLY\r\n$4\r\nSKIP\r\n*2\r\n$4\r\nINCR\r\n$2\r\nr1\r\n*2\r\n$3\r\nGET\r\n$2\r\nr1\r\n' >&"$RESP_FD"
  resp_read; [[ $(bulk) == 3 ]] || die "CLIENT REPLY SKIP: GET r1 = $(bulk)"
  resp_call PING
  resp_close
}

bench() { redis-benchmark -h 127.0.0.1 -p "$PORT" -c 4 -t set,get,incr,lpush,lpop --csv "$@" >"$TMP/bench.out"; }

scenario_benchmark_plain() { bench -n "$BENCH_N"; }
scenario_benchmark_pipelined() { bench -n "$BENCH_N" -P 16; }

# pubsub: a RESP2 subscriber (channels + pattern), a RESP3 subscriber (pushes), publishers.
pubsub_subscriber_resp2() {
  local i
  resp_connect
  resp_send SUBSCRIBE news alerts; resp_read; resp_read
  resp_send PSUBSCRIBE 'n*'; resp_read
  : >"$TMP/sub2.ready"
  for ((i = 0; i < 7; i++)); do resp_read; done   # 3 news x (message + pmessage), 1 alerts
  resp_call PING
  resp_send UNSUBSCRIBE; resp_read; resp_read
  resp_call PUNSUBSCRIBE
  resp_call GET after-pubsub                       # back to normal mode
  resp_close
}

pubsub_subscriber_resp3() {
  local i
  resp_connect
  resp_call HELLO 3
  resp_call SUBSCRIBE news; [[ $RESP_TYPE == '>' ]] || die "RESP3 subscribe: $RESP_LINE"
  : >"$TMP/sub3.ready"
  for ((i = 0; i < 3; i++)); do resp_read; [[ $RESP_TYPE == '>' ]] || die "RESP3 message: $RESP_LINE"; done
  resp_call GET while-subscribed                   # RESP3 allows commands while subscribed
  resp_call UNSUBSCRIBE news
  resp_call PING
  resp_close
}

scenario_pubsub() {
  rm -f "$TMP/sub2.ready" "$TMP/sub3.ready"
  pubsub_subscriber_resp2 & local s2=$!
  pubsub_subscriber_resp3 & local s3=$!
  PIDS+=("$s2" "$s3")
  local i
  for ((i = 0; i < 250; i++)); do
    [[ -e $TMP/sub2.ready && -e $TMP/sub3.ready ]] && break
    sleep 0.02
  done
  [[ -e $TMP/sub2.ready && -e $TMP/sub3.ready ]] || die "subscribers not ready"
  # Publishers: one-shot redis-cli runs, each its own connection.
  redis-cli -h 127.0.0.1 -p "$PORT" PUBLISH news "hello 1" >/dev/null
  redis-cli -h 127.0.0.1 -p "$PORT" PUBLISH news "hello 2" >/dev/null
  redis-cli -h 127.0.0.1 -p "$PORT" PUBLISH alerts "disk full" >/dev/null
  redis-cli -h 127.0.0.1 -p "$PORT" PUBLISH nobody-listens x >/dev/null
  redis-cli -h 127.0.0.1 -p "$PORT" PUBSUB NUMSUB news alerts >/dev/null
  redis-cli -h 127.0.0.1 -p "$PORT" PUBLISH news "hello 3" >/dev/null
  wait "$s2" || die "RESP2 subscriber failed"
  wait "$s3" || die "RESP3 subscriber failed"
}

# samples/redis-benchmark: redis-benchmark plus a client running genuinely slow commands
# (DEBUG SLEEP, SORT of a 200k-element list, KEYS over 100k keys) at the same time.
sample_slow_client() {
  resp_connect
  resp_call PING
  resp_call DEBUG SLEEP 0.05
  resp_call SORT biglist LIMIT 0 10
  sleep 0.05
  resp_call KEYS 'key:9999*'
  resp_call DEBUG SLEEP 0.02
  sleep 0.05
  resp_call SORT biglist DESC LIMIT 0 5
  resp_call DEBUG SLEEP 0.1
  resp_close
}

scenario_sample_benchmark() {
  sample_slow_client & local slow=$!
  PIDS+=("$slow")
  sleep 0.02
  bench -n "$SAMPLE_BENCH_N"
  wait "$slow" || die "slow client failed"
}

populate_for_sample() {
  admin DEBUG POPULATE 100000 >/dev/null
  admin EVAL "for i = 1, 200000 do redis.call('RPUSH', 'biglist', (i * 7919) % 200003) end return 1" 0 >/dev/null
}

# --- README files ----------------------------------------------------------------------------

fixtures_readme() {
  cat >"$FIXTURES/README.md" <<EOF
# Redis fixtures from real traffic

Made by \`scripts/capture-redis.sh\` (run it as root to regenerate; everything here is
overwritten). Redis $REDIS_VERSION (server, redis-cli and redis-benchmark from Debian), tcpdump
$(tcpdump --version 2>&1 | sed -n 's/^tcpdump version //p'), captured on: $CAPTURE_PATH.
Timestamps: nanosecond pcap (magic \`a1b23c4d\`), link type Ethernet (Linux loopback).

Every scenario runs against its own fresh \`redis-server --save '' --appendonly no\` on a
random port of 127.0.0.1; tcpdump ran with \`-s 0 --time-stamp-precision=nano -B 4096\`,
filter \`tcp port <port>\`, no \`--immediate-mode\`, started before any traffic and stopped
${SETTLE_SECONDS} s after it; each run was checked for \`0 packets dropped by kernel\`.

## Files

For each scenario \`<name>\`:

- \`<name>.pcap\` — the capture.
- \`<name>.commandstats.json\` — truth from the server: \`{"command": calls}\` from
  \`INFO commandstats\` after \`CONFIG RESETSTAT\`. Names are as Redis $REDIS_VERSION reports them:
  lower case, subcommands as \`parent|sub\` (\`client|reply\`, \`config|get\`, \`command|docs\`,
  \`pubsub|numsub\`). Commands queued in MULTI count once, when EXEC runs them. Commands that
  fail while executing (WRONGTYPE, WRONGPASS) are counted in calls. So for every command,
  the number of requests for it in the pcap == its calls here.
- \`<name>.packets.tsv\` — tcpdump's own reading of the pcap (\`tcpdump -tt -nn -S --nano -r\`),
  one row per TCP packet with payload, in capture order, with a header row:
  \`ts_ns\` (capture time, ns since the epoch), \`src\` and \`dst\` (\`ip:port\`), \`seq\`
  (absolute TCP sequence number of the first payload byte), \`len\` (payload bytes).
  This is the independent truth for packet times: expected latencies are read off it.

How the truth is kept exact: the script's own \`CONFIG RESETSTAT\` and \`INFO\` go over a
unix socket, which tcpdump never sees; their own trace in commandstats (\`config|resetstat\`
= 1, and \`auth\` = 1 on the server with a password) is measured on the idle server before each
scenario and subtracted. Each client reads its last reply before the script reads INFO, and
the script fails if any command has \`rejected_calls\` (rejected commands are not counted in
calls, so they would break the equality; a rejected subcommand is also counted on its parent).

## Scenarios

- \`redis-cli-session\` — server with \`requirepass $FIXTURE_PASSWORD\` (a fake password that
  is on the wire on purpose: redaction tests must never let it out). Three connections:
  1. \`redis-cli\` fed commands on stdin, one round trip each, authenticated through
     \`REDISCLI_AUTH\` (so \`AUTH <password>\` is its first request). Being a REPL, redis-cli
     $REDIS_VERSION then sends \`COMMAND DOCS\` (a ~170 KB nested array reply, many segments).
     Then PING, SET/GET, a nil GET, INCR/INCRBY, LPUSH/LRANGE, LLEN on a string (WRONGTYPE
     error), HSET/HGETALL, MGET, EXPIRE/TTL, a ${BIG_VALUE_BYTES}-byte SET and its GET (many
     segments each way), STRLEN, MULTI/INCR/LPUSH/EXEC, ECHO, a multi-key DEL.
  2. A RESP3 connection: \`AUTH default wrong-password\` (WRONGPASS error), then
     \`HELLO 3 AUTH default <password>\`, then RESP3 replies: set (\`~\`), map (\`%\`), null
     (\`_\`), double (\`,\`), and \`DEBUG PROTOCOL attrib|bignum|verbatim|true\` (attribute
     \`|\` before the reply, \`(\`, \`=\`, \`#\`), a WRONGTYPE error, PING.
  3. A RESP2 connection: \`AUTH <password>\`, \`CLIENT REPLY OFF\`, SET, INCR (no replies),
     \`CLIENT REPLY ON\` (+OK), GET, \`CLIENT REPLY SKIP\` + SET (no reply), GET, then
     \`CLIENT REPLY SKIP\`, INCR and GET in one write (only GET is answered), PING.
  Connections 2 and 3 are a small RESP client in bash over \`/dev/tcp\` (one write per
  command; redis-cli $REDIS_VERSION waits forever for a reply after \`CLIENT REPLY OFF\`).
  Bash cannot set TCP_NODELAY, so Nagle is on: after a request that gets no reply, the next
  writes wait for the server's delayed ACK (~40 ms) and leave together, several requests in
  one segment; look at \`packets.tsv\` rather than assume one request per packet.
- \`benchmark-plain\` — \`redis-benchmark -c 4 -n $BENCH_N -t set,get,incr,lpush,lpop\`, no pipelining.
  Besides the $BENCH_N requests per test, redis-benchmark opens one extra connection at start
  and sends \`CONFIG GET save\` and \`CONFIG GET appendonly\` (the \`config|get\` = 2 in the truth).
- \`benchmark-pipelined\` — the same with \`-P 16\` (16 requests per write; $BENCH_N is a multiple of
  16, so redis-benchmark issues exactly $BENCH_N per test).
- \`pubsub\` — a RESP2 subscriber (\`SUBSCRIBE news alerts\`, \`PSUBSCRIBE n*\`; receives
  message and pmessage pushes; PING while subscribed answers \`["pong", ""]\`; UNSUBSCRIBE,
  PUNSUBSCRIBE, then a GET back in normal mode), a RESP3 subscriber (\`HELLO 3\`,
  \`SUBSCRIBE news\`, \`>\` pushes, a GET while subscribed, UNSUBSCRIBE, PING), and
  publishers that are one-shot \`redis-cli PUBLISH ...\` / \`PUBSUB NUMSUB\` runs, one
  connection each. Pub/sub confirmations and messages are pushes, not replies: SUBSCRIBE,
  PSUBSCRIBE, UNSUBSCRIBE and PUNSUBSCRIBE have calls here but their answers are pushes.

Sizes at generation:

$(cd "$FIXTURES" && for f in *.pcap *.json *.tsv; do printf -- '- `%s` %s bytes\n' "$f" "$(stat -c %s "$f")"; done)
EOF
}

samples_readme() {
  cat >"$SAMPLES/README.md" <<EOF
# Sample captures

Small captures of real Redis traffic for a first run:

    ./tapflow local samples/*.pcap

Made by \`scripts/capture-redis.sh\` (root; regenerates these and the test fixtures) with Redis
$REDIS_VERSION on 127.0.0.1, captured by tcpdump with nanosecond timestamps on: $CAPTURE_PATH.

- \`redis-benchmark.pcap\` — \`redis-benchmark -c 4 -n $SAMPLE_BENCH_N -t set,get,incr,lpush,lpop\`
  (about $((SAMPLE_BENCH_N * 5)) requests, plus its two \`CONFIG GET\`s) while another client runs
  genuinely slow commands on a server holding 100,000 keys and a 200,000-element list:
  \`DEBUG SLEEP 0.05\`, \`DEBUG SLEEP 0.02\`, \`DEBUG SLEEP 0.1\`, \`SORT biglist LIMIT 0 10\`,
  \`SORT biglist DESC LIMIT 0 5\`, \`KEYS key:9999*\`. Redis runs one command at a time, so the
  benchmark's requests that arrive during a slow command are slow too.
  Server's count of commands: $(tr -d '\n ' <"$TMP/sample-benchmark.commandstats.json").
- \`redis-cli-session.pcap\` — the same session as the test fixture
  \`stream-processor/src/test/resources/pcap/redis/redis-cli-session.pcap\` (see the README
  there) with a ${SAMPLE_BIG_VALUE_BYTES}-byte value instead of ${BIG_VALUE_BYTES}: redis-cli, a RESP3
  connection and CLIENT REPLY OFF/SKIP, on a server with a password. The password
  (\`$FIXTURE_PASSWORD\`, fake) is on the wire in AUTH and HELLO; tapflow must show it as
  \`<redacted>\`.
  Server's count of commands: $(tr -d '\n ' <"$TMP/sample-session.commandstats.json").
EOF
}

# --- main ------------------------------------------------------------------------------------

if [[ $MODE == bench ]]; then
  total=$TAPFLOW_BENCH_TOTAL
  # N requests in all over the 5 tests, per test rounded down to a multiple of 16 (see -P 16).
  BENCH_N=$(((total / 5) / 16 * 16))
  ((BENCH_N >= 16)) || die "--bench N: N too small"
  out=$TAPFLOW_BENCH_DIR
  run_scenario benchmark-plain "$out" scenario_benchmark_plain
  run_scenario benchmark-pipelined "$out" scenario_benchmark_pipelined
  cat >"$out/README.md" <<EOF
Benchmark captures made by scripts/capture-redis.sh --bench $total (Redis $REDIS_VERSION,
$CAPTURE_PATH): redis-benchmark -c 4 -n $BENCH_N -t set,get,incr,lpush,lpop, without and with
-P 16; $((BENCH_N * 5)) requests each plus redis-benchmark's 2 CONFIG GET. File formats as
stream-processor/src/test/resources/pcap/redis/README.md.
EOF
  ls -l "$out" >&2
  exit 0
fi

# Everything is made in a staging directory and moved into the tree only when all of it
# succeeded: an interrupted or failed run leaves the committed files as they were.
FIXTURES_DEST=$FIXTURES SAMPLES_DEST=$SAMPLES
FIXTURES=$TMP/stage/fixtures SAMPLES=$TMP/stage/samples
mkdir -p "$FIXTURES" "$SAMPLES"
SESSION_BIG_BYTES=$BIG_VALUE_BYTES run_scenario redis-cli-session "$FIXTURES" scenario_cli_session "$FIXTURE_PASSWORD"
run_scenario benchmark-plain "$FIXTURES" scenario_benchmark_plain
run_scenario benchmark-pipelined "$FIXTURES" scenario_benchmark_pipelined
run_scenario pubsub "$FIXTURES" scenario_pubsub

# Truth checks that must hold for the benchmarks.
for name in benchmark-plain benchmark-pipelined; do
  for cmd in set get incr lpush lpop; do
    got=$(sed -n "s/^  \"$cmd\": \([0-9]*\).*/\1/p" "$FIXTURES/$name.commandstats.json")
    [[ $got == "$BENCH_N" ]] || die "$name: $cmd calls $got, expected $BENCH_N"
  done
done

# Samples: made in $TMP; only the pcaps are kept (their truth goes into samples/README.md).
SESSION_BIG_BYTES=$SAMPLE_BIG_VALUE_BYTES run_scenario redis-cli-session "$TMP/sample-session" scenario_cli_session "$FIXTURE_PASSWORD"
mv "$TMP/sample-session/redis-cli-session.commandstats.json" "$TMP/sample-session.commandstats.json"
mv -f "$TMP/sample-session/redis-cli-session.pcap" "$SAMPLES/redis-cli-session.pcap"
PREPARE=populate_for_sample run_scenario redis-benchmark "$TMP/sample-benchmark" scenario_sample_benchmark
mv "$TMP/sample-benchmark/redis-benchmark.commandstats.json" "$TMP/sample-benchmark.commandstats.json"
mv -f "$TMP/sample-benchmark/redis-benchmark.pcap" "$SAMPLES/redis-benchmark.pcap"

fixtures_readme
samples_readme
chown -R "$(stat -c %u:%g "$ROOT")" "$TMP/stage"
mkdir -p "$FIXTURES_DEST" "$SAMPLES_DEST"
mv -f "$FIXTURES"/* "$FIXTURES_DEST/"
mv -f "$SAMPLES"/* "$SAMPLES_DEST/"
FIXTURES=$FIXTURES_DEST SAMPLES=$SAMPLES_DEST
log "done: $CAPTURE_PATH"
ls -l "$FIXTURES" "$SAMPLES" >&2
