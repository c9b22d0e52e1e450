#!/usr/bin/env bash
# The sink's figures on the embedded PostgreSQL and broker of `tapflow local`:
#  1. facts/s into latency_facts (partitioned by day) by multi-row INSERT and by COPY through
#     a staging table, new facts and the same facts again (every id already stored);
#  2. end-to-end freshness (a response's capture time -> its fact visible in PostgreSQL),
#     p50/p90/p99, at steady rates of synthetic Redis traffic through broker, processor
#     (exactly_once_v2) and sink, all in one JVM on this machine.
#   bench/sink.sh [FACTS [RATE,RATE... [SECONDS [WORKDIR]]]]    defaults: 200000 1000,5000 20
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
facts="${1:-200000}"
rates="${2:-1000,5000}"
seconds="${3:-20}"
work="${4:-$(mktemp -d /tmp/tapflow-sink-bench.XXXXXX)}"

. bench/classpath.sh
java -cp "$cp" dev.tapflow.bench.SinkBenchmark "$work" "$facts" "$rates" "$seconds"
rm -rf "$work"
