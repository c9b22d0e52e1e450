package dev.tapflow.sink;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.CaptureStats;
import dev.tapflow.schemas.VantagePair;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.LatencyHistograms;
import dev.tapflow.schemas.LatencyWindow;
import java.io.IOException;
import java.net.ConnectException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientException;
import java.sql.Savepoint;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.HdrHistogram.Histogram;
import org.flywaydb.core.api.FlywayException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sink role: consumes {@code tapflow.facts.v1} and writes every {@link LatencyFact} to
 * PostgreSQL's {@code latency_facts} (partitioned by day: the partitions a batch needs are
 * made before it, and with a retention the days past it are dropped whole), and consumes
 * {@code tapflow.latency-1m.v1} and merges every {@link LatencyWindow} part into
 * {@code latency_windows}, and consumes {@code tapflow.capture-stats.v1} and stores every
 * live agent's {@link CaptureStats} report in {@code capture_stats}.
 *
 * <p>Guarantee: exactly once. A batch (by size, by age, or when the topic goes quiet) is
 * written in one database transaction together with the consumer's next offsets
 * ({@code sink_offsets}, per group, topic and partition); when partitions are assigned the
 * sink seeks to the offsets PostgreSQL holds, so a sink killed at any moment resumes exactly
 * after the last stored batch. The offsets are also committed to Kafka after the
 * transaction (for lag monitoring and as the fallback when the database has none), and the
 * writes are idempotent as a second guard (a fact id is inserted once; a window part is
 * merged once). Facts and windows of one batch share its transaction. The consumer reads
 * {@code read_committed} with auto commit off.
 *
 * <p>Failures: a database or broker that is down is retried with exponential backoff
 * (200 ms doubling to 5 s; partitions paused, group membership kept) and {@link #status()}
 * says what the sink waits for. A database outage is logged in one line when it begins, one
 * every 30 s while it lasts and one when it ends, without a stack trace. A record that does not decode, or a row the database refuses (SQLSTATE class 22/23,
 * e.g. a NUL in text), is logged with topic/partition/offset, counted, and stored with its
 * raw bytes in {@code sink_rejected_records}; the rest of its batch is written. Errors that
 * retrying cannot fix (authorization, bad configuration) stop the sink and surface through
 * {@link #awaitCaughtUp} and {@link #failure()}.
 *
 * <p>Keys and values are consumed as bytes and decoded here with
 * {@link AvroSerde#latencyFact()}, so a bad record never wedges its partition in
 * {@code poll()}. The key ({@code ConnectionKey}) is not needed for the row and is not decoded.
 *
 * <p>Threads: {@link #run()} owns the consumer and the connection; {@link #start()} runs it
 * on its own thread. {@link #stop()}, {@link #close()}, {@link #awaitCaughtUp} and the
 * counters may be called from any thread.
 */
public final class FactSink implements Runnable, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(FactSink.class);

  public static final String DEFAULT_TOPIC = "tapflow.facts.v1";
  public static final String DEFAULT_WINDOWS_TOPIC = "tapflow.latency-1m.v1";
  public static final String DEFAULT_CAPTURE_STATS_TOPIC = "tapflow.capture-stats.v1";
  public static final String DEFAULT_VANTAGE_PAIRS_TOPIC = "tapflow.vantage-pairs.v1";
  /** How often, at most, partitions past the retention are looked for while running. */
  private static final long RETENTION_CHECK_INTERVAL_NS = TimeUnit.HOURS.toNanos(1);
  public static final String DEFAULT_GROUP_ID = "tapflow-sink-jdbc";
  /** Rejected records logged one by one before switching to one line per {@value} rejects. */
  private static final int REJECTS_LOGGED_INDIVIDUALLY = 20;
  /** Bound on blocking Kafka calls made by the sink itself (commit, end offsets, position). */
  private static final Duration KAFKA_CALL_TIMEOUT = Duration.ofSeconds(10);
  /** How often an idle sink re-checks whether it has caught up while someone waits. */
  private static final long CAUGHT_UP_CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(50);
  /** While the database is down, how often the sink says it is still waiting (each retry is at debug). */
  private static final long WAITING_REPORT_NS = TimeUnit.SECONDS.toNanos(30);

  private final Properties consumerProperties;
  private final String jdbcUrl;
  private final Properties jdbcProperties;
  private final String topic;
  private final String windowsTopic;
  private final String statsTopic;
  private final String pairsTopic;
  private final int retentionDays;
  private final int maxBatchRecords;
  private final Duration maxBatchDelay;
  private final Duration pollTimeout;
  private final Duration initialBackoff;
  private final Duration maxBackoff;
  private final boolean migrate;
  private final JdbcFactWriter writer;
  private final LatencyWindowWriter windowWriter = new LatencyWindowWriter();
  private final AvroSerde<LatencyFact> serde = AvroSerde.latencyFact();
  private final AvroSerde<LatencyWindow> windowSerde = AvroSerde.latencyWindow();
  private final CaptureStatsWriter statsWriter = new CaptureStatsWriter();
  private final AvroSerde<CaptureStats> statsSerde = AvroSerde.captureStats();
  private final VantagePairWriter pairWriter = new VantagePairWriter();
  private final AvroSerde<VantagePair> pairSerde = AvroSerde.vantagePair();
  private final AtomicLong vantagePairsStored = new AtomicLong();

  // Owned by the sink thread.
  private Connection connection;
  private final List<Buffered> buffer = new ArrayList<>();
  private long firstBufferedNanos;
  private final Map<TopicPartition, OffsetAndMetadata> uncommitted = new HashMap<>();
  private boolean inRetry;
  /** While the database is down: when the wait began, and when it was last reported. */
  private long waitingSince;
  private long lastWaitingReport;
  private long lastCaughtUpCheckNanos;
  private long lastRetentionNanos;
  private long lastIdleReportNanos;
  private boolean retentionDone;

  // Shared with other threads.
  private volatile KafkaConsumer<byte[], byte[]> consumer;
  private volatile boolean running = true;
  private volatile String status = "not started";
  private volatile Throwable failure;
  private volatile Thread thread;
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CountDownLatch finished = new CountDownLatch(1);
  private final AtomicInteger waiters = new AtomicInteger();
  private final Object caughtUpMonitor = new Object();
  private boolean everCaughtUp;          // guarded by caughtUpMonitor
  private long caughtUpCheckStartNanos;  // guarded by caughtUpMonitor
  private final AtomicLong rowsWritten = new AtomicLong();
  private final AtomicLong factsStored = new AtomicLong();
  private final AtomicLong rejected = new AtomicLong();
  private final AtomicLong batches = new AtomicLong();
  private final AtomicLong windowPartsMerged = new AtomicLong();
  private final AtomicLong captureReportsStored = new AtomicLong();
  private final AtomicLong factsExpired = new AtomicLong();
  private final Histogram freshness = LatencyHistograms.create(); // guarded by itself
  private final BatchListener batchListener;

  private FactSink(Builder b) {
    this.consumerProperties = consumerProperties(b.kafka);
    this.jdbcUrl = b.jdbcUrl;
    this.jdbcProperties = b.jdbc;
    this.topic = b.topic;
    this.windowsTopic = b.windowsTopic;
    this.statsTopic = b.statsTopic;
    this.pairsTopic = b.pairsTopic;
    this.retentionDays = b.retentionDays;
    this.maxBatchRecords = b.maxBatchRecords;
    this.maxBatchDelay = b.maxBatchDelay;
    this.pollTimeout = b.maxBatchDelay.compareTo(Duration.ofMillis(100)) < 0 ? b.maxBatchDelay : Duration.ofMillis(100);
    this.initialBackoff = b.initialBackoff;
    this.maxBackoff = b.maxBackoff;
    this.migrate = b.migrate;
    this.writer = new JdbcFactWriter(b.writeMethod, b.rowsPerStatement);
    this.batchListener = b.batchListener;
  }

  /**
   * A builder. {@code kafka} are consumer properties (at least {@code bootstrap.servers};
   * {@code group.id} defaults to {@value #DEFAULT_GROUP_ID}); {@code jdbcProperties} go to
   * the JDBC driver as they are (user, password, ssl...).
   */
  public static Builder builder(Properties kafka, String jdbcUrl, Properties jdbcProperties) {
    return new Builder(kafka, jdbcUrl, jdbcProperties);
  }

  /** Runs {@link #run()} on a new thread named {@code tapflow-fact-sink}; returns this. */
  public FactSink start() {
    Thread t = new Thread(this, "tapflow-fact-sink");
    t.setUncaughtExceptionHandler((th, e) -> log.error("fact sink thread died", e));
    thread = t;
    t.start();
    return this;
  }

  /** The run loop: until {@link #stop()}, or until an error that retrying cannot fix. */
  @Override
  public void run() {
    thread = Thread.currentThread();
    try {
      if (migrate) {
        migrateWithRetry();
      }
      if (!running) {
        return;
      }
      status = "joining consumer group " + consumerProperties.getProperty(ConsumerConfig.GROUP_ID_CONFIG)
          + " for " + topics();
      consumer = new KafkaConsumer<>(consumerProperties, new ByteArrayDeserializer(), new ByteArrayDeserializer());
      consumer.subscribe(topics(), new Rebalance());
      loop();
      finalFlush();
      status = "stopped";
    } catch (Throwable t) {
      failure = t;
      status = "failed: " + t;
      log.error("fact sink stopped on an error retrying cannot fix: {}", t.toString(), t);
    } finally {
      KafkaConsumer<byte[], byte[]> c = consumer;
      if (c != null) {
        try {
          c.close(Duration.ofSeconds(5));
        } catch (RuntimeException e) {
          log.debug("closing the consumer: {}", e.toString());
        }
      }
      closeConnection();
      finished.countDown();
      synchronized (caughtUpMonitor) {
        caughtUpMonitor.notifyAll();
      }
      log.info("fact sink stopped: {} facts stored ({} new rows), {} rejected, {} batches",
          factsStored.get(), rowsWritten.get(), rejected.get(), batches.get());
    }
  }

  /** Asks the loop to finish: it writes what it has buffered (one attempt), commits, and returns. */
  public void stop() {
    running = false;
    stopRequested.countDown();
    KafkaConsumer<byte[], byte[]> c = consumer;
    if (c != null) {
      c.wakeup();
    }
  }

  /** {@link #stop()}, then waits up to 30 s for the loop to finish. Idempotent. */
  @Override
  public void close() {
    stop();
    try {
      if (thread != null && !finished.await(30, TimeUnit.SECONDS)) {
        log.warn("fact sink did not stop within 30 s ({})", status);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /**
   * Waits until every committed fact in the topic, as of a moment after this call began, is
   * in PostgreSQL: for every partition assigned to this sink, position == end offset
   * (the last stable offset under read_committed), nothing buffered, offsets committed.
   * With several sink instances in one group, it speaks for this instance's partitions only.
   *
   * @return true when caught up, false on timeout or when the sink stopped
   * @throws IllegalStateException if the sink failed (cause attached)
   */
  public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
    long start = System.nanoTime();
    long deadline = start + timeout.toNanos();
    waiters.incrementAndGet();
    try {
      synchronized (caughtUpMonitor) {
        while (!(everCaughtUp && caughtUpCheckStartNanos - start >= 0)) {
          if (failure != null) {
            throw new IllegalStateException("fact sink failed: " + failure, failure);
          }
          if (finished.getCount() == 0) {
            return false;
          }
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            return false;
          }
          caughtUpMonitor.wait(Math.max(1, Math.min(TimeUnit.NANOSECONDS.toMillis(left), 100)));
        }
        return true;
      }
    } finally {
      waiters.decrementAndGet();
    }
  }

  /** Rows this sink inserted (facts whose id was already stored are not counted). */
  public long rowsWritten() {
    return rowsWritten.get();
  }

  /** Facts committed to PostgreSQL by this sink, new rows and already-present ids together. */
  public long factsStored() {
    return factsStored.get();
  }

  /** Records that did not decode or that the database refused; see {@code sink_rejected_records}. */
  public long rejectedRecords() {
    return rejected.get();
  }

  /** Database transactions committed. */
  public long batchesWritten() {
    return batches.get();
  }

  /** Latency window parts merged into {@code latency_windows} (parts read again are not counted). */
  public long windowPartsMerged() {
    return windowPartsMerged.get();
  }

  /** Capture agents' reports stored (reports read again are not counted). */
  public long captureReportsStored() {
    return captureReportsStored.get();
  }

  /** Vantage pairs stored (pairs read again are not counted). */
  public long vantagePairsStored() {
    return vantagePairsStored.get();
  }

  /** Facts not stored because their day is past the retention. */
  public long factsExpired() {
    return factsExpired.get();
  }

  /**
   * Freshness of the stored facts: for each, the time from its last captured packet to the
   * commit that made it visible, in ns (a copy). Meaningful when the agents' clocks and the
   * sink's agree (live capture), not for imported files.
   */
  public Histogram freshness() {
    synchronized (freshness) {
      return freshness.copy();
    }
  }

  /**
   * The consumer's own metrics (fetch lag per partition, fetch rates, ...), empty before it is
   * created; safe to call from any thread, as metrics exporters do.
   */
  public Map<org.apache.kafka.common.MetricName, ? extends org.apache.kafka.common.Metric> consumerMetrics() {
    KafkaConsumer<byte[], byte[]> c = consumer;
    return c == null ? Map.of() : c.metrics();
  }

  /** Told about every committed database transaction (for metrics). */
  @FunctionalInterface
  public interface BatchListener {
    /**
     * @param records records in the batch (facts, window parts, reports, rejects)
     * @param nanos   from taking the connection to the commit
     */
    void written(int records, long nanos);
  }

  /** What the sink is doing or waiting for, in words (no credentials). */
  public String status() {
    return status;
  }

  /** The error that stopped the sink, or null. */
  public Throwable failure() {
    return failure;
  }

  // ---------------------------------------------------------------- the loop

  private void loop() {
    Backoff kafkaBackoff = new Backoff(initialBackoff, maxBackoff);
    while (running) {
      try {
        step();
        kafkaBackoff.reset();
      } catch (WakeupException e) {
        // stop() was called; the loop condition ends it
      } catch (InterruptException e) {
        Thread.interrupted();
        running = false;
      } catch (RetriableException e) {
        long delay = kafkaBackoff.nextDelayMs();
        status = "waiting for Kafka at " + bootstrap() + ": " + e.getMessage();
        log.warn("Kafka at {} did not answer ({}); retry {} in {} ms", bootstrap(), e.getMessage(),
            kafkaBackoff.attempts(), delay);
        sleep(delay);
      }
    }
  }

  private void step() {
    if (!uncommitted.isEmpty()) {
      commitOffsets();
    }
    applyRetentionWhenDue();
    ConsumerRecords<byte[], byte[]> records = consumer.poll(pollTimeout);
    add(records);
    boolean idle = records.isEmpty();
    if (!buffer.isEmpty()
        && (idle || buffer.size() >= maxBatchRecords
            || System.nanoTime() - firstBufferedNanos >= maxBatchDelay.toNanos())) {
      flushWithRetry();
      commitOffsets();
    }
    if (idle && buffer.isEmpty() && uncommitted.isEmpty() && waiters.get() > 0
        && System.nanoTime() - lastCaughtUpCheckNanos >= CAUGHT_UP_CHECK_INTERVAL_NS) {
      checkCaughtUp();
    }
    if (idle && log.isDebugEnabled() && System.nanoTime() - lastIdleReportNanos > TimeUnit.SECONDS.toNanos(5)) {
      lastIdleReportNanos = System.nanoTime();
      StringBuilder lag = new StringBuilder();
      for (TopicPartition tp : consumer.assignment()) {
        lag.append(' ').append(tp).append('=').append(consumer.currentLag(tp));
      }
      log.debug("idle; paused {}; lag{}", consumer.paused(), lag);
    }
    if (!status.startsWith("running") && !consumer.assignment().isEmpty()) {
      status = "running";
    }
  }

  private void add(ConsumerRecords<byte[], byte[]> records) {
    for (ConsumerRecord<byte[], byte[]> r : records) {
      if (buffer.isEmpty()) {
        firstBufferedNanos = System.nanoTime();
      }
      buffer.add(decode(r));
    }
  }

  private Buffered decode(ConsumerRecord<byte[], byte[]> r) {
    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
    if (r.value() == null) {
      return Buffered.rejected(tp, r, "null value");
    }
    try {
      if (r.topic().equals(windowsTopic)) {
        LatencyWindow w = windowSerde.decode(r.value());
        LatencyHistograms.decode(w.getHistogram()); // a histogram that does not decode is the record's fault
        return new Buffered(tp, r.offset(), w, null, r.key(), r.value());
      }
      if (r.topic().equals(pairsTopic)) {
        return new Buffered(tp, r.offset(), pairSerde.decode(r.value()), null, r.key(), r.value());
      }
      if (r.topic().equals(statsTopic)) {
        return new Buffered(tp, r.offset(), statsSerde.decode(r.value()), null, r.key(), r.value());
      }
      return new Buffered(tp, r.offset(), serde.decode(r.value()), null, r.key(), r.value());
    } catch (SerializationException | IllegalArgumentException e) {
      return Buffered.rejected(tp, r, "undecodable: " + e.getMessage());
    }
  }

  /** Writes the buffer, retrying with backoff while the database is unavailable. */
  private void flushWithRetry() {
    Backoff dbBackoff = new Backoff(initialBackoff, maxBackoff);
    Set<TopicPartition> pausedHere = new HashSet<>();
    inRetry = true;
    try {
      while (true) {
        try {
          writeBuffer();
          if (dbBackoff.attempts() > 0) {
            log.info("PostgreSQL at {} is back after {} s; batch written after {} retries", jdbcUrl,
                TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - waitingSince), dbBackoff.attempts());
            status = "running";
          }
          return;
        } catch (SQLException e) {
          closeConnection();
          if (!running) {
            log.warn("stopping with {} facts unwritten ({}); they stay uncommitted in Kafka and are read again"
                + " on the next start", buffer.size(), describe(e));
            buffer.clear();
            return;
          }
          long delay = dbBackoff.nextDelayMs();
          status = "waiting for PostgreSQL at " + jdbcUrl + ": " + describe(e);
          // one line when the wait begins, then one every WAITING_REPORT_NS, each retry at debug
          long now = System.nanoTime();
          if (dbBackoff.attempts() == 1) {
            waitingSince = now;
            lastWaitingReport = now;
            log.warn("PostgreSQL at {} could not store a batch of {} records ({}); waiting for it, retrying every"
                + " {} s at most", jdbcUrl, buffer.size(), describe(e), maxBackoff.toSeconds());
          } else if (now - lastWaitingReport >= WAITING_REPORT_NS) {
            lastWaitingReport = now;
            log.warn("still waiting for PostgreSQL at {} ({} s, {} retries): {}", jdbcUrl,
                TimeUnit.NANOSECONDS.toSeconds(now - waitingSince), dbBackoff.attempts() - 1, describe(e));
          } else {
            log.debug("PostgreSQL at {}: retry {} in {} ms ({})", jdbcUrl, dbBackoff.attempts(), delay, describe(e));
          }
          // Keep the group membership alive while waiting: poll with every partition paused.
          Set<TopicPartition> toPause = new HashSet<>(consumer.assignment());
          toPause.removeAll(consumer.paused());
          consumer.pause(toPause);
          pausedHere.addAll(toPause);
          try {
            add(consumer.poll(Duration.ofMillis(delay))); // only partitions assigned since the pause
          } catch (WakeupException w) {
            // stop(): next attempt is the last
          }
          if (buffer.isEmpty()) {
            return; // everything buffered was revoked meanwhile
          }
        }
      }
    } finally {
      inRetry = false;
      Set<TopicPartition> resume = new HashSet<>(pausedHere);
      resume.retainAll(consumer.assignment());
      consumer.resume(resume);
    }
  }

  /** Writes the whole buffer, {@code maxBatchRecords} facts per database transaction. */
  private void writeBuffer() throws SQLException {
    while (!buffer.isEmpty()) {
      List<Buffered> batch = buffer.subList(0, Math.min(buffer.size(), maxBatchRecords));
      writeBatch(batch);
      batch.clear(); // removes them from the buffer
    }
  }

  /**
   * One database transaction: the batch's facts (skipping ids already stored), its window
   * parts (merged, skipping parts already merged) and its rejected records; the day
   * partitions the facts need are made in it when missing. On success the batch's offsets
   * become committable.
   */
  private void writeBatch(List<Buffered> batch) throws SQLException {
    List<LatencyFact> facts = new ArrayList<>(batch.size());
    List<LatencyWindow> windows = new ArrayList<>();
    List<CaptureStats> reports = new ArrayList<>();
    List<VantagePair> pairs = new ArrayList<>();
    List<RejectedRecord> rejects = new ArrayList<>();
    LocalDate firstKept = firstKeptDay();
    long firstKeptNs = firstKept == null ? Long.MIN_VALUE : firstKept.toEpochDay() * 86_400_000_000_000L;
    long expired = 0;
    for (Buffered b : batch) {
      if (b.record instanceof LatencyFact f) {
        LocalDate day = JdbcFactWriter.day(f);
        if (firstKept != null && day.isBefore(firstKept)) {
          expired++;
          continue;
        }
        facts.add(f);
      } else if (b.record instanceof LatencyWindow w) {
        if (w.getWindowStartNs() < firstKeptNs) {
          expired++;
          continue;
        }
        windows.add(w);
      } else if (b.record instanceof CaptureStats r) {
        if (r.getTsNs() < firstKeptNs) {
          expired++;
          continue;
        }
        reports.add(r);
      } else if (b.record instanceof VantagePair v) {
        if (v.getClientRequestFirstNs() < firstKeptNs) {
          expired++;
          continue;
        }
        pairs.add(v);
      } else {
        rejects.add(b.reject(b.rejectReason));
      }
    }
    long batchStarted = System.nanoTime();
    Connection c = connection();
    int inserted;
    int merged;
    int reported;
    int paired;
    try {
      try {
        inserted = writer.insert(c, facts);
      } catch (SQLException e) {
        if (FactPartitions.isMissingPartition(e)) {
          // dropped by another sink's retention meanwhile: made again on the retry
          throw new SQLTransientException("a day partition went missing: " + e.getMessage(), "40001", e);
        }
        if (!isDataError(e)) {
          throw e;
        }
        c.rollback();
        inserted = insertOneByOne(c, facts, batch, rejects);
      }
      merged = windowWriter.merge(c, windows);
      reported = statsWriter.insert(c, reports);
      paired = pairWriter.insert(c, pairs);
      RejectedRecord.insert(c, rejects);
      Map<TopicPartition, Long> next = new HashMap<>();
      for (Buffered b : batch) {
        next.merge(b.partition, b.offset + 1, Math::max);
      }
      SinkOffsets.store(c, groupId(), next);
      c.commit();
    } catch (SQLException | RuntimeException e) {
      rollbackQuietly(c);
      throw e;
    }
    recordFreshness(facts);
    rowsWritten.addAndGet(inserted);
    factsStored.addAndGet(facts.size());
    windowPartsMerged.addAndGet(merged);
    captureReportsStored.addAndGet(reported);
    vantagePairsStored.addAndGet(paired);
    batches.incrementAndGet();
    batchListener.written(batch.size(), System.nanoTime() - batchStarted);
    if (expired > 0) {
      factsExpired.addAndGet(expired);
      log.info("{} records (facts, windows, capture reports) older than the retention ({} days) not stored", expired,
          retentionDays);
    }
    for (RejectedRecord r : rejects) {
      logRejected(r);
    }
    for (Buffered b : batch) {
      uncommitted.merge(b.partition, new OffsetAndMetadata(b.offset + 1),
          (old, neu) -> old.offset() >= neu.offset() ? old : neu);
    }
    log.debug("batch of {} records: {} new rows, {} window parts, {} capture reports, {} rejected", batch.size(),
        inserted, merged, reported, rejects.size());
  }

  /**
   * After the facts failed on their data: each one under a savepoint, refused ones become
   * rejects (and leave {@code facts}, so only stored ones count).
   */
  private int insertOneByOne(Connection c, List<LatencyFact> facts, List<Buffered> batch,
      List<RejectedRecord> rejects) throws SQLException {
    int inserted = 0;
    for (Buffered b : batch) {
      if (!(b.record instanceof LatencyFact f) || facts.stream().noneMatch(x -> x == f)) {
        continue; // a window part, a reject, or an expired fact
      }
      Savepoint sp = c.setSavepoint();
      try {
        inserted += writer.insert(c, List.of(f));
        c.releaseSavepoint(sp);
      } catch (SQLException e) {
        if (!isDataError(e)) {
          throw e;
        }
        c.rollback(sp);
        facts.removeIf(x -> x == f);
        rejects.add(b.reject("database refused the row: " + describe(e)));
      }
    }
    return inserted;
  }

  private void recordFreshness(List<LatencyFact> facts) {
    Instant now = Instant.now();
    long nowNs = now.getEpochSecond() * 1_000_000_000L + now.getNano();
    synchronized (freshness) {
      for (LatencyFact f : facts) {
        long captured = f.getResponseLastNs() != null ? f.getResponseLastNs() : f.getRequestLastNs();
        if (nowNs >= captured) {
          freshness.recordValue(nowNs - captured);
        }
      }
    }
  }

  // ---------------------------------------------------------------- retention

  /** The oldest day kept, or null without a retention. */
  private LocalDate firstKeptDay() {
    return retentionDays <= 0 ? null : LocalDate.now(ZoneOffset.UTC).minusDays(retentionDays);
  }

  /** Drops day partitions past the retention: at start, then at most once an hour. */
  private void applyRetentionWhenDue() {
    LocalDate firstKept = firstKeptDay();
    if (firstKept == null || (retentionDone && System.nanoTime() - lastRetentionNanos < RETENTION_CHECK_INTERVAL_NS)) {
      return;
    }
    lastRetentionNanos = System.nanoTime();
    retentionDone = true;
    try {
      List<LocalDate> dropped = FactPartitions.dropBefore(connection(), firstKept);
      if (!dropped.isEmpty()) {
        log.info("retention {} days: dropped the latency_facts partitions of {}", retentionDays, dropped);
      }
      int[] deleted = FactPartitions.deleteRowsBefore(connection(), firstKept);
      if (deleted[0] + deleted[1] + deleted[2] > 0) {
        log.info("retention {} days: deleted {} latency windows, {} capture reports and {} vantage pairs before {}",
            retentionDays, deleted[0], deleted[1], deleted[2], firstKept);
      }
    } catch (SQLException e) {
      closeConnection();
      log.warn("retention: could not drop old partitions ({}); trying again in an hour", describe(e));
    }
  }

  private void commitOffsets() {
    if (uncommitted.isEmpty()) {
      return;
    }
    try {
      consumer.commitSync(uncommitted, KAFKA_CALL_TIMEOUT);
      uncommitted.clear();
    } catch (CommitFailedException | RebalanceInProgressException e) {
      // The partitions moved on; whoever owns them now reads those records again and the
      // insert skips them (ids already stored).
      log.info("offsets not committed ({}); the records will be read again and skipped as already stored",
          e.getMessage());
      uncommitted.clear();
    }
  }

  private void finalFlush() {
    if (buffer.isEmpty() && uncommitted.isEmpty()) {
      return;
    }
    try {
      writeBuffer();
      try {
        commitOffsets();
      } catch (WakeupException e) {
        commitOffsets(); // the wakeup from stop() was still pending; it fires once
      }
    } catch (SQLException | KafkaException e) {
      log.warn("last batch not finished on stop ({}); its records are read again on the next start", e.toString());
    }
  }

  private void checkCaughtUp() {
    long started = System.nanoTime();
    lastCaughtUpCheckNanos = started;
    Set<TopicPartition> assigned = consumer.assignment();
    if (assigned.isEmpty()) {
      status = "waiting for partitions of " + topics() + " (do the topics exist?)";
      return;
    }
    Map<TopicPartition, Long> end = consumer.endOffsets(assigned, KAFKA_CALL_TIMEOUT);
    // (every assigned topic counts: facts and windows alike)
    for (TopicPartition tp : assigned) {
      Long e = end.get(tp);
      if (e == null || consumer.position(tp, KAFKA_CALL_TIMEOUT) < e) {
        return;
      }
    }
    synchronized (caughtUpMonitor) {
      everCaughtUp = true;
      caughtUpCheckStartNanos = started;
      caughtUpMonitor.notifyAll();
    }
  }

  // ---------------------------------------------------------------- database

  private Connection connection() throws SQLException {
    if (connection == null) {
      Connection c = DriverManager.getConnection(jdbcUrl, jdbcProperties);
      c.setAutoCommit(false);
      connection = c;
    }
    return connection;
  }

  private void closeConnection() {
    if (connection != null) {
      try {
        connection.close();
      } catch (SQLException e) {
        log.debug("closing the connection: {}", e.toString());
      }
      connection = null;
    }
  }

  private static void rollbackQuietly(Connection c) {
    try {
      c.rollback();
    } catch (SQLException e) {
      log.debug("rollback: {}", e.toString());
    }
  }

  private void migrateWithRetry() {
    Backoff backoff = new Backoff(initialBackoff, maxBackoff);
    while (running) {
      status = "migrating the schema at " + jdbcUrl;
      try {
        int applied = TapflowSchema.migrate(jdbcUrl, jdbcProperties);
        if (applied > 0) {
          log.info("applied {} schema migrations at {}", applied, jdbcUrl);
        }
        return;
      } catch (FlywayException e) {
        SQLException sql = findCause(e, SQLException.class);
        boolean transientFailure = (sql != null && isTransient(sql)) || findCause(e, ConnectException.class) != null;
        if (!transientFailure) {
          throw e;
        }
        long delay = backoff.nextDelayMs();
        status = "waiting for PostgreSQL at " + jdbcUrl + ": " + describe(sql);
        log.warn("PostgreSQL at {} unavailable for the schema migration ({}); retry {} in {} ms", jdbcUrl,
            describe(sql), backoff.attempts(), delay);
        sleep(delay);
      }
    }
  }

  /** SQLSTATE class 22 (data exception), 23 (integrity), 54000 (e.g. index row too large): the row, not the database. */
  private static boolean isDataError(SQLException e) {
    String state = e.getSQLState();
    return state != null && (state.startsWith("22") || state.startsWith("23") || state.equals("54000"));
  }

  private static boolean isTransient(SQLException e) {
    if (e instanceof SQLTransientException || e instanceof SQLRecoverableException) {
      return true;
    }
    String state = e.getSQLState();
    if (state == null) {
      return e.getCause() instanceof IOException;
    }
    return state.startsWith("08") || state.startsWith("53") || state.startsWith("57") || state.startsWith("40");
  }

  private static String describe(SQLException e) {
    if (e == null) {
      return "unknown error";
    }
    String state = e.getSQLState();
    return (state == null ? "" : "SQLSTATE " + state + ": ") + e.getMessage();
  }

  private static <T extends Throwable> T findCause(Throwable t, Class<T> type) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (type.isInstance(c)) {
        return type.cast(c);
      }
    }
    return null;
  }

  // ---------------------------------------------------------------- helpers

  private void logRejected(RejectedRecord r) {
    long n = rejected.incrementAndGet();
    if (n <= REJECTS_LOGGED_INDIVIDUALLY) {
      log.warn("rejected record {}: {} (kept in sink_rejected_records)", r.where(), r.reason());
    } else if (n % 1000 == 0) {
      log.warn("{} records rejected so far, latest {}: {} (all kept in sink_rejected_records)", n, r.where(),
          r.reason());
    }
  }

  private void sleep(long ms) {
    try {
      stopRequested.await(ms, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      running = false;
    }
  }

  private List<String> topics() {
    List<String> t = new ArrayList<>(List.of(topic));
    if (windowsTopic != null) {
      t.add(windowsTopic);
    }
    if (pairsTopic != null) {
      t.add(pairsTopic);
    }
    if (statsTopic != null) {
      t.add(statsTopic);
    }
    return t;
  }

  private String groupId() {
    return consumerProperties.getProperty(ConsumerConfig.GROUP_ID_CONFIG);
  }

  private String bootstrap() {
    return consumerProperties.getProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG);
  }

  private static Properties consumerProperties(Properties given) {
    Properties p = new Properties();
    p.setProperty(ConsumerConfig.GROUP_ID_CONFIG, DEFAULT_GROUP_ID);
    p.setProperty(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.setProperty(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
    p.putAll(given);
    // The guarantee depends on these; the caller cannot turn them off.
    p.setProperty(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.remove(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG);
    p.remove(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG);
    if (p.getProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG) == null) {
      throw new IllegalArgumentException("consumer properties need " + ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG);
    }
    return p;
  }

  /** Drops buffered records and pending offsets of partitions this sink no longer owns. */
  private void forget(Collection<TopicPartition> partitions) {
    buffer.removeIf(b -> partitions.contains(b.partition));
    uncommitted.keySet().removeAll(partitions);
  }

  private final class Rebalance implements ConsumerRebalanceListener {
    @Override
    public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
      log.debug("revoked {}", partitions);
      // Finish what we hold for these partitions while we still own them (one attempt,
      // not while already retrying a dead database); whatever is left is read again by the
      // next owner and skipped as already stored.
      if (!inRetry) {
        try {
          writeBuffer();
          commitOffsets();
        } catch (SQLException | KafkaException e) {
          closeConnectionIfBroken(e);
          log.info("partitions {} revoked before their last batch was stored ({}); the next owner reads it again",
              partitions, e.toString());
        }
      }
      forget(partitions);
    }

    @Override
    public void onPartitionsLost(Collection<TopicPartition> partitions) {
      log.debug("lost {}", partitions);
      forget(partitions);
    }

    @Override
    public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
      log.debug("assigned {}", partitions);
      if (partitions.isEmpty()) {
        return;
      }
      // resume where the database says it stands; without it, Kafka's committed offsets
      // (the idempotent insert keeps a replay harmless)
      try {
        Map<TopicPartition, Long> stored = SinkOffsets.load(connection(), groupId(), partitions);
        connection().commit();
        stored.forEach((tp, offset) -> {
          consumer.seek(tp, offset);
          log.debug("{} resumes at offset {} stored in PostgreSQL", tp, offset);
        });
      } catch (SQLException e) {
        closeConnection();
        log.info("stored offsets of {} not readable ({}); resuming from Kafka's committed offsets",
            partitions, e.toString());
      }
    }

    private void closeConnectionIfBroken(Exception e) {
      if (e instanceof SQLException) {
        closeConnection();
      }
    }
  }

  /**
   * A consumed record waiting for its batch: a decoded {@link LatencyFact} or
   * {@link LatencyWindow}, or null and the reason it was rejected.
   */
  private record Buffered(TopicPartition partition, long offset, Object record, String rejectReason,
                          byte[] key, byte[] value) {
    static Buffered rejected(TopicPartition tp, ConsumerRecord<byte[], byte[]> r, String reason) {
      return new Buffered(tp, r.offset(), null, reason, r.key(), r.value());
    }

    RejectedRecord reject(String reason) {
      return new RejectedRecord(partition.topic(), partition.partition(), offset, reason, key, value);
    }
  }

  /** Options for {@link FactSink}. */
  public static final class Builder {
    private final Properties kafka;
    private final String jdbcUrl;
    private final Properties jdbc;
    private String topic = DEFAULT_TOPIC;
    private String windowsTopic = DEFAULT_WINDOWS_TOPIC;
    private String statsTopic = DEFAULT_CAPTURE_STATS_TOPIC;
    private String pairsTopic = DEFAULT_VANTAGE_PAIRS_TOPIC;
    private int retentionDays;
    private JdbcFactWriter.Method writeMethod = JdbcFactWriter.DEFAULT_METHOD;
    private int maxBatchRecords = 5000;
    private Duration maxBatchDelay = Duration.ofMillis(200);
    private Duration initialBackoff = Duration.ofMillis(200);
    private Duration maxBackoff = Duration.ofSeconds(5);
    private int rowsPerStatement = JdbcFactWriter.DEFAULT_ROWS_PER_STATEMENT;
    private boolean migrate = true;
    private BatchListener batchListener = (records, nanos) -> { };

    private Builder(Properties kafka, String jdbcUrl, Properties jdbc) {
      this.kafka = new Properties();
      this.kafka.putAll(Objects.requireNonNull(kafka, "kafka"));
      this.jdbcUrl = Objects.requireNonNull(jdbcUrl, "jdbcUrl");
      this.jdbc = new Properties();
      if (jdbc != null) {
        this.jdbc.putAll(jdbc);
      }
    }

    /** Topic to read; default {@value FactSink#DEFAULT_TOPIC}. */
    public Builder topic(String topic) {
      this.topic = Objects.requireNonNull(topic);
      return this;
    }

    /** Latency windows topic to read too, or null for none; default {@value FactSink#DEFAULT_WINDOWS_TOPIC}. */
    public Builder latencyWindowsTopic(String topic) {
      this.windowsTopic = topic;
      return this;
    }

    /** Vantage pairs topic to read too, or null for none; default {@value FactSink#DEFAULT_VANTAGE_PAIRS_TOPIC}. */
    public Builder vantagePairsTopic(String topic) {
      this.pairsTopic = topic;
      return this;
    }

    /** Capture agents' reports topic to read too, or null for none; default {@value FactSink#DEFAULT_CAPTURE_STATS_TOPIC}. */
    public Builder captureStatsTopic(String topic) {
      this.statsTopic = topic;
      return this;
    }

    /**
     * Keep this many days of facts, latency windows and capture reports: day partitions
     * older than that are dropped and older windows and reports deleted (at start, then
     * hourly), and older records are not stored; 0 (default) keeps everything.
     */
    public Builder retentionDays(int days) {
      if (days < 0) {
        throw new IllegalArgumentException("retentionDays < 0");
      }
      this.retentionDays = days;
      return this;
    }

    /** INSERT or COPY; default {@link JdbcFactWriter#DEFAULT_METHOD}. */
    public Builder writeMethod(JdbcFactWriter.Method method) {
      this.writeMethod = Objects.requireNonNull(method);
      return this;
    }

    /** Records (facts and window parts) per database transaction at most; default 5000. */
    public Builder maxBatchRecords(int n) {
      if (n < 1) {
        throw new IllegalArgumentException("maxBatchRecords < 1");
      }
      this.maxBatchRecords = n;
      return this;
    }

    /** Longest a consumed fact waits for its batch while records keep coming; default 200 ms. */
    public Builder maxBatchDelay(Duration d) {
      this.maxBatchDelay = Objects.requireNonNull(d);
      return this;
    }

    /**
     * Backoff between retries against a database or broker that is down: first and largest
     * delay; default 200 ms, 5 s (a reconnection attempt is cheap, and the largest delay is how
     * late the sink may resume after an outage).
     */
    public Builder backoff(Duration initial, Duration max) {
      this.initialBackoff = Objects.requireNonNull(initial);
      this.maxBackoff = Objects.requireNonNull(max);
      return this;
    }

    /** Rows per INSERT statement; default {@value JdbcFactWriter#DEFAULT_ROWS_PER_STATEMENT}. */
    public Builder rowsPerStatement(int n) {
      this.rowsPerStatement = n;
      return this;
    }

    /** Run the Flyway migrations before consuming; default true. */
    public Builder migrate(boolean migrate) {
      this.migrate = migrate;
      return this;
    }

    /** Called on the sink's thread after every committed batch; default none. */
    public Builder onBatch(BatchListener listener) {
      this.batchListener = Objects.requireNonNull(listener);
      return this;
    }

    public FactSink build() {
      return new FactSink(this);
    }
  }
}
