package dev.tapflow.capture.live;

import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.capture.SegmentBatchEncoder;
import java.time.Duration;
import java.util.ArrayDeque;
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
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Publishes the live agent's records without ever blocking the capture thread, and accounts
 * for every one of them.
 *
 * <p>The producer runs with {@code max.block.ms=0}: when it cannot take a record at once (no
 * metadata yet because Kafka is unreachable, or its {@code buffer.memory} is full because
 * Kafka is slow or down) it refuses it on the spot. Refused records wait in a bounded backlog
 * here, in order, and are offered again when the capture thread comes round (at most every
 * {@link #RETRY_NANOS}); once the backlog holds {@code maxBacklogBytes} new records are dropped
 * and counted. When Kafka returns the producer drains, then the backlog. Memory for records
 * waiting for Kafka is therefore bounded by {@code maxBacklogBytes} plus the producer's
 * {@code buffer.memory}.
 *
 * <p>Accounting, in segments (and in records): every segment batch handed to
 * {@link #onBatch} is, at any time, exactly one of published (acknowledged), a producer error
 * (the producer gave up after its retries and {@code delivery.timeout.ms}, or at shutdown),
 * dropped from a full backlog, waiting in the backlog, or in flight in the producer. After
 * {@link #finish} the last two are zero.
 *
 * <p>Threads: the capture thread calls everything; the producer's I/O thread runs the
 * completion callbacks, which touch only atomics.
 */
public final class LivePublisher implements SegmentBatchEncoder.Listener, AutoCloseable {
  /** After a refused record, the backlog is offered again no sooner than this. */
  static final long RETRY_NANOS = 50_000_000L;
  /** What a waiting record costs besides its key and value (objects, references), for the bound. */
  private static final int RECORD_OVERHEAD = 96;

  private enum Kind { SEGMENTS, MARKER, STATS }

  /** A record on its way: in the backlog, then in the producer until its callback. */
  private final class Pending implements Callback {
    final Kind kind;
    final String topic;
    final Integer partition;
    final long timestampMs;
    final byte[] key;
    final byte[] value;
    final int segments;

    Pending(Kind kind, String topic, Integer partition, long timestampMs, byte[] key, byte[] value, int segments) {
      this.kind = kind;
      this.topic = topic;
      this.partition = partition;
      this.timestampMs = timestampMs;
      this.key = key;
      this.value = value;
      this.segments = segments;
    }

    int size() {
      return RECORD_OVERHEAD + (key == null ? 0 : key.length) + value.length;
    }

    @Override
    public void onCompletion(RecordMetadata metadata, Exception e) {
      if (sending == this && Thread.currentThread() == sendingThread) {
        // completed inside send(), on this thread: a refusal (KafkaProducer reports those so),
        // or a test double's instant completion; trySend sorts it out after send returns
        syncCompleted = true;
        refusal = e;
        return;
      }
      completed(this, e);
    }
  }

  private final Producer<byte[], byte[]> producer; // null: dry run, every record counts as published at once
  private final String segmentsTopic;
  private final long maxBacklogBytes;
  private final ArrayDeque<Pending> backlog = new ArrayDeque<>();
  private long backlogBytes;
  private long backlogSegments;
  private long backlogPeakBytes;
  private long retryAtNanos;
  private Pending sending;
  private Thread sendingThread;
  private Exception refusal;
  private boolean syncCompleted;

  private long backlogDrops;
  private long backlogDropSegments;
  private long backlogDropBytes;
  private long handedSegments;
  private long handedRecords;
  private long otherRecordsDropped;
  private final AtomicLong completedRecords = new AtomicLong();
  private final AtomicLong publishedBatches = new AtomicLong();
  private final AtomicLong publishedSegments = new AtomicLong();
  private final AtomicLong publishedBytes = new AtomicLong();
  private final AtomicLong errorBatches = new AtomicLong();
  private final AtomicLong errorSegments = new AtomicLong();
  private final AtomicLong markersAcked = new AtomicLong();
  private final AtomicLong otherErrors = new AtomicLong();
  private final AtomicReference<Exception> firstError = new AtomicReference<>();
  private boolean closed;

  /**
   * @param producer a producer configured by {@link #producerConfig} (or a test double), or
   *     null for a dry run that publishes nothing and counts every record as published
   * @param maxBacklogBytes bound of the backlog of refused records
   */
  public LivePublisher(Producer<byte[], byte[]> producer, String segmentsTopic, long maxBacklogBytes) {
    if (maxBacklogBytes < 0) {
      throw new IllegalArgumentException("backlog bound must be >= 0");
    }
    this.producer = producer;
    this.segmentsTopic = Objects.requireNonNull(segmentsTopic, "segmentsTopic");
    this.maxBacklogBytes = maxBacklogBytes;
  }

  /** A publisher with its own producer: {@link #producerConfig} with {@code extra} on top. */
  public static LivePublisher create(String bootstrapServers, Map<String, ?> extra, String segmentsTopic,
      long maxBacklogBytes) {
    return new LivePublisher(new KafkaProducer<>(producerConfig(bootstrapServers, extra),
        new ByteArraySerializer(), new ByteArraySerializer()), segmentsTopic, maxBacklogBytes);
  }

  /**
   * The agent's producer settings: the importer's ({@link KafkaSegmentPublisher#producerConfig}:
   * idempotent, {@code acks=all}, lz4, which bench/capture.sh measured against zstd) with
   * {@code linger.ms=100}, {@code batch.size=1 MiB} and {@code buffer.memory=8 MiB}; then
   * {@code extra} (TLS, SASL, any client property) on top; then {@code max.block.ms=0}, which is
   * not negotiable: it is what keeps the capture thread from ever waiting for Kafka.
   */
  public static Properties producerConfig(String bootstrapServers, Map<String, ?> extra) {
    Properties p = KafkaSegmentPublisher.producerConfig(bootstrapServers, Map.of());
    p.put(ProducerConfig.LINGER_MS_CONFIG, "100");
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, Integer.toString(1 << 20));
    p.put(ProducerConfig.BUFFER_MEMORY_CONFIG, Long.toString(8L << 20));
    if (extra != null) {
      p.putAll(extra);
    }
    p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "0");
    return p;
  }

  // ---- records in (capture thread) ----

  @Override
  public void onBatch(byte[] key, byte[] value, long timestampMs, int segments, int payloadBytes) {
    offer(new Pending(Kind.SEGMENTS, segmentsTopic, null, timestampMs, key, value, segments));
  }

  /** Publishes a record that is not a segment batch (a stats report) through the same backlog. */
  public void publish(String topic, byte[] key, byte[] value, long timestampMs) {
    offer(new Pending(Kind.STATS, topic, null, timestampMs, key, value, 0));
  }

  /**
   * Queues the end-of-capture marker for every partition of the segments topic (after every
   * batch already queued), when the topic's partitions are known.
   *
   * @return the number of partitions, or 0 when they are not known (yet)
   */
  public int endOfCapture(byte[] markerKey, byte[] markerValue, long timestampMs) {
    List<PartitionInfo> partitions;
    if (producer == null) {
      return 1;
    }
    try {
      partitions = producer.partitionsFor(segmentsTopic);
    } catch (KafkaException e) {
      return 0; // no metadata (max.block.ms=0): try again
    }
    if (partitions == null || partitions.isEmpty()) {
      return 0;
    }
    for (PartitionInfo pi : partitions) {
      offer(new Pending(Kind.MARKER, segmentsTopic, pi.partition(), timestampMs, markerKey, markerValue, 0));
    }
    return partitions.size();
  }

  /** Offers waiting records to the producer again; call it whenever the capture thread comes round. */
  public void drain(long nowNanos) {
    if (backlog.isEmpty() || nowNanos - retryAtNanos < 0) {
      return;
    }
    while (!backlog.isEmpty()) {
      Pending p = backlog.peekFirst();
      if (!trySend(p, nowNanos)) {
        return;
      }
      removeHead();
    }
  }

  private Pending removeHead() {
    Pending p = backlog.pollFirst();
    backlogBytes -= p.size();
    backlogSegments -= p.segments;
    return p;
  }

  /** A record that will never be sent: counted by kind. */
  private void dropped(Pending p) {
    if (p.kind == Kind.SEGMENTS) {
      backlogDrops++;
      backlogDropSegments += p.segments;
      backlogDropBytes += p.value.length;
    } else {
      otherRecordsDropped++;
    }
  }

  private void offer(Pending p) {
    long now = System.nanoTime();
    drain(now);
    if (backlog.isEmpty() && now - retryAtNanos >= 0 && trySend(p, now)) {
      return;
    }
    int size = p.size();
    if (backlogBytes + size > maxBacklogBytes) {
      dropped(p);
      return;
    }
    backlog.addLast(p);
    backlogBytes += size;
    backlogSegments += p.segments;
    backlogPeakBytes = Math.max(backlogPeakBytes, backlogBytes);
  }

  /** @return false when the producer refused the record for now (it stays waiting) */
  private boolean trySend(Pending p, long nowNanos) {
    if (producer == null) {
      handed(p);
      completed(p, null);
      return true;
    }
    refusal = null;
    syncCompleted = false;
    sending = p;
    sendingThread = Thread.currentThread();
    try {
      producer.send(new ProducerRecord<>(p.topic, p.partition, p.timestampMs, p.key, p.value), p);
    } catch (KafkaException | IllegalStateException e) {
      // not a "later" condition (the producer is closed or failed): the record is lost, counted
      sending = null;
      handed(p);
      completed(p, e);
      return true;
    } finally {
      sending = null;
    }
    if (refusal instanceof TimeoutException) { // no metadata yet, or buffer.memory full
      retryAtNanos = nowNanos + RETRY_NANOS;
      return false;
    }
    handed(p);
    if (syncCompleted) {
      completed(p, refusal); // refused for good (record too large, not authorised): an error; or done
    }
    return true;
  }

  private void handed(Pending p) {
    handedSegments += p.segments;
    handedRecords++;
  }

  private void completed(Pending p, Exception e) {
    completedRecords.incrementAndGet();
    if (e == null) {
      switch (p.kind) {
        case SEGMENTS -> {
          publishedBatches.incrementAndGet();
          publishedSegments.addAndGet(p.segments);
          publishedBytes.addAndGet(p.value.length);
        }
        case MARKER -> markersAcked.incrementAndGet();
        case STATS -> { }
      }
      return;
    }
    firstError.compareAndSet(null, e);
    if (p.kind == Kind.SEGMENTS) {
      errorBatches.incrementAndGet();
      errorSegments.addAndGet(p.segments);
    } else {
      otherErrors.incrementAndGet();
    }
  }

  // ---- the end ----

  /**
   * Waits until everything queued is acknowledged or failed, at most until {@code deadlineNanos}
   * ({@link System#nanoTime}); then closes the producer. Records still in the producer fail
   * (counted as producer errors), records still in the backlog are dropped (counted).
   */
  public void finish(long deadlineNanos) {
    if (closed) {
      return;
    }
    if (producer != null) {
      while (System.nanoTime() - deadlineNanos < 0 && !backlog.isEmpty()) {
        drain(System.nanoTime());
        sleepMillis(10);
      }
      // flush() blocks until every record completes, however long Kafka takes: run it aside
      Producer<byte[], byte[]> pr = producer;
      Thread flusher = new Thread(() -> {
        try {
          pr.flush();
        } catch (RuntimeException e) {
          // the close below reports what did not make it
        }
      }, "tapflow-capture-flush");
      flusher.setDaemon(true);
      flusher.start();
      while (System.nanoTime() - deadlineNanos < 0 && inFlightRecords() > 0 && flusher.isAlive()) {
        sleepMillis(5);
      }
    }
    while (!backlog.isEmpty()) {
      dropped(removeHead());
    }
    close();
  }

  /** Closes the producer at once: anything not yet acknowledged fails and is counted. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (producer != null) {
      producer.close(Duration.ZERO);
    }
  }

  private static void sleepMillis(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- counters ----

  public long publishedBatches() { return publishedBatches.get(); }

  public long publishedSegments() { return publishedSegments.get(); }

  /** Record value bytes acknowledged (before compression). */
  public long publishedBytes() { return publishedBytes.get(); }

  public long errorBatches() { return errorBatches.get(); }

  public long errorSegments() { return errorSegments.get(); }

  public long backlogDrops() { return backlogDrops; }

  public long backlogDropSegments() { return backlogDropSegments; }

  public long backlogDropBytes() { return backlogDropBytes; }

  public long backlogSegments() { return backlogSegments; }

  public long backlogBytes() { return backlogBytes; }

  public long backlogPeakBytes() { return backlogPeakBytes; }

  public long maxBacklogBytes() { return maxBacklogBytes; }

  /** Segments handed to the producer and not yet acknowledged or failed. */
  public long inFlightSegments() {
    return handedSegments - publishedSegments.get() - errorSegments.get();
  }

  /** Records of any kind handed to the producer and not yet acknowledged or failed. */
  public long inFlightRecords() {
    return handedRecords - completedRecords.get();
  }

  /** Records of any kind waiting in the backlog. */
  public int backlogRecords() {
    return backlog.size();
  }

  /** End-of-capture markers acknowledged (one per partition). */
  public long markersAcknowledged() { return markersAcked.get(); }

  /** Stats reports and markers that failed or were dropped. */
  public long otherRecordsLost() { return otherErrors.get() + otherRecordsDropped; }

  /** The first error the producer reported, or null. */
  public Exception firstError() { return firstError.get(); }

  /** The topic segment batches go to, as {@link KafkaSegmentPublisher#DEFAULT_TOPIC} by default. */
  public String segmentsTopic() { return segmentsTopic; }
}
