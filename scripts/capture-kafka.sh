#!/usr/bin/env bash
# capture-kafka.sh — Kafka fixture captures from a real broker and real clients, with truth.
#
#   scripts/capture-kafka.sh     fixtures -> stream-processor/src/test/resources/pcap/kafka/
#
# Needs root (network namespace, tcpdump), tcpdump, iproute2 (ethtool if present), Maven.
# Builds the stream-processor test classes, then runs the test-scope program
# dev.tapflow.stream.protocol.kafka.KafkaFixtureRecorder inside a fresh network namespace
# whose lo has MTU 1500 with segmentation offloads off: it starts an Apache Kafka broker in
# its own JVM (KRaft, EmbeddedKafka; PLAINTEXT on 9092, SASL_PLAINTEXT/PLAIN on 29092),
# drives real Java clients scenario by scenario, runs tcpdump around each (nanosecond
# timestamps) and writes per scenario <name>.pcap, <name>.packets.tsv (tcpdump -tt -nn -S
# --nano -r), <name>.truth.json and <name>.requests.tsv. See the README.md beside them.
# The equivalent by hand, from the repository root:
#   mvn -q -o -pl stream-processor -am test-compile
#   mvn -q -o -pl stream-processor dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=/tmp/cp.txt
#   ip netns add k; ip netns exec k ip link set lo up mtu 1500; ip netns exec k ethtool -K lo tso off gso off gro off
#   ip netns exec k java -cp stream-processor/target/test-classes:stream-processor/target/classes:$(cat /tmp/cp.txt) \
#     dev.tapflow.stream.protocol.kafka.KafkaFixtureRecorder OUTDIR WORKDIR
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
FIXTURES="$ROOT/stream-processor/src/test/resources/pcap/kafka"

die() { echo "capture-kafka: error: $*" >&2; exit 1; }

((EUID == 0)) || die "run as root (tcpdump, network namespaces)"
for c in tcpdump ip mvn java; do
  command -v "$c" >/dev/null || die "missing $c"
done

TMP=$(mktemp -d /tmp/tapflow-capture-kafka.XXXXXX)
NS="tapflow-kafka-$$"
cleanup() {
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cd "$ROOT"
mvn -q -B -ntp -pl stream-processor -am test-compile -DskipTests >"$TMP/build.log" 2>&1 || { cat "$TMP/build.log"; die "build failed"; }
mvn -q -B -ntp -pl stream-processor dependency:build-classpath -Dmdep.includeScope=test \
  -Dmdep.outputFile="$TMP/classpath.txt" >"$TMP/cp.log" 2>&1 || { cat "$TMP/cp.log"; die "no classpath"; }
CP="$ROOT/stream-processor/target/test-classes:$ROOT/stream-processor/target/classes:$(cat "$TMP/classpath.txt")"

ip netns add "$NS"
ip netns exec "$NS" ip link set lo up mtu 1500
# Loopback hands whole GSO super-packets (up to 64 KB) to tcpdump; with offloads off TCP
# itself cuts every frame at the MSS, as on a 1500-byte link.
if command -v ethtool >/dev/null && ip netns exec "$NS" ethtool -K lo tso off gso off gro off 2>/dev/null; then
  CAPTURE_PATH="network namespace, lo mtu 1500, tso/gso/gro off (ethtool)"
else
  ip netns exec "$NS" ip link set lo gso_max_segs 1 || die "cannot turn off segmentation offload in the namespace"
  CAPTURE_PATH="network namespace, lo mtu 1500, gso_max_segs 1 (no ethtool)"
fi
echo "capture-kafka: capture path: $CAPTURE_PATH" >&2

# Everything is written to a staging directory and moved into the tree only when all of it
# succeeded: a failed run leaves the committed fixtures as they were.
mkdir -p "$TMP/out" "$TMP/work"
ip netns exec "$NS" java -cp "$CP" dev.tapflow.stream.protocol.kafka.KafkaFixtureRecorder "$TMP/out" "$TMP/work"
chown -R "$(stat -c %u:%g "$ROOT")" "$TMP/out"
mkdir -p "$FIXTURES"
mv -f "$TMP/out"/* "$FIXTURES/"
ls -l "$FIXTURES" >&2
