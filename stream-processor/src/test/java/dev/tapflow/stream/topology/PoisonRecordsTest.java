package dev.tapflow.stream.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.capture.BatchListener;
import dev.tapflow.capture.CaptureFileImporter;
import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.stream.ProcessorApp;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.function.Function;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Poison records on the segments topic, on the real broker with the processor running: a real
 * capture's segments with records that are not ours between them (other bytes, an unknown
 * schema fingerprint, a cut datum, a key that is not a ConnectionKey). The facts are exactly
 * the ones the same segments give without the poison; each poison record is counted and is in
 * the dead-letter topic once, unchanged, with its source topic, partition, offset, timestamp
 * and a reason.
 */
class PoisonRecordsTest {

  private static final Path FIXTURE = Path.of("src/test/resources/pcap/redis/pubsub.pcap");

  @TempDir
  Path dir;

  /** A record as it goes on the topic. */
  private record Raw(byte[] key, byte[] value, long tsMs) {}

  @Test
  void poisonIsCountedDeadLetteredAndSkipped() throws Exception {
    ProcessorConfig config = ProcessorConfig.defaults();
    AvroSerde<ConnectionKey> keys = AvroSerde.connectionKey();
    AvroSerde<SegmentBatch> batches = AvroSerde.segmentBatch();
    List<Raw> real = new ArrayList<>();
    new CaptureFileImporter().importFile(FIXTURE, "poison-agent", new BatchListener() {
      @Override
      public void onBatch(ConnectionKey key, SegmentBatch batch) {
        real.add(new Raw(keys.encode(key), batches.encode(batch), BatchListener.timestampMs(batch)));
      }

      @Override
      public void onEndOfCapture(String agent, long lastTsNs) {
        SegmentBatch marker = new SegmentBatch();
        marker.setSegments(List.of());
        marker.setEndOfCapture(true);
        marker.setEndTsNs(lastTsNs);
        marker.setVantage(dev.tapflow.schemas.VantageSetting.AUTO);
        marker.setLocalEndpoints(0);
        real.add(new Raw(keys.encode(KafkaSegmentPublisher.endOfCaptureKey(agent)), batches.encode(marker),
            Math.floorDiv(lastTsNs, 1_000_000L)));
      }
    });
    assertTrue(real.size() > 10, "batches in the fixture: " + real.size());
    List<LatencyFact> expected = inMemory(config, real);
    assertFalse(expected.isEmpty());

    // the poison: what each one is made of, from a real record
    List<Function<Raw, Raw>> poisons = List.of(
        r -> new Raw(r.key, "not avro at all".getBytes(StandardCharsets.UTF_8), r.tsMs),
        r -> new Raw(r.key, unknownFingerprint(r.value), r.tsMs),
        r -> new Raw(r.key, Arrays.copyOf(r.value, r.value.length / 2), r.tsMs),
        r -> new Raw("a key that is not a ConnectionKey".getBytes(StandardCharsets.UTF_8), r.value, r.tsMs),
        r -> new Raw(r.key, new byte[0], r.tsMs));

    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"))) {
      kafka.createTopics(Map.of(config.segmentsTopic(), 1, config.factsTopic(), 1, config.decodeErrorsTopic(), 1,
          LatencyWindowConfig.defaults().topic(), 1, DeadLetters.TOPIC, 1));
      Map<Long, Raw> poisonAt = new TreeMap<>();
      try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps(kafka),
          new ByteArraySerializer(), new ByteArraySerializer())) {
        for (int i = 0; i < real.size(); i++) {
          Raw r = real.get(i);
          if (i % 3 == 1) {
            Raw p = poisons.get(poisonAt.size() % poisons.size()).apply(r);
            poisonAt.put(send(producer, config.segmentsTopic(), p), p);
          }
          send(producer, config.segmentsTopic(), r);
        }
      }
      assertTrue(poisonAt.size() >= poisons.size(), "poison records: " + poisonAt.size());
      try (ProcessorApp app = new ProcessorApp(config, kafka.bootstrapServers(), "poison-app", dir.resolve("state"),
          Map.of())) {
        app.start();
        assertTrue(app.awaitCaughtUp(Duration.ofSeconds(90)), "caught up");
        assertEquals(poisonAt.size(), app.deadLetters(), "poison counted");
      }

      List<ConsumerRecord<byte[], byte[]>> facts = read(kafka, config.factsTopic(), expected.size());
      AvroSerde<LatencyFact> factSerde = AvroSerde.latencyFact();
      assertEquals(byId(expected), byId(facts.stream().map(r -> factSerde.decode(r.value())).toList()),
          "facts exactly as without the poison");

      List<ConsumerRecord<byte[], byte[]>> dead = read(kafka, DeadLetters.TOPIC, poisonAt.size());
      for (ConsumerRecord<byte[], byte[]> d : dead) {
        long offset = Long.parseLong(header(d, DeadLetters.SOURCE_OFFSET));
        Raw p = poisonAt.remove(offset);
        assertTrue(p != null, "dead letter of offset " + offset + " is one of the poison records, once");
        assertEquals(config.segmentsTopic(), header(d, DeadLetters.SOURCE_TOPIC));
        assertEquals("0", header(d, DeadLetters.SOURCE_PARTITION));
        assertEquals(Long.toString(p.tsMs), header(d, DeadLetters.SOURCE_TIMESTAMP));
        assertEquals("stream-processor", header(d, DeadLetters.STAGE));
        assertEquals("poison-app", header(d, DeadLetters.APPLICATION_ID));
        String reason = header(d, DeadLetters.REASON);
        assertFalse(reason.isBlank() || reason.contains("\n"), reason);
        assertTrue(Arrays.equals(p.key, d.key()) && Arrays.equals(p.value, d.value()), "bytes unchanged");
      }
      assertTrue(poisonAt.isEmpty(), "every poison record dead-lettered: " + poisonAt.keySet());
    }
  }

  /** The same records through the engine in memory, as {@code tapflow analyze} runs it. */
  private static List<LatencyFact> inMemory(ProcessorConfig config, List<Raw> records) {
    ConnectionEngine engine = new ConnectionEngine(config);
    InMemoryStore store = new InMemoryStore();
    FactCollector out = new FactCollector();
    StreamClock clock = new StreamClock(config);
    KeyDecoder keys = new KeyDecoder();
    AvroSerde<SegmentBatch> batches = AvroSerde.segmentBatch();
    for (Raw r : records) {
      SegmentBatch b = batches.decode(r.value);
      ConnectionKey k = keys.decode(r.key);
      engine.onBatch(r.key, k, b, store, out);
      if (clock.advance(r.tsMs)) {
        engine.onStreamTime(clock.streamTimeNs(), store, out);
      }
    }
    return out.facts();
  }

  /** A single-object encoded record with a schema fingerprint nobody knows. */
  private static byte[] unknownFingerprint(byte[] value) {
    byte[] b = value.clone();
    for (int i = 2; i < 10; i++) {
      b[i] = (byte) ~b[i];
    }
    return b;
  }

  private static Map<String, String> byId(List<LatencyFact> facts) {
    Map<String, String> m = new TreeMap<>();
    for (LatencyFact f : facts) {
      assertTrue(m.put(f.getId(), f.toString()) == null, "one fact per id: " + f.getId());
    }
    return m;
  }

  private static long send(KafkaProducer<byte[], byte[]> producer, String topic, Raw r) throws Exception {
    return producer.send(new ProducerRecord<>(topic, 0, r.tsMs, r.key, r.value)).get().offset();
  }

  private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
    Header h = r.headers().lastHeader(name);
    assertTrue(h != null, "header " + name);
    return new String(h.value(), StandardCharsets.UTF_8);
  }

  private static Properties producerProps(EmbeddedKafka kafka) {
    Properties p = new Properties();
    p.put("bootstrap.servers", kafka.bootstrapServers());
    p.put("enable.idempotence", "true");
    return p;
  }

  private static List<ConsumerRecord<byte[], byte[]>> read(EmbeddedKafka kafka, String topic, int expected) {
    Properties p = new Properties();
    p.put("bootstrap.servers", kafka.bootstrapServers());
    p.put("group.id", "poison-test-" + topic);
    p.put("auto.offset.reset", "earliest");
    p.put("isolation.level", "read_committed");
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      consumer.subscribe(List.of(topic));
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (System.nanoTime() < deadline && out.size() < expected) {
        consumer.poll(Duration.ofMillis(200)).forEach(out::add);
      }
      consumer.poll(Duration.ofMillis(500)).forEach(out::add); // nothing beyond
    }
    assertEquals(expected, out.size(), "records on " + topic);
    return out;
  }
}
