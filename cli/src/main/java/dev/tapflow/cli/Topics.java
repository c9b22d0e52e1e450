package dev.tapflow.cli;

import dev.tapflow.capture.live.LiveCapture;
import dev.tapflow.stream.topology.DeadLetters;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

/** Creates tapflow's topics when they do not exist (never changes existing ones), the agents' stats topic included. */
final class Topics {
  private Topics() {}

  static void ensure(String bootstrap, Map<String, Object> clientProps, ProcessorConfig config,
      LatencyWindowConfig windows, int partitions) {
    ensure(bootstrap, clientProps, all(config, windows), partitions, (short) 1);
  }

  /**
   * The rule for the number of partitions of the segments topic (and, the same, of facts and
   * windows): the smallest multiple of 12 that is at least {@code maxProcessors x streamThreads}.
   *
   * <ul>
   *   <li>A partition is a Kafka Streams task, and a task runs on one thread of one instance: the
   *       partitions bound how many processor threads work at once, so there must be at least as many
   *       as the most threads the deployment will ever run.
   *   <li>Segments are keyed by connection (agent and both endpoints): a connection's state lives in
   *       one task. Partitions cannot be added later without moving live connections to tasks that
   *       lack their state, so size for the most processors from the start.
   *   <li>12 divides evenly by 1, 2, 3, 4, 6 and 12 instances: scaling between those keeps every
   *       instance's share equal. Beyond that, each partition costs a changelog partition, a state
   *       store and an end-of-capture record per finished capture: more is not free.
   *   <li>Agents do not enter the rule: every agent's connections hash over all partitions, so many
   *       agents spread like many connections. Parallelism is at most the number of connections
   *       active at once (one connection's segments are one task's work).
   * </ul>
   */
  static int partitionsFor(int maxProcessors, int streamThreads) {
    int threads = Math.multiplyExact(maxProcessors, streamThreads);
    return Math.max(12, (threads + 11) / 12 * 12);
  }

  /** {@code min.insync.replicas} of topics created with {@code replicationFactor} replicas: one less, at most 2. */
  static int minInsyncReplicas(short replicationFactor) {
    return Math.max(1, Math.min(replicationFactor - 1, 2));
  }

  /** The pipeline's topics: segments, facts, decode errors, latency windows, agents' reports, dead letters, vantage pairs. */
  static List<String> all(ProcessorConfig config, LatencyWindowConfig windows) {
    return List.of(config.segmentsTopic(), config.factsTopic(), config.decodeErrorsTopic(), windows.topic(),
        LiveCapture.STATS_TOPIC, DeadLetters.TOPIC, dev.tapflow.stream.topology.VantageJoinConfig.TOPIC);
  }

  /** Creates those of {@code topics} that do not exist, with {@code partitions} partitions each. */
  static void ensure(String bootstrap, Map<String, Object> clientProps, List<String> topics, int partitions) {
    ensure(bootstrap, clientProps, topics, partitions, (short) 1);
  }

  /** As above, with {@code replicationFactor} replicas; returns the topics it created. */
  static List<String> ensure(String bootstrap, Map<String, Object> clientProps, List<String> topics, int partitions,
      short replicationFactor) {
    try (Admin admin = admin(bootstrap, clientProps)) {
      Set<String> existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
      List<NewTopic> create = new ArrayList<>();
      for (String t : topics) {
        if (!existing.contains(t)) {
          NewTopic topic = new NewTopic(t, partitions, replicationFactor);
          if (replicationFactor > 1) { // acks=all then survives one replica down without losing a write
            topic.configs(Map.of("min.insync.replicas", Integer.toString(minInsyncReplicas(replicationFactor))));
          }
          create.add(topic);
        }
      }
      if (!create.isEmpty()) {
        admin.createTopics(create).all().get(30, TimeUnit.SECONDS);
        awaitLeaders(admin, create.stream().map(NewTopic::name).toList());
      }
      return create.stream().map(NewTopic::name).toList();
    } catch (ExecutionException | TimeoutException e) {
      throw new UserError("cannot create tapflow's topics on " + bootstrap + ": " + UserError.message(e), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UserError("interrupted");
    }
  }

  /**
   * Waits until every partition of new topics has a leader in the broker's metadata (up to
   * 30 s), so the first writers meet fewer NOT_LEADER_OR_FOLLOWER retries. It does not close the
   * window (the broker publishes the leader before it has made the partition); what keeps such a
   * retry from sticking on OUT_OF_ORDER_SEQUENCE_NUMBER is the publisher's single request in
   * flight ({@code KafkaSegmentPublisher.producerConfig}).
   */
  private static void awaitLeaders(Admin admin, List<String> topics)
      throws InterruptedException, ExecutionException, TimeoutException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      boolean ready = true;
      try {
        for (var d : admin.describeTopics(topics).allTopicNames().get(30, TimeUnit.SECONDS).values()) {
          for (var partition : d.partitions()) {
            ready &= partition.leader() != null && !partition.leader().isEmpty();
          }
        }
      } catch (ExecutionException e) {
        ready = false; // not known to the broker yet
        if (System.nanoTime() > deadline) {
          throw e;
        }
      }
      if (ready) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new TimeoutException("partitions of " + topics + " have no leader after 30 s");
      }
      Thread.sleep(50);
    }
  }

  /** The number of partitions of {@code topic}; a one-line error when it does not exist. */
  static int partitions(String bootstrap, Map<String, Object> clientProps, String topic) {
    try (Admin admin = admin(bootstrap, clientProps)) {
      return admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic)
          .partitions().size();
    } catch (ExecutionException | TimeoutException e) {
      throw new UserError("cannot describe topic " + topic + " on " + bootstrap + ": " + UserError.message(e), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UserError("interrupted");
    }
  }

  private static Admin admin(String bootstrap, Map<String, Object> clientProps) {
    Properties p = new Properties();
    clientProps.forEach((k, v) -> {
      if (org.apache.kafka.clients.admin.AdminClientConfig.configNames().contains(k)) {
        p.put(k, v);
      }
    });
    p.put("bootstrap.servers", bootstrap);
    p.put("request.timeout.ms", "15000");
    p.put("default.api.timeout.ms", "30000");
    return Admin.create(p);
  }
}
