package dev.tapflow.stream;

import dev.tapflow.stream.topology.ConnectionEngine;
import dev.tapflow.stream.topology.DeadLetters;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.LatencyWindowCounters;
import dev.tapflow.stream.topology.ProcessorConfig;
import dev.tapflow.stream.topology.TapflowTopology;
import dev.tapflow.stream.topology.VantageJoinConfig;
import dev.tapflow.stream.topology.VantageJoinCounters;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The stream-processor role: the tapflow topology running in Kafka Streams, with the
 * lifecycle the CLI and tests need (start, wait until every segment published so far is
 * processed, close leaving the group so a restart does not wait for a session timeout).
 */
public final class ProcessorApp implements AutoCloseable {

  private static final Logger LOG = LoggerFactory.getLogger(ProcessorApp.class);
  public static final String DEFAULT_APPLICATION_ID = "tapflow-processor";

  private final ProcessorConfig config;
  private final ConnectionEngine engine;
  private final LatencyWindowCounters windowCounters = new LatencyWindowCounters();
  private final VantageJoinCounters vantageCounters = new VantageJoinCounters();
  private final VantageJoinConfig vantage;
  private final DeadLetters.Counter deadLetters = new DeadLetters.Counter();
  private final KafkaStreams streams;
  private final String applicationId;
  private final Properties adminProps = new Properties();
  private volatile Throwable failure;
  private volatile long runningAfterNs = -1;
  private volatile Runnable onStopped;

  /**
   * @param bootstrapServers Kafka
   * @param applicationId    Kafka Streams application id (consumer group, changelog prefix)
   * @param stateDir         local state directory
   * @param extra            any Kafka Streams / client property, passed through unchanged
   */
  public ProcessorApp(ProcessorConfig config, String bootstrapServers, String applicationId, Path stateDir,
      Map<String, ?> extra) {
    this(config, LatencyWindowConfig.defaults(), bootstrapServers, applicationId, stateDir, extra);
  }

  /** As above, with the latency windows' size, grace and topic (and the vantage join's defaults). */
  public ProcessorApp(ProcessorConfig config, LatencyWindowConfig windows, String bootstrapServers,
      String applicationId, Path stateDir, Map<String, ?> extra) {
    this(config, windows, VantageJoinConfig.defaults(), bootstrapServers, applicationId, stateDir, extra);
  }

  /** As above, with the vantage join's settings. */
  public ProcessorApp(ProcessorConfig config, LatencyWindowConfig windows, VantageJoinConfig vantage,
      String bootstrapServers, String applicationId, Path stateDir, Map<String, ?> extra) {
    this.config = config;
    this.vantage = vantage;
    this.applicationId = applicationId;
    this.engine = new ConnectionEngine(config);
    Properties p = TapflowTopology.baseProperties();
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    p.putAll(extra);
    p.put(DeadLetters.COUNTER_CONFIG, deadLetters);
    adminProps.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
    extra.forEach((k, v) -> {
      if (AdminClientConfig.configNames().contains(k)) {
        adminProps.put(k, v);
      }
    });
    streams = new KafkaStreams(TapflowTopology.build(config, engine, windows, windowCounters, vantage,
        vantageCounters), p);
    streams.setUncaughtExceptionHandler(e -> {
      failure = e;
      LOG.error("stream processing failed: {}", e.toString());
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
  }

  public ProcessorApp start() {
    long started = System.nanoTime();
    streams.setStateListener((now, before) -> {
      if (now == KafkaStreams.State.RUNNING && runningAfterNs < 0) {
        runningAfterNs = System.nanoTime() - started;
        LOG.info("stream processor running {} ms after start", runningAfterNs / 1_000_000);
      }
      if ((now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) && onStopped != null) {
        onStopped.run();
      }
    });
    streams.start();
    return this;
  }

  /** Runs {@code action} when the processor stops by itself (error) or is closed; set before {@link #start}. */
  public ProcessorApp onStopped(Runnable action) {
    this.onStopped = action;
    return this;
  }

  /** How long the first rebalance (and state restoration) took, or -1 while not yet running. */
  public long runningAfterMs() {
    return runningAfterNs < 0 ? -1 : runningAfterNs / 1_000_000;
  }

  public KafkaStreams streams() {
    return streams;
  }

  public ConnectionEngine engine() {
    return engine;
  }

  /** What the latency window processors did (facts counted, late facts dropped, windows emitted). */
  public LatencyWindowCounters latencyWindows() {
    return windowCounters;
  }

  /** What the vantage join did (pairs, clock offsets per agent pair, skewed agent pairs). */
  public VantageJoinCounters vantage() {
    return vantageCounters;
  }

  /** Poison records of the segments topic skipped and sent to the dead-letter topic so far. */
  public long deadLetters() {
    return deadLetters.get();
  }

  /**
   * This instance's share of the work right now: the segments partitions of its active tasks
   * and of its standby tasks (state kept warm for another instance's tasks), e.g.
   * {@code active=[0,3,6] standby=[1,4]}; empty lists before the first assignment.
   */
  public String assignment() {
    java.util.TreeSet<Integer> active = new java.util.TreeSet<>();
    java.util.TreeSet<Integer> standby = new java.util.TreeSet<>();
    try {
      for (var thread : streams.metadataForLocalThreads()) {
        thread.activeTasks().forEach(t -> t.topicPartitions().stream()
            .filter(tp -> tp.topic().equals(config.segmentsTopic())).forEach(tp -> active.add(tp.partition())));
        thread.standbyTasks().forEach(t -> standby.add(t.taskId().partition()));
      }
    } catch (RuntimeException e) {
      // not running (yet, or any more): nothing assigned
    }
    return "active=" + active.toString().replace(" ", "") + " standby=" + standby.toString().replace(" ", "");
  }

  /** Input records this instance's stream threads have processed so far (Kafka Streams' thread-level process-total). */
  public long processedRecords() {
    double total = 0;
    for (var e : streams.metrics().entrySet()) {
      if (e.getKey().group().equals("stream-thread-metrics") && e.getKey().name().equals("process-total")
          && e.getValue().metricValue() instanceof Number n) {
        total += n.doubleValue();
      }
    }
    return (long) total;
  }

  public Throwable failure() {
    return failure;
  }

  /**
   * Waits until the processor has consumed (and committed) every segment record in the
   * segments topic as of this call.
   *
   * @return false on timeout
   * @throws IllegalStateException when the processor failed
   */
  public boolean awaitCaughtUp(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    try (Admin admin = Admin.create(adminProps)) {
      // in stages: each stage's output is committed with its input's offsets, so once a stage
      // is caught up the next one's input is complete (segments -> facts -> the join's repartitions)
      List<List<String>> stages = new java.util.ArrayList<>();
      stages.add(List.of(config.segmentsTopic()));
      if (vantage.enabled()) {
        stages.add(List.of(config.factsTopic()));
        stages.add(List.of(repartitionTopic("left"), repartitionTopic("right")));
      }
      for (List<String> stage : stages) {
        if (!awaitCommitted(admin, endOffsets(admin, stage), deadline)) {
          return false;
        }
      }
      return true;
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("cannot read the processor's progress from Kafka: " + e.getMessage(), e);
    }
  }

  /** The join's repartition topic of one side ({@code left}: client-side facts, {@code right}: server-side). */
  private String repartitionTopic(String side) {
    return applicationId + "-" + VantageJoinConfig.JOIN_NAME + "-" + side + "-repartition";
  }

  private boolean awaitCommitted(Admin admin, Map<TopicPartition, Long> ends, long deadline)
      throws InterruptedException, ExecutionException, TimeoutException {
    while (System.nanoTime() < deadline) {
      if (failure != null || streams.state() == KafkaStreams.State.ERROR
          || streams.state() == KafkaStreams.State.NOT_RUNNING) {
        throw new IllegalStateException("the stream processor stopped: "
            + (failure == null ? streams.state() : failure.toString()));
      }
      Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(applicationId)
          .partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS);
      boolean done = true;
      for (Map.Entry<TopicPartition, Long> e : ends.entrySet()) {
        if (e.getValue() == 0) {
          continue;
        }
        OffsetAndMetadata c = committed.get(e.getKey());
        if (c == null || c.offset() < e.getValue()) {
          done = false;
          break;
        }
      }
      if (done) {
        return true;
      }
      Thread.sleep(100);
    }
    return false;
  }

  /** End offsets of the topics' partitions; a topic that does not exist (yet) has none. */
  private Map<TopicPartition, Long> endOffsets(Admin admin, List<String> topics)
      throws ExecutionException, InterruptedException, TimeoutException {
    Map<TopicPartition, OffsetSpec> specs = new HashMap<>();
    java.util.Set<String> existing = admin.listTopics().names().get(10, TimeUnit.SECONDS);
    List<String> present = topics.stream().filter(existing::contains).toList();
    if (present.isEmpty()) {
      return Map.of();
    }
    for (TopicDescription d : admin.describeTopics(present).allTopicNames().get(10, TimeUnit.SECONDS).values()) {
      d.partitions().forEach(pi -> specs.put(new TopicPartition(d.name(), pi.partition()), OffsetSpec.latest()));
    }
    Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> r = admin.listOffsets(specs).all().get(10, TimeUnit.SECONDS);
    Map<TopicPartition, Long> out = new HashMap<>();
    r.forEach((tp, info) -> out.put(tp, info.offset()));
    return out;
  }

  /** Closes leaving the consumer group, so the next start does not wait for a session timeout. */
  @Override
  public void close() {
    streams.close(CloseOptions.groupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
        .withTimeout(Duration.ofSeconds(30)));
  }
}
