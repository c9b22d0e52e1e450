package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.cli.replay.ReplayResult;
import dev.tapflow.embedded.EmbeddedKafka;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Replaying from Kafka is replaying the capture: the redis-benchmark bursts capture is
 * {@code tapflow import}ed into a real (in-JVM) broker with 3 partitions, then replayed by
 * {@code --from/--to} to a fresh redis-server: the same requests per command as replaying the
 * pcap, and the server's commandstats equal the capture's truth. A range that covers only part
 * of the capture replays only that part.
 */
class ReplayFromKafkaTest {

  @TempDir
  Path dir;

  @Test
  void aTimeRangeOfTheSegmentsTopicReplaysLikeTheCapture() throws Exception {
    ReplayServers.assumeTools("redis-server", "redis-cli");
    Path pcap = ReplayServers.REDIS_BURSTS;
    ReplayResult fromPcap = ReplayServers.replay("--target", "redis://127.0.0.1:1", "--pcap", pcap.toString(),
        "--dry-run", "--allow-writes").result();
    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"))) {
      kafka.createTopics(Map.of(KafkaSegmentPublisher.DEFAULT_TOPIC, 3));
      picocli.CommandLine cl = Tapflow.commandLine();
      assertEquals(0, cl.execute("import", "--bootstrap-servers", kafka.bootstrapServers(), pcap.toString()));
      // the capture's first and last request, to the second around them
      Instant first = Instant.ofEpochSecond(0, fromPcapFirstNs(pcap));
      Instant from = first.minusSeconds(1);
      Instant to = first.plusSeconds(60);
      try (ReplayServers.Redis redis = new ReplayServers.Redis(dir, null)) {
        ReplayServers.Run run = ReplayServers.replay("--target", redis.url(), "--bootstrap-servers",
            kafka.bootstrapServers(), "--from", from.toString(), "--to", to.toString(), "--speed", "max",
            "--allow-writes", "--facts");
        ReplayServers.assertOk(run);
        // --facts: one fact per replayed request, vantage replay, the target as server
        Map<String, Long> factCounts = replayFacts(kafka.bootstrapServers(), run.result().sent(), redis.port);
        assertEquals(counts(run.result()), factCounts);
        assertTrue(run.err().contains(run.result().sent() + " facts of the replay published"), run.err());
        assertEquals(counts(fromPcap), counts(run.result()), run.out());
        assertEquals(ReplayServers.truth(ReplayServers.truthBeside(pcap, ".commandstats.json")), redis.commandstats());
        assertEquals(fromPcap.connections(), run.result().connections());
        assertEquals(fromPcap.originalNs(), run.result().originalNs());
      }
      // the first half second only: fewer requests, all of them before its end
      ReplayServers.Run part = ReplayServers.replay("--target", "redis://127.0.0.1:1", "--bootstrap-servers",
          kafka.bootstrapServers(), "--from", from.toString(), "--to", first.plusMillis(500).toString(), "--dry-run",
          "--allow-writes");
      ReplayServers.assertOk(part);
      long partSent = part.result().sent();
      assertTrue(partSent > 0 && partSent < fromPcap.sent(), part.out());
      assertTrue(part.result().originalNs() <= 500_000_000L, part.out());
    }
  }

  /** Reads the facts topic until {@code expected} facts of vantage replay came: their counts per command. */
  private static Map<String, Long> replayFacts(String bootstrap, long expected, int serverPort) {
    java.util.Properties p = new java.util.Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("key.deserializer", org.apache.kafka.common.serialization.ByteArrayDeserializer.class.getName());
    p.put("value.deserializer", org.apache.kafka.common.serialization.ByteArrayDeserializer.class.getName());
    dev.tapflow.schemas.AvroSerde<dev.tapflow.schemas.LatencyFact> serde = dev.tapflow.schemas.AvroSerde.latencyFact();
    Map<String, Long> out = new TreeMap<>();
    long seen = 0;
    try (org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]> c =
        new org.apache.kafka.clients.consumer.KafkaConsumer<>(p)) {
      java.util.List<org.apache.kafka.common.TopicPartition> parts = c.partitionsFor("tapflow.facts.v1").stream()
          .map(i -> new org.apache.kafka.common.TopicPartition(i.topic(), i.partition())).toList();
      c.assign(parts);
      c.seekToBeginning(parts);
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (seen < expected && System.nanoTime() < deadline) {
        for (var rec : c.poll(java.time.Duration.ofMillis(200))) {
          dev.tapflow.schemas.LatencyFact f = serde.decode(rec.value());
          assertEquals("replay", f.getVantage());
          assertEquals(serverPort, f.getServerPort());
          assertEquals(dev.tapflow.schemas.Status.OK, f.getStatus(), f.toString());
          out.merge(f.getCommand(), 1L, Long::sum);
          seen++;
        }
      }
    }
    return out;
  }

  private static Map<String, Long> counts(ReplayResult r) {
    Map<String, Long> out = new TreeMap<>();
    r.commands().forEach((c, s) -> out.put(c, s.count()));
    return out;
  }

  /** The capture time of the pcap's first packet (ns), read by tapflow analyze's facts. */
  private static long fromPcapFirstNs(Path pcap) throws Exception {
    return new Analyzer(dev.tapflow.stream.topology.ProcessorConfig.defaults()).analyze(java.util.List.of(pcap), null)
        .facts().get(0).getRequestFirstNs();
  }
}
