#!/usr/bin/env bash
# Large real captures for bench/run.sh, made on demand (not committed): real servers and real
# clients, recorded by tcpdump (nanosecond timestamps) in a fresh network namespace whose lo has
# MTU 1500 and offloads off (scripts/lib/capture-common.sh), one capture per load:
#   redis-plain.pcap       redis-benchmark -c 4 -t set,get,incr,lpush,lpop, one request per packet
#   redis-pipelined.pcap   the same requests with -P 16 (16 per packet: ~1/16 of the packets)
#                          (both by scripts/capture-redis.sh --bench)
#   memcached.pcap         memcached + memcslap (libmemcached-tools), text protocol over TCP, get/set
#   dns.pcap               dnsmasq answering a local zone + dnsperf, UDP
#   kafka.pcap             the embedded KRaft broker + a Java producer (acks=1, small batches) and a
#                          consumer group (bench/jmh KafkaTraffic)
# PACKETS (default 1100000) sets the size of each (redis-pipelined: the same requests as plain).
#   bench/generate.sh [--packets N] [--only redis,memcached,dns,kafka] [OUTDIR]   (OUTDIR: bench/target/captures)
# Needs root, tcpdump, iproute2, redis-server, redis-tools, memcached, libmemcached-tools, dnsmasq-base, dnsperf.
set -euo pipefail
export LC_ALL=C
SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
die() { echo "bench/generate: error: $*" >&2; exit 1; }
log() { echo "bench/generate: $*" >&2; }
# shellcheck source=../scripts/lib/capture-common.sh
. "$ROOT/scripts/lib/capture-common.sh"

if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  packets=1100000; only=redis,memcached,dns,kafka; out="$ROOT/bench/target/captures"
  while (($#)); do
    case $1 in
      --packets) packets=$2; shift 2 ;;
      --only) only=$2; shift 2 ;;
      -h|--help) sed -n '2,15p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) out=$1; shift ;;
    esac
  done
  [[ $packets =~ ^[0-9]+$ ]] || die "--packets N: a number"
  ((EUID == 0)) || die "run as root (tcpdump, network namespaces)"
  mkdir -p "$out"; out=$(cd "$out" && pwd)
  if [[ ,$only, == *,redis,* ]]; then
    # capture-redis.sh --bench N: N requests per capture (5 tests of N/5); plain: 2 packets a request
    tmp=$(mktemp -d /tmp/bench-generate-redis.XXXXXX)
    "$ROOT/scripts/capture-redis.sh" --bench $((packets / 2)) "$tmp" >&2
    mv "$tmp/benchmark-plain.pcap" "$out/redis-plain.pcap"
    mv "$tmp/benchmark-pipelined.pcap" "$out/redis-pipelined.pcap"
    rm -rf "$tmp"
  fi
  if [[ ,$only, == *,kafka,* ]]; then
    cd "$ROOT"
    . bench/classpath.sh # builds bench/jmh (KafkaTraffic)
    export BENCH_CP="$ROOT/$cp"
  fi
  export BENCH_PACKETS=$packets BENCH_ONLY=$only BENCH_OUT=$out
  in_namespace "$SELF" bench-generate
  for f in "$out"/*.pcap; do
    chown "$(stat -c %u:%g "$ROOT")" "$f"
    log "$(basename "$f"): $(capinfos -c -M "$f" 2>/dev/null | sed -n 's/^Number of packets: *//p') packets, $(stat -c %s "$f") bytes"
  done
  exit 0
fi

# Inner part: inside the namespace.
TMP=$(mktemp -d /tmp/bench-generate.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  [[ -z ${TCPDUMP_PID:-} ]] || kill "$TCPDUMP_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
n=$BENCH_PACKETS
export TCPDUMP_BUFFER_KB=262144 # the loads set their own pace: room for bursts on a busy machine

if [[ ,$BENCH_ONLY, == *,memcached,* ]]; then
  # memcslap (4 threads): sets, then gets; ~4.5 packets per operation (request, reply, acks):
  # ~0.45 x PACKETS packets (500k for the default, 363 MB; memcslap has no value-size option); a
  # kernel buffer of 256 MiB for tcpdump: memcslap sets its own pace
  log "memcached"
  memcached_start 11211 -l 127.0.0.1 -p 11211 -U 0 -m 256
  PIDS+=("$MEMCACHED_PID")
  tcpdump_start "$BENCH_OUT/memcached.pcap" "tcp port 11211"
  memcslap --servers=127.0.0.1:11211 --concurrency=4 --execute-number=$((n / 80)) --test=get --tcp-nodelay >"$TMP/memcslap.out"
  memcslap --servers=127.0.0.1:11211 --concurrency=4 --execute-number=$((n / 80)) --test=set --tcp-nodelay >>"$TMP/memcslap.out"
  tcpdump_stop
fi

if [[ ,$BENCH_ONLY, == *,dns,* ]]; then
  # dnsmasq answers names of a local zone from its own configuration; dnsperf keeps 100 queries
  # in flight from 4 sockets; one packet each way
  log "dns"
  chmod 755 "$TMP"
  dnsmasq --port=53 --listen-address=127.0.0.1 --bind-interfaces --no-resolv --no-hosts --no-poll \
    --address=/bench.tapflow.test/10.11.12.13 --cache-size=1000 --pid-file="$TMP/dnsmasq.pid"
  PIDS+=("$(cat "$TMP/dnsmasq.pid")")
  for ((i = 0; i < 100; i++)); do
    dig +short +tries=1 +timeout=1 @127.0.0.1 www.bench.tapflow.test A >/dev/null 2>&1 && break
    sleep 0.05
  done
  for i in $(seq 1 1000); do echo "host$i.bench.tapflow.test A"; done >"$TMP/queries"
  tcpdump_start "$BENCH_OUT/dns.pcap" "udp port 53"
  dnsperf -s 127.0.0.1 -p 53 -d "$TMP/queries" -c 4 -n $((n / 2000)) -q 100 >"$TMP/dnsperf.out" 2>&1 || { cat "$TMP/dnsperf.out" >&2; die "dnsperf failed"; }
  tcpdump_stop
  grep -E "Queries (sent|completed|lost)" "$TMP/dnsperf.out" >&2
fi

if [[ ,$BENCH_ONLY, == *,kafka,* ]]; then
  # ~3 packets per record at these settings; the broker's own controller traffic is on another port
  log "kafka"
  mkfifo "$TMP/kafka.in"
  java -Xmx1g -cp "$BENCH_CP" dev.tapflow.bench.KafkaTraffic "$TMP" $((n / 3)) <"$TMP/kafka.in" >"$TMP/kafka.log" 2>&1 &
  kpid=$!; PIDS+=("$kpid")
  exec 7>"$TMP/kafka.in"
  for _ in $(seq 1 600); do [[ -s $TMP/port ]] && break; kill -0 "$kpid" || break; sleep 0.1; done
  [[ -s $TMP/port ]] || { cat "$TMP/kafka.log" >&2; die "broker did not start"; }
  tcpdump_start "$BENCH_OUT/kafka.pcap" "tcp port $(cat "$TMP/port")"
  echo go >&7
  wait "$kpid" || { cat "$TMP/kafka.log" >&2; die "kafka traffic failed"; }
  exec 7>&-
  tcpdump_stop
  grep kafka-traffic "$TMP/kafka.log" >&2
fi
