package dev.tapflow.stream;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.LatencyWindow;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.stream.topology.ConnectionEngine;
import dev.tapflow.stream.topology.InMemoryStore;
import dev.tapflow.stream.topology.InMemoryWindowStore;
import dev.tapflow.stream.topology.KeyDecoder;
import dev.tapflow.stream.topology.LatencyWindowAggregator;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.LatencyWindowCounters;
import dev.tapflow.stream.topology.ProcessorConfig;
import dev.tapflow.stream.topology.StreamClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * {@code tapflow reprocess}: the topology's work done again, as a bounded job, over the
 * segments a time range left in the segments topic — after a decoder upgrade, or with
 * another TIMEOUT window — into facts, latency windows and anomalies on output topics.
 *
 * <p>What it reads: per partition, from the first record of capture time {@code from - warmup -}
 * {@value #SEEK_SLACK_MS} ms ({@code offsetsForTimes}) to the first of {@code to + window +}
 * {@value #SEEK_SLACK_MS} ms, or the end of the partition as it was at the start (the last
 * stable offset: segments are read {@code read_committed}). The slack is there because a
 * record's timestamp is its batch's first segment's time and batches of different
 * connections interleave: a record further on may hold earlier segments.
 *
 * <p>What it feeds the engine: the segments with {@code from - warmup <= ts < to + window} (and
 * the ends of capture in that range). The warm-up rebuilds the connections' state as it was at
 * {@code from}: a connection opened during it is decoded from its SYN (stream offsets as live),
 * and a request made before {@code from} keeps its place, so the reply to it is not taken for
 * an orphan. Segments before the warm-up are never seen: older connections start mid-stream,
 * as in a capture started then (their facts keep their ids, but {@code request_offset} counts
 * from the first byte seen). Segments after {@code to} are there only to answer the requests
 * made before it (a response later than the window would make a TIMEOUT anyway).
 *
 * <p>What it emits: the facts whose request started in {@code [from, to)} — the same facts,
 * with the same ids, that the live processor made of those requests — their anomalies in that
 * range, and the latency windows of those facts (edge windows hold only the range's facts).
 *
 * <p>How: one {@link ConnectionEngine} state, {@link StreamClock} and
 * {@link LatencyWindowAggregator} per partition, exactly as a Kafka Streams task has them
 * (stream time, sweeps and window parts per partition), so the facts match the processor's.
 * State is bounded by the engine's limits (connections per task, pending requests); records
 * are streamed through, never held. Output goes through one transactional producer, committed
 * about every second and at the end: a reader ({@code read_committed}, like the sink) never
 * sees half of a run's transaction, and a failed run can simply be run again (fact ids are
 * deterministic, the sink inserts each once, and a window part already merged adds nothing).
 */
public final class Reprocessor {

  /** How far before {@code from} (and after the drain's end) records are read for stragglers, ms. */
  public static final long SEEK_SLACK_MS = 60_000;
  private static final long COMMIT_EVERY_NS = 1_000_000_000L;
  /** Without a record for this long while partitions are unfinished, the run fails rather than hang. */
  private static final Duration STALL = Duration.ofSeconds(60);

  /** Where the output goes: topics (each must exist) and the producer's transactional id. */
  public record Outputs(String factsTopic, String windowsTopic, String errorsTopic, String transactionalId) {}

  /** A moment of the run, reported about once per {@code progressEvery}. */
  public record Progress(long recordsDone, long recordsTotal, long segments, long facts, long reachedNs,
      long fromNs, long toNs, long elapsedNs) {}

  /** What a run did. */
  public record Result(long records, long segments, long facts, long windows, long anomalies, int partitions,
      long elapsedNs, Map<String, Long> anomalyCounts) {}

  private final ProcessorConfig config;
  private final LatencyWindowConfig windows;
  private final String bootstrap;
  private final Map<String, ?> clientProps;
  private final AvroSerde<SegmentBatch> batchSerde = AvroSerde.segmentBatch();
  private final AvroSerde<LatencyFact> factSerde = AvroSerde.latencyFact();
  private final AvroSerde<DecodeError> errorSerde = AvroSerde.decodeError();
  private final AvroSerde<LatencyWindow> windowSerde = AvroSerde.latencyWindow();

  /**
   * @param config   the processor's settings; its segments topic is the input
   * @param windows  the latency windows' size and grace (its topic is not used: see {@link Outputs})
   * @param clientProps Kafka client properties (TLS, SASL...), passed to the consumer and producer
   */
  public Reprocessor(ProcessorConfig config, LatencyWindowConfig windows, String bootstrap, Map<String, ?> clientProps) {
    this.config = Objects.requireNonNull(config);
    this.windows = Objects.requireNonNull(windows);
    this.bootstrap = Objects.requireNonNull(bootstrap);
    this.clientProps = Map.copyOf(clientProps);
  }

  /**
   * Reprocesses the requests made in {@code [fromNs, toNs)} of capture time.
   *
   * @param progress called on this thread about every {@code progressEvery}, and once at the end
   */
  public Result run(long fromNs, long toNs, Duration warmup, Outputs out, Duration progressEvery,
      Consumer<Progress> progress) {
    if (toNs <= fromNs) {
      throw new IllegalArgumentException("empty time range: from must be before to");
    }
    long readFromNs = fromNs - warmup.toNanos();
    long started = System.nanoTime();
    long drainEndNs = saturatedAdd(toNs, config.window().toNanos());
    ConnectionEngine engine = new ConnectionEngine(config);
    LatencyWindowCounters windowCounters = new LatencyWindowCounters();
    long[] counts = new long[4]; // facts, windows, anomalies, segments
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(consumerProps(), new ByteArrayDeserializer(),
        new ByteArrayDeserializer());
        KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerProps(out.transactionalId()),
            new ByteArraySerializer(), new ByteArraySerializer())) {
      List<PartitionInfo> infos = consumer.partitionsFor(config.segmentsTopic(), Duration.ofSeconds(30));
      if (infos == null || infos.isEmpty()) {
        throw new IllegalStateException("topic " + config.segmentsTopic() + " does not exist");
      }
      List<TopicPartition> all = infos.stream().map(pi -> new TopicPartition(pi.topic(), pi.partition())).toList();
      Map<TopicPartition, Long> ends = consumer.endOffsets(all, Duration.ofSeconds(30));
      Map<TopicPartition, Long> start = offsetsAt(consumer, all, Math.floorDiv(readFromNs, 1_000_000L) - SEEK_SLACK_MS,
          ends);
      Map<TopicPartition, Long> stop = offsetsAt(consumer, all,
          saturatedAdd(Math.floorDiv(drainEndNs, 1_000_000L) + 1, SEEK_SLACK_MS), ends);
      long total = 0;
      List<TopicPartition> assigned = new ArrayList<>();
      for (TopicPartition tp : all) {
        if (start.get(tp) < stop.get(tp)) {
          assigned.add(tp);
          total += stop.get(tp) - start.get(tp);
        }
      }
      producer.initTransactions();
      Map<Integer, Task> tasks = new HashMap<>();
      for (TopicPartition tp : assigned) {
        tasks.put(tp.partition(), new Task(tp.partition(), engine, windowCounters, readFromNs, fromNs, toNs, drainEndNs,
            producer, out, counts));
      }
      consumer.assign(assigned);
      assigned.forEach(tp -> consumer.seek(tp, start.get(tp)));
      Set<TopicPartition> open = new LinkedHashSet<>(assigned);
      producer.beginTransaction();
      long lastCommit = System.nanoTime();
      long lastProgress = System.nanoTime();
      long lastRecord = System.nanoTime();
      long records = 0;
      while (!open.isEmpty()) {
        boolean any = false;
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
          TopicPartition tp = new TopicPartition(r.topic(), r.partition());
          if (r.offset() >= stop.get(tp)) {
            continue;
          }
          any = true;
          records++;
          tasks.get(r.partition()).record(r);
        }
        for (java.util.Iterator<TopicPartition> it = open.iterator(); it.hasNext(); ) {
          TopicPartition tp = it.next();
          if (consumer.position(tp) >= stop.get(tp)) {
            consumer.pause(List.of(tp));
            it.remove();
          }
        }
        long now = System.nanoTime();
        if (any) {
          lastRecord = now;
        } else if (now - lastRecord > STALL.toNanos()) {
          throw new IllegalStateException("no segment read for " + STALL.toSeconds() + " s with " + open.size()
              + " partition(s) unfinished: " + open);
        }
        if (now - lastCommit >= COMMIT_EVERY_NS) {
          producer.commitTransaction();
          producer.beginTransaction();
          lastCommit = now;
        }
        if (now - lastProgress >= progressEvery.toNanos()) {
          lastProgress = now;
          progress.accept(progress(consumer, tasks, start, stop, total, counts, fromNs, toNs, started));
        }
      }
      for (Task t : tasks.values()) {
        t.finish();
      }
      producer.commitTransaction();
      progress.accept(new Progress(total, total, counts[3], counts[0], toNs, fromNs, toNs, System.nanoTime() - started));
      Map<String, Long> anomalies = new java.util.TreeMap<>(engine.anomalyCounts());
      if (windowCounters.lateFactsDropped() > 0) {
        anomalies.put("LATENCY_WINDOW_LATE_FACTS", windowCounters.lateFactsDropped());
      }
      return new Result(records, counts[3], counts[0], counts[1], counts[2], assigned.size(),
          System.nanoTime() - started, anomalies);
    }
  }

  private Progress progress(KafkaConsumer<byte[], byte[]> consumer, Map<Integer, Task> tasks,
      Map<TopicPartition, Long> start, Map<TopicPartition, Long> stop, long total, long[] counts, long fromNs, long toNs,
      long started) {
    long done = 0;
    long reached = Long.MAX_VALUE;
    for (TopicPartition tp : consumer.assignment()) {
      long pos = Math.min(consumer.position(tp), stop.get(tp));
      done += pos - start.get(tp);
      if (pos < stop.get(tp)) {
        reached = Math.min(reached, tasks.get(tp.partition()).reachedNs());
      }
    }
    return new Progress(done, total, counts[3], counts[0], reached == Long.MAX_VALUE ? toNs : reached, fromNs, toNs,
        System.nanoTime() - started);
  }

  /** Per partition: the first offset at or after {@code timestampMs}, or the end when none is. */
  private static Map<TopicPartition, Long> offsetsAt(KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> tps,
      long timestampMs, Map<TopicPartition, Long> ends) {
    Map<TopicPartition, Long> query = new HashMap<>();
    tps.forEach(tp -> query.put(tp, Math.max(0, timestampMs)));
    Map<TopicPartition, OffsetAndTimestamp> found = consumer.offsetsForTimes(query, Duration.ofSeconds(30));
    Map<TopicPartition, Long> out = new HashMap<>();
    for (TopicPartition tp : tps) {
      OffsetAndTimestamp o = found.get(tp);
      out.put(tp, o == null ? ends.get(tp) : Math.min(o.offset(), ends.get(tp)));
    }
    return out;
  }

  private Properties consumerProps() {
    Properties p = clientProps(ConsumerConfig.configNames());
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
    p.remove(ConsumerConfig.GROUP_ID_CONFIG); // assigned partitions, no group: nothing to clean up after
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, "tapflow-reprocess");
    return p;
  }

  private Properties producerProps(String transactionalId) {
    Properties p = clientProps(ProducerConfig.configNames());
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, transactionalId);
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
    p.put(ProducerConfig.CLIENT_ID_CONFIG, "tapflow-reprocess");
    return p;
  }

  /** The given client properties that a client of this kind knows (the others would only be warned about). */
  private Properties clientProps(Set<String> known) {
    Properties p = new Properties();
    clientProps.forEach((k, v) -> {
      if (known.contains(k)) {
        p.put(k, v);
      }
    });
    return p;
  }

  private static long saturatedAdd(long a, long b) {
    long r = a + b;
    return ((a ^ r) & (b ^ r)) < 0 ? Long.MAX_VALUE : r;
  }

  /** What a Kafka Streams task holds for one partition: connections, stream time, windows. */
  private final class Task implements ConnectionEngine.Output {
    private final ConnectionEngine engine;
    private final InMemoryStore store = new InMemoryStore();
    private final StreamClock clock = new StreamClock(config);
    private final LatencyWindowAggregator windowAggregator;
    private final KeyDecoder keys = new KeyDecoder();
    private final Set<String> agents = new LinkedHashSet<>();
    private final long readFromNs;
    private final long fromNs;
    private final long toNs;
    private final long drainEndNs;
    private final KafkaProducer<byte[], byte[]> producer;
    private final Outputs out;
    private final long[] counts;
    private long reachedNs = Long.MIN_VALUE;

    Task(int partition, ConnectionEngine engine, LatencyWindowCounters windowCounters, long readFromNs, long fromNs,
        long toNs, long drainEndNs, KafkaProducer<byte[], byte[]> producer, Outputs out, long[] counts) {
      this.engine = engine;
      this.readFromNs = readFromNs;
      this.fromNs = fromNs;
      this.toNs = toNs;
      this.drainEndNs = drainEndNs;
      this.producer = producer;
      this.out = out;
      this.counts = counts;
      this.windowAggregator = new LatencyWindowAggregator(windows, config, windowCounters, new InMemoryWindowStore(),
          partition, new LatencyWindowAggregator.Output() {
            @Override
            public void window(byte[] key, LatencyWindow window, long timestampMs) {
              counts[1]++;
              producer.send(new ProducerRecord<>(out.windowsTopic(), null, timestampMs, key,
                  windowSerde.encode(window)));
            }

            @Override
            public void anomaly(byte[] key, DecodeError error, long timestampMs) {
              counts[2]++;
              producer.send(new ProducerRecord<>(out.errorsTopic(), null, timestampMs, key, errorSerde.encode(error)));
            }
          });
    }

    /** One segments record, as the connections processor would take it. */
    void record(ConsumerRecord<byte[], byte[]> r) {
      reachedNs = Math.max(reachedNs, r.timestamp() * 1_000_000L);
      SegmentBatch batch = decode(r.value());
      ConnectionKey key = r.key() == null ? null : keys.decode(r.key());
      if (batch != null && key != null) {
        agents.add(key.getAgent());
        if (batch.getEndOfCapture()) {
          if (batch.getEndTsNs() >= readFromNs && batch.getEndTsNs() < drainEndNs) {
            engine.onBatch(r.key(), key, batch, store, this);
            windowAggregator.onAgentEnd(key.getAgent(), batch.getEndTsNs());
          }
        } else {
          SegmentBatch inRange = inRange(batch);
          if (inRange != null) {
            counts[3] += inRange.getSegments().size();
            engine.onBatch(r.key(), key, inRange, store, this);
          }
        }
      }
      // stream time moves with every record read, as in the processor's task
      if (clock.advance(r.timestamp())) {
        sweep();
      }
    }

    /** The end of the partition's range: a last sweep where the data ended, then every window closes. */
    void finish() {
      if (clock.streamTimeNs() != Long.MIN_VALUE) {
        sweep();
      }
      for (String agent : agents) {
        windowAggregator.onAgentEnd(agent, toNs);
      }
    }

    long reachedNs() {
      return reachedNs == Long.MIN_VALUE ? readFromNs : reachedNs;
    }

    private void sweep() {
      engine.onStreamTime(clock.streamTimeNs(), store, this);
      windowAggregator.onTick(clock.streamTimeNs() / 1_000_000L);
    }

    /** The batch with only its segments of {@code [from - warmup, drainEnd)}: null when none, itself when all. */
    private SegmentBatch inRange(SegmentBatch batch) {
      List<Segment> segments = batch.getSegments();
      int keep = 0;
      for (Segment s : segments) {
        if (s.getTsNs() >= readFromNs && s.getTsNs() < drainEndNs) {
          keep++;
        }
      }
      if (keep == segments.size()) {
        return batch;
      }
      if (keep == 0) {
        return null;
      }
      List<Segment> kept = new ArrayList<>(keep);
      for (Segment s : segments) {
        if (s.getTsNs() >= readFromNs && s.getTsNs() < drainEndNs) {
          kept.add(s);
        }
      }
      return SegmentBatch.newBuilder(batch).setSegments(kept).build();
    }

    private SegmentBatch decode(byte[] value) {
      if (value == null) {
        return null;
      }
      try {
        return batchSerde.decode(value);
      } catch (SerializationException e) {
        return null; // the processor logs and skips these too (LogAndContinueExceptionHandler)
      }
    }

    @Override
    public void fact(byte[] key, LatencyFact fact) {
      long ts = fact.getRequestFirstNs();
      if (ts < fromNs || ts >= toNs) {
        return;
      }
      counts[0]++;
      send(out.factsTopic(), key, factSerde.encode(fact), ts);
      windowAggregator.add(fact);
    }

    @Override
    public void decodeError(byte[] key, DecodeError error) {
      long ts = error.getTsNs();
      if (ts < fromNs || ts >= toNs) {
        return;
      }
      counts[2]++;
      send(out.errorsTopic(), key, errorSerde.encode(error), ts);
    }

    /** A record timestamped as the processor's sinks do it: the capture time in ms. */
    private void send(String topic, byte[] key, byte[] value, long tsNs) {
      producer.send(new ProducerRecord<>(topic, null, Math.max(0, tsNs / 1_000_000), key, value));
    }
  }
}
