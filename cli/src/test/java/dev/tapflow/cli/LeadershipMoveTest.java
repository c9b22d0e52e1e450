package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.embedded.EmbeddedKafkaCluster;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.stream.ProcessorApp;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.ElectionType;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11: partition leadership moves under a running pipeline and the facts stay exact. A
 * 3-node KRaft cluster in this JVM ({@link EmbeddedKafkaCluster}: replication factor 3,
 * {@code min.insync.replicas} 2); the Kafka Streams processor (exactly_once_v2) runs on it.
 * While it processes a first real redis-benchmark capture, the node that leads the most
 * segments and facts partitions is shut down (their leadership moves to the other replicas) and
 * a second capture is published; the node comes back, leadership is moved back to it with
 * {@code Admin.electLeaders(PREFERRED)}, and a third capture is published. The facts topic, read
 * committed, must then hold every fact {@code tapflow analyze} derives from the three captures,
 * each id once, and per capture and command exactly what Redis counted (INFO commandstats).
 */
class LeadershipMoveTest {
  private static final Path FIXTURES = LocalPipelineTest.FIXTURES;
  /** An upper bound for each wait (the machine may be busy), not a timing assertion. */
  private static final Duration WAIT = Duration.ofSeconds(120);

  @TempDir
  Path dir;

  @Test
  void factsStayExactWhileALeaderGoesAndComesBack() throws Exception {
    Path plain = FIXTURES.resolve("benchmark-plain.pcap");
    Path pipelined = FIXTURES.resolve("benchmark-pipelined.pcap");
    ProcessorConfig config = ProcessorConfig.defaults();
    LatencyWindowConfig windows = LatencyWindowConfig.defaults();
    List<String> moved = List.of(config.segmentsTopic(), config.factsTopic());
    long t0 = System.nanoTime();
    java.util.function.Consumer<String> phase = what -> System.out.printf("%6d ms %s%n",
        (System.nanoTime() - t0) / 1_000_000, what);
    try (EmbeddedKafkaCluster cluster = EmbeddedKafkaCluster.start(dir.resolve("kafka"), 3)) {
      String bootstrap = cluster.bootstrapServers();
      Topics.ensure(bootstrap, Map.of(), Topics.all(config, windows), 6, (short) 3);
      phase.accept("3 nodes, topics with 6 partitions x 3 replicas");
      try (Admin admin = Admin.create(cluster.adminProperties());
          ProcessorApp processor = new ProcessorApp(config, windows, bootstrap, "leadership-test",
              dir.resolve("streams"), Map.of())) {
        processor.start();
        for (TopicDescription d : describe(admin, moved).values()) {
          for (TopicPartitionInfo p : d.partitions()) {
            assertEquals(3, p.isr().size(), d.name() + " " + p.partition() + " in sync on all three nodes");
          }
        }

        // 1. the first capture; while it is being processed, the busiest leader goes away and a
        //    second capture is published
        publish(bootstrap, plain, "plain");
        awaitTrue(() -> committed(admin, "leadership-test", config.segmentsTopic()) > 0, "the processor started");
        int victim = busiestLeader(describe(admin, moved));
        phase.accept("processing; stopping node " + victim + ", which leads "
            + led(describe(admin, moved), victim) + " segments/facts partitions");
        CompletableFuture<Void> second = CompletableFuture.runAsync(() -> publish(bootstrap, pipelined, "pipelined"));
        cluster.stopNode(victim);
        second.get(WAIT.toSeconds(), TimeUnit.SECONDS);
        assertEquals(0, led(describe(admin, moved), victim), "leadership moved off the stopped node");
        assertTrue(processor.awaitCaughtUp(WAIT), "caught up with one node down");
        phase.accept("caught up with node " + victim + " down");

        // 2. the node comes back; once in sync again it is made leader of its partitions again
        cluster.startNode(victim);
        awaitTrue(() -> describe(admin, moved).values().stream().flatMap(d -> d.partitions().stream())
            .allMatch(p -> p.isr().size() == 3), "node " + victim + " back in sync");
        List<TopicPartition> all = new ArrayList<>();
        describe(admin, moved).values().forEach(d -> d.partitions().forEach(
            p -> all.add(new TopicPartition(d.name(), p.partition()))));
        admin.electLeaders(ElectionType.PREFERRED, Set.copyOf(all)).partitions().get(60, TimeUnit.SECONDS);
        awaitTrue(() -> led(describe(admin, moved), victim) > 0, "node " + victim + " leads again");
        phase.accept("node " + victim + " back, leading " + led(describe(admin, moved), victim) + " partitions");
        publish(bootstrap, plain, "plain-again"); // the same traffic as another agent: new fact ids
        assertTrue(processor.awaitCaughtUp(WAIT), "caught up after the move back");
        phase.accept("caught up");
        assertEquals(0, processor.deadLetters());
      }

      // every fact analyze derives, each id once, nothing else
      Map<String, String> expected = new TreeMap<>();
      Analyzer analyzer = new Analyzer(config);
      for (String[] run : new String[][] {{"plain", plain.toString()}, {"pipelined", pipelined.toString()},
          {"plain-again", plain.toString()}}) {
        for (LatencyFact f : analyzer.analyze(List.of(Path.of(run[1])), run[0]).facts()) {
          expected.put(f.getId(), describe(f));
        }
      }
      Map<String, String> stored = new TreeMap<>();
      Map<String, Map<String, Long>> perAgent = new TreeMap<>();
      for (LatencyFact f : committedFacts(bootstrap, config.factsTopic())) {
        assertEquals(null, stored.put(f.getId(), describe(f)), "a duplicated fact id: " + describe(f));
        String cmd = f.getCommand().toLowerCase(Locale.ROOT);
        if (cmd.equals("config")) {
          cmd = "config|" + f.getArgs().split(" ")[0].toLowerCase(Locale.ROOT);
        }
        perAgent.computeIfAbsent(f.getAgent(), k -> new TreeMap<>()).merge(cmd, 1L, Long::sum);
      }
      System.out.printf("facts %d, expected %d%n", stored.size(), expected.size());
      assertEquals(expected, stored, "facts in tapflow.facts.v1 vs tapflow analyze: none lost, none duplicated");
      Map<String, Long> plainTruth = LocalPipelineTest.commandstats(FIXTURES.resolve("benchmark-plain.commandstats.json"));
      assertEquals(plainTruth, perAgent.get("plain"), "plain: facts per command vs INFO commandstats");
      assertEquals(plainTruth, perAgent.get("plain-again"), "plain-again: facts per command vs INFO commandstats");
      assertEquals(LocalPipelineTest.commandstats(FIXTURES.resolve("benchmark-pipelined.commandstats.json")),
          perAgent.get("pipelined"), "pipelined: facts per command vs INFO commandstats");
    }
  }

  private static String describe(LatencyFact f) {
    return f.getAgent() + " " + f.getCommand() + " " + f.getStatus() + " " + f.getLatencyNs() + " "
        + f.getRequestFirstNs() + " " + f.getRequestOffset();
  }

  private static void publish(String bootstrap, Path file, String agent) {
    try (KafkaSegmentPublisher publisher = new KafkaSegmentPublisher(bootstrap, ProcessorConfig.SEGMENTS_TOPIC,
        Map.of())) {
      ImportCommand.importAll(List.of(file), agent, publisher);
      publisher.flush();
    } catch (Exception e) {
      throw new IllegalStateException("publishing " + file + ": " + e, e);
    }
  }

  private static Map<String, TopicDescription> describe(Admin admin, List<String> topics) {
    try {
      return admin.describeTopics(topics).allTopicNames().get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("describe " + topics + ": " + e, e);
    }
  }

  /** The node that leads the most partitions of these topics. */
  private static int busiestLeader(Map<String, TopicDescription> topics) {
    Map<Integer, Integer> led = new HashMap<>();
    topics.values().forEach(d -> d.partitions().forEach(p -> led.merge(p.leader().id(), 1, Integer::sum)));
    return led.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
  }

  private static long led(Map<String, TopicDescription> topics, int node) {
    return topics.values().stream().flatMap(d -> d.partitions().stream())
        .filter(p -> p.leader() != null && p.leader().id() == node).count();
  }

  private static long committed(Admin admin, String group, String topic) {
    try {
      return admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS)
          .entrySet().stream().filter(e -> e.getKey().topic().equals(topic) && e.getValue() != null)
          .mapToLong(e -> e.getValue().offset()).sum();
    } catch (Exception e) {
      return 0;
    }
  }

  private static List<LatencyFact> committedFacts(String bootstrap, String topic) {
    java.util.Properties p = new java.util.Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("isolation.level", "read_committed");
    AvroSerde<LatencyFact> serde = AvroSerde.latencyFact();
    List<LatencyFact> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      List<TopicPartition> tps = c.partitionsFor(topic).stream()
          .map(i -> new TopicPartition(topic, i.partition())).toList();
      c.assign(tps);
      c.seekToBeginning(tps);
      Map<TopicPartition, Long> end = c.endOffsets(tps);
      while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
          out.add(serde.decode(r.value()));
        }
      }
    }
    return out;
  }

  private static void awaitTrue(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      assertFalse(System.nanoTime() > deadline, "waited " + WAIT + " for: " + what);
      Thread.sleep(100);
    }
  }
}
