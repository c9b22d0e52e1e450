#!/usr/bin/env bash
# Reassembly figures: StreamReassembler throughput (segments/s, one thread) on real Redis
# captures (redis-benchmark: small segments; redis-cli session: full-size segments), in
# capture order and reordered, and the serialised state of an idle connection
# (ConnectionTracker.toBytes()) for Redis and, when shared/ is beside the repo, memcached.
# JMH benchmarks in bench/jmh, short runs (about a minute); JMH's own log is in
# bench/jmh/target/reassembly-jmh.log.
#   bench/reassembly.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
redis="stream-processor/src/test/resources/pcap/redis"
state=("$redis/redis-cli-session.pcap" "$redis/benchmark-plain.pcap")
shared_captures="$here/../shared/conformance/captures"
for f in pb_memcache_text_tcp_single_load_store pb_memcache_bin_tcp_single_load_store; do
  [ -f "$shared_captures/$f.pcap" ] && state+=("$shared_captures/$f.pcap")
done

. bench/classpath.sh
java -cp "$cp" dev.tapflow.bench.ReassemblyReport bench/jmh/target/reassembly-jmh.log "$redis" "${state[@]}"
