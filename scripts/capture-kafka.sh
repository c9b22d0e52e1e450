#!/usr/bin/env bash
# capture-kafka.sh — Kafka fixture captures from a real broker and real clients, with truth.
#
#   scripts/capture-kafka.sh [SCENARIO,...]   fixtures -> stream-processor/src/test/resources/pcap/kafka/
#                                            (all scenarios, or only the named ones, e.g. sasl-scram)
#
# Needs root (network namespace, tcpdump), tcpdump, iproute2 (ethtool if present), Maven.
# Builds the stream-processor test classes, then runs the test-scope program
# dev.tapflow.stream.protocol.kafka.KafkaFixtureRecorder inside a fresh network namespace
# whose lo has MTU 1500 with segmentation offloads off (scripts/lib/capture-common.sh): it
# starts an Apache Kafka broker in its own JVM (KRaft, EmbeddedKafka; PLAINTEXT on 9092,
# SASL_PLAINTEXT with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 on 29092), drives real Java clients scenario by scenario, runs
# tcpdump around each (nanosecond timestamps) and writes per scenario <name>.pcap,
# <name>.packets.tsv (tcpdump -tt -nn -S --nano -r), <name>.truth.json and
# <name>.requests.tsv. See the README.md beside them. The equivalent by hand, from the
# repository root:
#   mvn -q -o -pl stream-processor -am test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=/tmp/cp.txt
#   ip netns add k; ip netns exec k ip link set lo up mtu 1500; ip netns exec k ethtool -K lo tso off gso off gro off
#   ip netns exec k java -cp stream-processor/target/test-classes:stream-processor/target/classes:$(cat /tmp/cp.txt) \
#     dev.tapflow.stream.protocol.kafka.KafkaFixtureRecorder OUTDIR WORKDIR
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
FIXTURES="$ROOT/stream-processor/src/test/resources/pcap/kafka"

die() { echo "capture-kafka: error: $*" >&2; exit 1; }
log() { echo "capture-kafka: $*" >&2; }
# shellcheck source=lib/capture-common.sh
. "$ROOT/scripts/lib/capture-common.sh"

if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  case ${1:-} in -h|--help) sed -n '2,20p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;; -*) die "unknown option $1" ;; esac
  (($# <= 1)) || die "at most one argument: SCENARIO,..."
  export TAPFLOW_KAFKA_SCENARIOS=${1:-}
  for c in tcpdump ip mvn java; do
    command -v "$c" >/dev/null || die "missing $c"
  done
  TMP=$(mktemp -d /tmp/tapflow-capture-kafka.XXXXXX)
  trap 'rm -rf "$TMP"' EXIT
  cd "$ROOT"
  # one reactor run: the sibling modules resolve to their target/classes (nothing is installed);
  # each module writes the classpath file, stream-processor (built last) wins
  mvn -q -B -ntp -pl stream-processor -am test-compile dependency:build-classpath -DskipTests \
    -Dmdep.includeScope=test -Dmdep.outputFile="$TMP/classpath.txt" >"$TMP/build.log" 2>&1 \
    || { cat "$TMP/build.log"; die "build failed"; }
  # Everything is written to a staging directory and moved into the tree only when all of it
  # succeeded: a failed run leaves the committed fixtures as they were.
  mkdir -p "$TMP/out" "$TMP/work"
  export TAPFLOW_KAFKA_TMP=$TMP
  (in_namespace "$SELF" tapflow-kafka)
  chown -R "$(stat -c %u:%g "$ROOT")" "$TMP/out"
  mkdir -p "$FIXTURES"
  mv -f "$TMP/out"/* "$FIXTURES/"
  ls -l "$FIXTURES" >&2
  exit 0
fi

# ---- inside the namespace ----
TMP=$TAPFLOW_KAFKA_TMP
log "capture path: $TAPFLOW_CAPTURE_PATH"
CP="$ROOT/stream-processor/target/test-classes:$ROOT/stream-processor/target/classes:$(cat "$TMP/classpath.txt")"
java -cp "$CP" dev.tapflow.stream.protocol.kafka.KafkaFixtureRecorder "$TMP/out" "$TMP/work" "${TAPFLOW_KAFKA_SCENARIOS:-}"
