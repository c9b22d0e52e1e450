#!/usr/bin/env bash
# Decoder figures: MB/s and messages/s (requests and responses) of the Kafka decoder, one
# thread, on the recorded Kafka fixtures (stream-processor/src/test/resources/pcap/kafka):
# framing alone, and the whole session (kafka-clients parsing, pairing, fact mapping).
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
java -cp "$cp" dev.tapflow.stream.protocol.kafka.KafkaDecoderReport bench/jmh/target/decoders-jmh.log "$kafka"
