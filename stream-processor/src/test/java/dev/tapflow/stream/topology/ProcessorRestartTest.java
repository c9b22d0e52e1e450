package dev.tapflow.stream.topology;

import static dev.tapflow.stream.topology.Conn.MS;
import static dev.tapflow.stream.topology.Conn.batch;
import static dev.tapflow.stream.topology.Conn.resp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Status;
import dev.tapflow.stream.ProcessorApp;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.stream.Stream;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A processor stopped in the middle of a request, its local state wiped, and a new one
 * started: the connection's state comes back from the changelog on the real broker and the
 * request, completed by the segments published after the restart, pairs with its reply.
 */
class ProcessorRestartTest {

  private static final long T0 = 1_704_067_200_000L * MS;

  @TempDir
  Path dir;

  @Test
  void connectionStateIsRestoredFromTheChangelog() throws Exception {
    ProcessorConfig config = ProcessorConfig.defaults();
    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"))) {
      kafka.createTopics(Map.of(config.segmentsTopic(), 1, config.factsTopic(), 1, config.decodeErrorsTopic(), 1));
      Conn c = new Conn("restart-host", 7, 40000, 6379);
      String set = resp("SET", "k", "a-value-that-is-split");
      try (KafkaProducer<byte[], SegmentBatch> producer = producer(kafka)) {
        Path state1 = dir.resolve("state1");
        try (ProcessorApp app = new ProcessorApp(config, kafka.bootstrapServers(), "restart-app", state1, Map.of())) {
          app.start();
          send(producer, config, c, batch(c.syn(T0), c.synAck(T0 + MS)));
          send(producer, config, c, batch(c.client(T0 + 2 * MS, resp("PING")), c.server(T0 + 3 * MS, "+PONG\r\n"),
              c.client(T0 + 4 * MS, set.substring(0, 17))));
          assertTrue(app.awaitCaughtUp(Duration.ofSeconds(60)));
        }
        deleteRecursively(state1); // nothing local survives: only the changelog has the connection
        try (ProcessorApp app = new ProcessorApp(config, kafka.bootstrapServers(), "restart-app", dir.resolve("state2"), Map.of())) {
          app.start();
          send(producer, config, c, batch(c.client(T0 + 5 * MS, set.substring(17)), c.server(T0 + 9 * MS, "+OK\r\n")));
          assertTrue(app.awaitCaughtUp(Duration.ofSeconds(60)));
        }
      }
      List<LatencyFact> facts = readFacts(kafka, config, 2);
      facts.sort(Comparator.comparingLong(LatencyFact::getRequestFirstNs));
      assertEquals(List.of("PING", "SET"), facts.stream().map(LatencyFact::getCommand).toList());
      LatencyFact f = facts.get(1);
      assertEquals(Status.OK, f.getStatus());
      assertEquals("k", f.getResource());
      assertEquals(T0 + 4 * MS, f.getRequestFirstNs(), "first byte before the restart");
      assertEquals(T0 + 5 * MS, f.getRequestLastNs(), "last byte after the restart");
      assertEquals(4 * MS, f.getLatencyNs());
    }
  }

  private static KafkaProducer<byte[], SegmentBatch> producer(EmbeddedKafka kafka) {
    Properties p = new Properties();
    p.put("bootstrap.servers", kafka.bootstrapServers());
    p.put("enable.idempotence", "true");
    return new KafkaProducer<>(p, new ByteArraySerializer(), AvroSerde.segmentBatch().serializer());
  }

  private static void send(KafkaProducer<byte[], SegmentBatch> producer, ProcessorConfig config, Conn c, SegmentBatch b)
      throws Exception {
    long ts = b.getSegments().get(0).getTsNs() / MS;
    producer.send(new ProducerRecord<>(config.segmentsTopic(), null, ts, c.keyBytes, b)).get();
  }

  private static List<LatencyFact> readFacts(EmbeddedKafka kafka, ProcessorConfig config, int expected) {
    Properties p = new Properties();
    p.put("bootstrap.servers", kafka.bootstrapServers());
    p.put("group.id", "restart-test-reader");
    p.put("auto.offset.reset", "earliest");
    p.put("isolation.level", "read_committed");
    List<LatencyFact> out = new ArrayList<>();
    try (KafkaConsumer<byte[], LatencyFact> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
        AvroSerde.latencyFact().deserializer())) {
      consumer.subscribe(List.of(config.factsTopic()));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], LatencyFact> r : consumer.poll(Duration.ofMillis(200))) {
          out.add(r.value());
        }
        if (out.size() >= expected) {
          // one more poll: nothing beyond what is expected
          consumer.poll(Duration.ofMillis(500)).forEach(r -> out.add(r.value()));
          break;
        }
      }
    }
    assertEquals(expected, out.size(), "facts on the topic: " + out);
    return out;
  }

  private static void deleteRecursively(Path p) throws Exception {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(x);
      }
    }
  }
}
