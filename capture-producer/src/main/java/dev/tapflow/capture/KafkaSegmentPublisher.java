package dev.tapflow.capture;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Transport;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.Callback;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;

/**
 * Publishes {@code SegmentBatch}es to Kafka: key = the connection's {@code ConnectionKey}
 * (so a connection's batches share a partition and stay in order), record timestamp = the
 * batch's first segment's capture time in ms, Avro single-object encoding ({@link AvroSerde}).
 *
 * <p>Failures are never silent. A send that fails synchronously (e.g. the topic's metadata
 * does not arrive within {@code max.block.ms}) throws its {@link KafkaException} out of
 * {@link #onBatch}, which stops an import. Asynchronous failures (after the producer's own
 * retries, within {@code delivery.timeout.ms}) are counted and kept: the next {@link #onBatch}
 * then fails fast, and {@link #flush()} and {@link #close()} throw a {@link PublishException}.
 *
 * <p>Not for concurrent use by several importing threads (a connection's order is the caller's).
 */
public final class KafkaSegmentPublisher implements BatchListener, AutoCloseable {
  /** The segments topic. */
  public static final String DEFAULT_TOPIC = "tapflow.segments.v1";

  private final Producer<ConnectionKey, SegmentBatch> producer;
  private final String topic;
  private final AtomicLong sent = new AtomicLong();
  private final AtomicLong acked = new AtomicLong();
  private final AtomicLong failed = new AtomicLong();
  private final AtomicReference<Exception> firstError = new AtomicReference<>();
  private final Callback callback = (metadata, exception) -> {
    if (exception == null) {
      acked.incrementAndGet();
    } else {
      failed.incrementAndGet();
      firstError.compareAndSet(null, exception);
    }
  };
  private boolean closed;

  /**
   * A publisher with its own {@link KafkaProducer} configured by {@link #producerConfig}.
   *
   * @param topic the segments topic, usually {@link #DEFAULT_TOPIC}; it must exist
   * @param extra producer properties that override or add to the defaults (may be empty)
   */
  public KafkaSegmentPublisher(String bootstrapServers, String topic, Map<String, ?> extra) {
    this(new KafkaProducer<>(producerConfig(bootstrapServers, extra),
        AvroSerde.connectionKey().serializer(), AvroSerde.segmentBatch().serializer()), topic);
  }

  /** A publisher over a given producer (a {@code MockProducer} in tests); it takes ownership. */
  public KafkaSegmentPublisher(Producer<ConnectionKey, SegmentBatch> producer, String topic) {
    this.producer = Objects.requireNonNull(producer, "producer");
    this.topic = Objects.requireNonNull(topic, "topic");
  }

  /**
   * The producer configuration: idempotent ({@code acks=all}), lz4, {@code linger.ms=5},
   * {@code batch.size=262144}, {@code max.block.ms=30000} (bounds metadata waits, so
   * {@link #endOfCapture} and a missing topic cannot hang forever), one request in flight per
   * broker; then {@code extra} on top.
   *
   * <p>Why one in flight: a broker that holds no state for this producer on a partition (its
   * first write there; a new topic; state expired) accepts any first sequence number. When the
   * first request to a partition fails with a retriable error (NOT_LEADER_OR_FOLLOWER while the
   * broker is still creating a new topic's partitions, or during a leader change) and a later
   * request already in flight lands, the broker starts the producer at the later batch's
   * sequence; every retry of the first batch is then refused with OUT_OF_ORDER_SEQUENCE_NUMBER
   * until {@code delivery.timeout.ms} fails it, and the import with it (KAFKA-15591, still in
   * Kafka 4.3). With one request in flight a failed batch is retried before anything after it
   * is sent. The accumulator keeps batching meanwhile, so each request carries more.
   */
  public static Properties producerConfig(String bootstrapServers, Map<String, ?> extra) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, Objects.requireNonNull(bootstrapServers, "bootstrapServers"));
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, "262144");
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
    p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "tapflow-capture");
    if (extra != null) {
      p.putAll(extra);
    }
    return p;
  }

  @Override
  public void onBatch(ConnectionKey key, SegmentBatch batch) {
    failFast();
    send(new ProducerRecord<>(topic, null, BatchListener.timestampMs(batch), key, batch));
  }

  @Override
  public void onEndOfCapture(String agent, long lastTsNs) {
    endOfCapture(agent, lastTsNs);
  }

  /**
   * Marks the end of {@code agent}'s capture in every partition of the topic: a
   * {@code SegmentBatch{segments=[], end_of_capture=true, end_ts_ns=lastTsNs}} keyed by
   * {@link #endOfCaptureKey(String)}, timestamp {@code lastTsNs} in ms, sent to each partition
   * explicitly (after this agent's batches, so the processor sees it last).
   *
   * @return the number of partitions marked
   * @throws KafkaException if the topic's partitions are not known within {@code max.block.ms}
   */
  public int endOfCapture(String agent, long lastTsNs) {
    failFast();
    List<PartitionInfo> partitions = producer.partitionsFor(topic);
    if (partitions == null || partitions.isEmpty()) {
      throw new KafkaException("topic " + topic + " has no partitions");
    }
    ConnectionKey key = endOfCaptureKey(agent);
    long tsMs = Math.floorDiv(lastTsNs, 1_000_000L);
    for (PartitionInfo pi : partitions) {
      SegmentBatch marker = new SegmentBatch();
      marker.setSegments(List.of());
      marker.setEndOfCapture(true);
      marker.setEndTsNs(lastTsNs);
      marker.setVantage(dev.tapflow.schemas.VantageSetting.AUTO);
      marker.setLocalEndpoints(0);
      send(new ProducerRecord<>(topic, pi.partition(), tsMs, key, marker));
    }
    return partitions.size();
  }

  /** The key of end-of-capture markers: {@code ConnectionKey(agent, TCP, 0.0.0.0, 0, 0.0.0.0, 0)}. */
  public static ConnectionKey endOfCaptureKey(String agent) {
    return new ConnectionKey(agent, Transport.TCP, ByteBuffer.wrap(new byte[4]), 0, ByteBuffer.wrap(new byte[4]), 0);
  }

  /** Waits until every record sent so far is acknowledged or failed. */
  public void flush() throws PublishException {
    producer.flush();
    report();
  }

  /** Flushes, closes the producer (waiting for outstanding sends), then reports failures. */
  @Override
  public void close() throws PublishException {
    if (!closed) {
      closed = true;
      producer.close();
    }
    report();
  }

  /** Closes the producer waiting at most {@code timeout} for outstanding sends, then reports failures. */
  public void close(Duration timeout) throws PublishException {
    if (!closed) {
      closed = true;
      producer.close(timeout);
    }
    report();
  }

  /** Records handed to the producer. */
  public long sent() { return sent.get(); }

  /** Records the broker acknowledged. */
  public long acked() { return acked.get(); }

  /** Records that failed. */
  public long failed() { return failed.get(); }

  private void send(ProducerRecord<ConnectionKey, SegmentBatch> record) {
    producer.send(record, callback);
    sent.incrementAndGet();
  }

  private void failFast() {
    Exception e = firstError.get();
    if (e != null) {
      throw new KafkaException(failed.get() + " record(s) to " + topic + " failed; first: " + e, e);
    }
  }

  private void report() throws PublishException {
    long n = failed.get();
    if (n > 0) {
      Exception e = firstError.get();
      throw new PublishException(n + " of " + sent.get() + " record(s) to " + topic
          + " were not delivered; first error: " + e, n, e);
    }
  }
}
