#!/usr/bin/env bash
# Fuzzing campaigns (Jazzer, coverage-guided) for every decoder, the reassembler and the
# capture file reader, one target after the other, each until N executions or a time limit.
#
#   scripts/fuzz.sh [EXECUTIONS] [MAX_DURATION]        # defaults: 10000000 executions, 2h per target
#   TARGETS="stream-processor:DecoderFuzzTest#redisSession" scripts/fuzz.sh 1000000 10m
#
# A target's run ends with libFuzzer's "Done N runs in S second(s)"; this prints one summary
# line per target (runs, seconds, result) and keeps the whole output in target/fuzz/<target>.log.
# A finding makes the test fail and leaves the crashing input in the test's Inputs directory
# (src/test/resources/.../<Class>Inputs/<method>/crash-*): commit it with the fix, and every
# build replays it. The heap is capped (-Xmx512m) so unbounded allocation is a finding too.
set -euo pipefail
cd "$(dirname "$0")/.."
EXECUTIONS=${1:-10000000}
DURATION=${2:-2h}
TARGETS=${TARGETS:-"
stream-processor:DecoderFuzzTest#redisSession
stream-processor:DecoderFuzzTest#memcachedSession
stream-processor:DecoderFuzzTest#kafkaSession
stream-processor:DecoderFuzzTest#dnsSession
stream-processor:DecoderFuzzTest#connectionTracker
stream-processor:DatagramAndReassemblyFuzzTest#dnsDatagrams
stream-processor:DatagramAndReassemblyFuzzTest#memcachedDatagrams
stream-processor:DatagramAndReassemblyFuzzTest#streamReassembler
capture-producer:CaptureFuzzTest#frames
capture-producer:CaptureFuzzTest#captureFile
protocol-http:HttpFuzzTest#httpSession
"}
mvn -o -q -pl capture-producer,stream-processor,protocol-http -am test-compile
mkdir -p target/fuzz
for t in $TARGETS; do
  module=${t%%:*}; test=${t#*:}
  log=target/fuzz/${test//#/.}.log
  rc=0
  JAZZER_FUZZ=1 JAZZER_MAX_EXECUTIONS=$EXECUTIONS JAZZER_MAX_DURATION=$DURATION \
    mvn -o -pl "$module" -am test -Dtest="$test" -Dsurefire.failIfNoSpecifiedTests=false -DargLine=-Xmx512m >"$log" 2>&1 || rc=$?
  done_line=$(grep -a -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
  echo "$test: ${done_line:-no Done line} (exit $rc)"
done
