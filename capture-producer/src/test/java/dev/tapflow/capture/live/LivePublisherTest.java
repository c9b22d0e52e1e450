package dev.tapflow.capture.live;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.BufferExhaustedException;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.MockProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Cluster;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;

/**
 * The agent's publisher against a producer that refuses, fails and completes on command, as
 * KafkaProducer does with {@code max.block.ms=0}: a refusal (no metadata, buffer full) is a
 * synchronous callback with a TimeoutException and a failed future, not a throw.
 */
class LivePublisherTest {
  static final String TOPIC = "tapflow.segments.v1";

  /** A MockProducer that refuses like KafkaProducer while {@link #refusing} is set. */
  static final class Refusing extends MockProducer<byte[], byte[]> {
    volatile RuntimeException refusing;

    Refusing(boolean autoComplete) {
      super(cluster(), autoComplete, null, new ByteArraySerializer(), new ByteArraySerializer());
    }

    @Override
    public synchronized Future<RecordMetadata> send(ProducerRecord<byte[], byte[]> record, Callback callback) {
      RuntimeException r = refusing;
      if (r != null) {
        callback.onCompletion(null, r); // KafkaProducer.doSend: ApiException -> callback, FutureFailure
        return CompletableFuture.failedFuture(r);
      }
      return super.send(record, callback);
    }
  }

  static Cluster cluster() {
    Node n = new Node(0, "localhost", 9092);
    return new Cluster("c", List.of(n), List.of(new PartitionInfo(TOPIC, 0, n, new Node[] {n}, new Node[] {n}),
        new PartitionInfo(TOPIC, 1, n, new Node[] {n}, new Node[] {n})), java.util.Set.of(), java.util.Set.of());
  }

  static void batch(LivePublisher p, int segments, int valueBytes) {
    p.onBatch(new byte[20], new byte[valueBytes], 1_700_000_000_000L, segments, valueBytes / 2);
  }

  static void assertAccounted(LivePublisher p, long segments) {
    assertEquals(segments, p.publishedSegments() + p.errorSegments() + p.backlogDropSegments()
        + p.backlogSegments() + p.inFlightSegments(), "every segment accounted for");
  }

  @Test
  void publishedAtOnceWhenKafkaTakesIt() {
    Refusing producer = new Refusing(true);
    LivePublisher p = new LivePublisher(producer, TOPIC, 1 << 20);
    batch(p, 3, 100);
    batch(p, 4, 100);
    assertEquals(2, producer.history().size());
    assertEquals(2, p.publishedBatches());
    assertEquals(7, p.publishedSegments());
    assertEquals(200, p.publishedBytes());
    assertEquals(0, p.backlogBytes());
    assertAccounted(p, 7);
  }

  @Test
  void refusedRecordsWaitInOrderAndGoOnceKafkaTakesThem() throws Exception {
    Refusing producer = new Refusing(true);
    LivePublisher p = new LivePublisher(producer, TOPIC, 1 << 20);
    producer.refusing = new TimeoutException("Topic not present in metadata after 0 ms.");
    for (int i = 0; i < 5; i++) {
      p.onBatch(new byte[] {(byte) i}, new byte[50], 0, 1, 10);
    }
    assertEquals(0, producer.history().size());
    assertEquals(5, p.backlogRecords());
    assertEquals(5, p.backlogSegments());
    assertAccounted(p, 5);
    producer.refusing = null;
    p.drain(System.nanoTime() + LivePublisher.RETRY_NANOS); // not sooner than the retry delay
    assertEquals(5, producer.history().size());
    for (int i = 0; i < 5; i++) {
      assertEquals(i, producer.history().get(i).key()[0], "order kept");
    }
    assertEquals(5, p.publishedSegments());
    assertEquals(0, p.backlogRecords());
  }

  @Test
  void aFullBacklogDropsAndCountsNewRecordsAndStaysBounded() {
    Refusing producer = new Refusing(true);
    long bound = 10_000;
    LivePublisher p = new LivePublisher(producer, TOPIC, bound);
    producer.refusing = new BufferExhaustedException("Failed to allocate 1000 bytes within the configured max blocking time 0 ms.");
    int total = 0;
    for (int i = 0; i < 100; i++) {
      batch(p, 2, 1000);
      total += 2;
      assertTrue(p.backlogBytes() <= bound, "bounded: " + p.backlogBytes());
    }
    assertTrue(p.backlogDrops() > 80, "drops: " + p.backlogDrops());
    assertEquals(p.backlogDrops() * 1000, p.backlogDropBytes());
    assertEquals(p.backlogPeakBytes(), p.backlogBytes());
    assertAccounted(p, total);
    producer.refusing = null;
    p.finish(System.nanoTime() + 2_000_000_000L);
    assertEquals(0, p.backlogRecords());
    assertEquals(0, p.inFlightSegments());
    assertEquals(total, p.publishedSegments() + p.backlogDropSegments());
    assertTrue(producer.closed());
  }

  @Test
  void failuresAfterTheProducersRetriesAreCountedAsProducerErrors() {
    Refusing producer = new Refusing(false);
    LivePublisher p = new LivePublisher(producer, TOPIC, 1 << 20);
    batch(p, 3, 100);
    batch(p, 5, 100);
    batch(p, 7, 100);
    assertEquals(15, p.inFlightSegments());
    assertTrue(producer.errorNext(new TimeoutException("Expiring 1 record(s): 120000 ms has passed since batch creation")));
    assertTrue(producer.completeNext());
    assertEquals(3, p.errorSegments());
    assertEquals(1, p.errorBatches());
    assertEquals(5, p.publishedSegments());
    assertEquals(7, p.inFlightSegments());
    assertAccounted(p, 15);
    assertNotNull(p.firstError());
  }

  @Test
  void aRecordRefusedForGoodIsAProducerErrorNotAnEndlessRetry() {
    Refusing producer = new Refusing(true);
    LivePublisher p = new LivePublisher(producer, TOPIC, 1 << 20);
    producer.refusing = new RecordTooLargeException("The message is 2000000 bytes");
    batch(p, 4, 100);
    assertEquals(0, p.backlogRecords());
    assertEquals(4, p.errorSegments());
    producer.refusing = null;
    batch(p, 1, 100);
    assertEquals(1, p.publishedSegments());
    assertAccounted(p, 5);
  }

  @Test
  void endOfCaptureMarksEveryPartitionAfterTheBatches() {
    Refusing producer = new Refusing(true);
    LivePublisher p = new LivePublisher(producer, TOPIC, 1 << 20);
    batch(p, 1, 10);
    assertEquals(2, p.endOfCapture(new byte[] {9}, new byte[] {8}, 5));
    List<ProducerRecord<byte[], byte[]>> h = producer.history();
    assertEquals(3, h.size());
    assertEquals(0, h.get(1).partition());
    assertEquals(1, h.get(2).partition());
    assertEquals(2, p.markersAcknowledged());
  }

  @Test
  void aDryRunPublishesNothingAndCountsEverything() {
    LivePublisher p = new LivePublisher(null, TOPIC, 0);
    batch(p, 6, 100);
    p.publish("tapflow.capture-stats.v1", new byte[1], new byte[1], 0);
    assertEquals(6, p.publishedSegments());
    assertEquals(0, p.backlogDrops());
    p.finish(System.nanoTime());
    assertAccounted(p, 6);
  }
}
