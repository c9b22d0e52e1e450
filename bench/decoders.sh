#!/usr/bin/env bash
# Decoder figures, one thread, on the recorded fixtures (stream-processor/src/test/resources/pcap):
#  1. per protocol (redis, memcached-udp, dns, kafka): the decode core — reassembly or datagram
#     flows, the decoder, pairing, facts with their ids — in MB/s, segments/s and facts/s;
#  2. the Kafka decoder alone: MB/s and messages/s of framing, and of the whole session
#     (kafka-clients parsing, pairing, fact mapping).
# JMH benchmarks in bench/jmh, short runs (about two minutes); JMH's own log is in
# bench/jmh/target/decoders-jmh.log.
#   bench/decoders.sh
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
kafka="stream-processor/src/test/resources/pcap/kafka"

build_log="$(mktemp)"
trap 'rm -f "$build_log"' EXIT
if ! mvn -q -B -ntp -pl bench/jmh -am -DskipTests package dependency:build-classpath \
    -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime >"$build_log" 2>&1; then
  cat "$build_log"
  exit 1
fi
cp="bench/jmh/target/classes:$(cat bench/jmh/target/classpath.txt)"
java -cp "$cp" dev.tapflow.bench.ProtocolReport bench/jmh/target/protocols-jmh.log stream-processor/src/test/resources/pcap
echo
java -cp "$cp" dev.tapflow.stream.protocol.kafka.KafkaDecoderReport bench/jmh/target/decoders-jmh.log "$kafka"
