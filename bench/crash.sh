#!/usr/bin/env bash
# The crash tests at a larger scale than CI runs them (not run by CI):
#   ProcessorKilledTest with COPIES copies of benchmark-plain (2562 pairs each) and KILLS
#   SIGKILLs of a processor instance plus KILLS of the sink, then PipelineOutageTest with
#   outages of OUTAGE seconds. Prints each test's phases (kills, facts at each kill, counts).
#   bench/crash.sh [COPIES [KILLS [OUTAGE]]]     defaults: 200 25 120   (needs root: live capture)
set -euo pipefail
cd "$(dirname "$0")/.."
copies="${1:-200}"
kills="${2:-25}"
outage="${3:-120}"
mvn -o -q -pl cli -am verify -Dtest='ProcessorKilledTest,PipelineOutageTest' -Dsurefire.failIfNoSpecifiedTests=false \
  -Dtapflow.test.killCopies="$copies" -Dtapflow.test.kills="$kills" -Dtapflow.test.outageSeconds="$outage"
for t in ProcessorKilledTest PipelineOutageTest; do
  echo "== $t: $(grep -o 'time="[0-9.]*"' "cli/target/surefire-reports/TEST-dev.tapflow.cli.$t.xml" | head -1)"
  grep -E '^ *[0-9]+ ms ' "cli/target/surefire-reports/dev.tapflow.cli.$t-output.txt"
done
