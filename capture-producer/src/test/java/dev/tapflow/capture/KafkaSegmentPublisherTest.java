package dev.tapflow.capture;

import static dev.tapflow.capture.TestFrames.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Transport;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.stream.IntStream;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The publisher against kafka-clients' own MockProducer (which still runs the Avro serializers).
 * A broker test comes with the embedded broker.
 */
class KafkaSegmentPublisherTest {
  static final String TOPIC = KafkaSegmentPublisher.DEFAULT_TOPIC;
  static final long T0 = 1_700_000_000_123_456_789L;

  @TempDir Path dir;

  static MockProducer<ConnectionKey, SegmentBatch> producer(boolean autoComplete, int partitions) {
    Node node = new Node(0, "localhost", 9092);
    List<PartitionInfo> infos = IntStream.range(0, partitions)
        .mapToObj(i -> new PartitionInfo(TOPIC, i, node, new Node[] {node}, new Node[] {node})).toList();
    Cluster cluster = new Cluster("test", List.of(node), infos, Set.of(), Set.of());
    return new MockProducer<>(cluster, autoComplete, null,
        AvroSerde.connectionKey().serializer(), AvroSerde.segmentBatch().serializer());
  }

  static Path session(Path dir) throws Exception {
    TestPcap.Writer w = TestPcap.pcap(LinkType.RAW, true);
    List<byte[]> packets = CaptureFileImporterTest.session(false);
    for (int i = 0; i < packets.size(); i++) {
      w.add(T0 + i * 1500L, packets.get(i));
    }
    return w.write(dir.resolve("s.pcap"));
  }

  @Test
  void batchesThenEndOfCaptureInEveryPartition() throws Exception {
    MockProducer<ConnectionKey, SegmentBatch> mock = producer(true, 3);
    KafkaSegmentPublisher publisher = new KafkaSegmentPublisher(mock, TOPIC);
    CaptureStats stats = new CaptureFileImporter().importFile(session(dir), "agent-7", publisher);
    publisher.close();

    List<ProducerRecord<ConnectionKey, SegmentBatch>> sent = mock.history();
    assertEquals(2 + 3, sent.size());
    assertEquals(5, publisher.sent());
    assertEquals(5, publisher.acked());
    assertEquals(0, publisher.failed());
    for (int i = 0; i < 2; i++) {
      ProducerRecord<ConnectionKey, SegmentBatch> r = sent.get(i);
      assertEquals(TOPIC, r.topic());
      assertNull(r.partition(), "partitioned by key");
      assertEquals("agent-7", r.key().getAgent());
      assertEquals(r.value().getSegments().get(0).getTsNs() / 1_000_000L, r.timestamp());
      assertFalse(r.value().getEndOfCapture());
      // the bytes the broker would get decode to the same records
      AvroSerde<SegmentBatch> serde = AvroSerde.segmentBatch();
      assertEquals(r.value(), serde.decode(serde.encode(r.value())));
    }
    assertEquals(T0 / 1_000_000L, sent.get(0).timestamp());
    for (int p = 0; p < 3; p++) {
      ProducerRecord<ConnectionKey, SegmentBatch> r = sent.get(2 + p);
      assertEquals(p, r.partition());
      assertEquals(stats.lastTsNs() / 1_000_000L, r.timestamp());
      ConnectionKey k = r.key();
      assertEquals("agent-7", k.getAgent());
      assertEquals(Transport.TCP, k.getTransport());
      assertEquals(ByteBuffer.wrap(new byte[4]), k.getIpA());
      assertEquals(0, k.getPortA());
      assertEquals(ByteBuffer.wrap(new byte[4]), k.getIpB());
      assertEquals(0, k.getPortB());
      assertTrue(r.value().getSegments().isEmpty());
      assertTrue(r.value().getEndOfCapture());
      assertEquals(stats.lastTsNs(), r.value().getEndTsNs());
      AvroSerde<ConnectionKey> keySerde = AvroSerde.connectionKey();
      assertEquals(k, keySerde.decode(keySerde.encode(k)));
    }
  }

  @Test
  void asyncFailuresAreCountedReportedAndStopTheNextSend() throws Exception {
    MockProducer<ConnectionKey, SegmentBatch> mock = producer(false, 1);
    KafkaSegmentPublisher publisher = new KafkaSegmentPublisher(mock, TOPIC);
    List<Object[]> batches = new java.util.ArrayList<>();
    new CaptureFileImporter(SegmentBatcher.Options.defaults(), false)
        .importFile(session(dir), "a", (k, b) -> batches.add(new Object[] {k, b}));
    for (Object[] kb : batches) {
      publisher.onBatch((ConnectionKey) kb[0], (SegmentBatch) kb[1]);
    }
    assertTrue(mock.errorNext(new KafkaException("NOT_ENOUGH_REPLICAS")));
    PublishException e = assertThrows(PublishException.class, publisher::flush);
    assertEquals(1, e.failed());
    assertTrue(e.getMessage().contains("1 of 2 record(s)") && e.getMessage().contains("NOT_ENOUGH_REPLICAS"), e.getMessage());
    assertEquals(1, publisher.acked());
    KafkaException next = assertThrows(KafkaException.class,
        () -> publisher.onBatch((ConnectionKey) batches.get(0)[0], (SegmentBatch) batches.get(0)[1]));
    assertTrue(next.getMessage().contains("NOT_ENOUGH_REPLICAS"));
    assertThrows(PublishException.class, publisher::close, "close reports it too");
    assertTrue(mock.closed());
  }

  @Test
  void topicWithoutPartitionsIsAnError() {
    KafkaSegmentPublisher publisher = new KafkaSegmentPublisher(producer(true, 0), TOPIC);
    KafkaException e = assertThrows(KafkaException.class, () -> publisher.endOfCapture("a", T0));
    assertTrue(e.getMessage().contains(TOPIC));
  }

  @Test
  void producerConfigDefaultsAndOverrides() {
    Properties p = KafkaSegmentPublisher.producerConfig("broker:9092", Map.of("linger.ms", "20", "acks", "all", "client.id", "x"));
    assertEquals("broker:9092", p.get("bootstrap.servers"));
    assertEquals("true", p.get("enable.idempotence"));
    assertEquals("all", p.get("acks"));
    assertEquals("lz4", p.get("compression.type"));
    assertEquals("20", p.get("linger.ms"));
    assertEquals("262144", p.get("batch.size"));
    assertEquals("30000", p.get("max.block.ms"));
    assertEquals("1", p.get("max.in.flight.requests.per.connection")); // FreshTopicPublishTest says why
    assertEquals("x", p.get("client.id"));
    assertEquals("5", KafkaSegmentPublisher.producerConfig("b:1", Map.of()).get("linger.ms"));
  }

  @Test
  void aRealProducerConstructsWithTheseSettings() throws Exception {
    // no broker needed to build one; close() must not hang with nothing sent
    try (KafkaSegmentPublisher publisher = new KafkaSegmentPublisher("127.0.0.1:1", TOPIC, Map.of("max.block.ms", "200"))) {
      KafkaException e = assertThrows(KafkaException.class, () -> publisher.endOfCapture("a", T0));
      assertTrue(e.getMessage().contains("200 ms") || e.getMessage().toLowerCase().contains("timeout")
          || e.getClass().getSimpleName().contains("Timeout"), e.toString());
    }
  }
}
