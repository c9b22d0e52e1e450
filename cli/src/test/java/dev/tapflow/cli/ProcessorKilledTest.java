package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.sink.FactSink;
import dev.tapflow.sink.TapflowSchema;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8's crash test for the stream processor: a two-instance processor group (separate
 * JVMs, {@code tapflow process}, one application id, exactly_once_v2, a standby replica of
 * every task) turns over 200k request/response pairs of real redis-benchmark traffic into
 * facts while, ten times, one of the instances — chosen at random, at a random moment while
 * facts are flowing — is killed with SIGKILL and started again. The sink writes the facts to
 * PostgreSQL meanwhile. At the end PostgreSQL holds exactly the truth: per capture copy and
 * command what Redis counted (INFO commandstats), no fact missing, none twice, and for two
 * copies exactly the facts {@code tapflow analyze} derives.
 */
class ProcessorKilledTest {
  private static final Path FIXTURE = LocalPipelineTest.FIXTURES.resolve("benchmark-plain.pcap");
  /** Copies of the fixture, each its own agent: 80 x 2562 = 204,960 pairs. */
  private static final int COPIES = Integer.getInteger("tapflow.test.killCopies", 80);
  private static final int KILLS = 10;
  private static final Duration WAIT = Duration.ofMinutes(4);

  @TempDir
  Path dir;

  private EmbeddedPostgres pg;
  private String bootstrap;
  private final Map<String, Process> instances = new TreeMap<>();
  private final Map<String, Integer> starts = new TreeMap<>();

  @Test
  void factsAreExactAcrossTenKillsOfAProcessorInstance() throws Exception {
    ProcessorConfig config = ProcessorConfig.defaults();
    Random random = new Random(Long.getLong("tapflow.test.seed", System.nanoTime()));
    List<AutoCloseable> open = new ArrayList<>();
    long t0 = System.nanoTime();
    java.util.function.Consumer<String> phase = what -> System.out.printf("%6d ms %s%n",
        (System.nanoTime() - t0) / 1_000_000, what);
    try {
      EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"));
      open.add(0, kafka);
      bootstrap = kafka.bootstrapServers();
      pg = EmbeddedPostgres.start(dir.resolve("postgres"));
      open.add(0, pg);
      TapflowSchema.migrate(pg.jdbcUrl(), pg.connectionProperties());
      Topics.ensure(bootstrap, Map.of(), config, LatencyWindowConfig.defaults(), 4);

      Map<String, Long> truth = LocalPipelineTest.commandstats(
          LocalPipelineTest.FIXTURES.resolve("benchmark-plain.commandstats.json"));
      long perCopy = truth.values().stream().mapToLong(Long::longValue).sum();
      long expected = perCopy * COPIES;
      try (KafkaSegmentPublisher publisher = new KafkaSegmentPublisher(bootstrap, ProcessorConfig.SEGMENTS_TOPIC,
          Map.of())) {
        for (int i = 0; i < COPIES; i++) {
          ImportCommand.importAll(List.of(FIXTURE), agent(i), publisher);
        }
        publisher.flush();
      }
      phase.accept(COPIES + " copies published: " + expected + " pairs");

      Properties consumer = new Properties();
      consumer.put("bootstrap.servers", bootstrap);
      FactSink sink = FactSink.builder(consumer, pg.jdbcUrl(), pg.connectionProperties()).build().start();
      open.add(0, sink);
      start("a");
      start("b");

      for (int kill = 1; kill <= KILLS; kill++) {
        // spread over the run: the k-th kill once k/(KILLS+2) of the facts are stored, plus a random moment
        long before = Math.max(count("SELECT count(*) FROM latency_facts"), expected * kill / (KILLS + 2));
        await(() -> count("SELECT count(*) FROM latency_facts") > before, "facts flowing before kill " + kill);
        Thread.sleep(random.nextInt(1500));
        String victim = random.nextBoolean() ? "a" : "b";
        Process p = instances.get(victim);
        p.destroyForcibly(); // SIGKILL: no close, no commit, no flush
        assertTrue(p.waitFor(10, TimeUnit.SECONDS));
        phase.accept("kill " + kill + ": instance " + victim + " at " + count("SELECT count(*) FROM latency_facts")
            + " facts");
        start(victim);
      }
      await(() -> count("SELECT count(*) FROM latency_facts") >= expected, "every fact stored");
      phase.accept("all " + expected + " facts stored");
      Thread.sleep(2000); // anything more would be a duplicate: give it the chance to show
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());

      assertEquals(expected, count("SELECT count(*) FROM latency_facts"), "no fact lost, none twice");
      assertEquals(expected, count("SELECT count(DISTINCT id) FROM latency_facts"));
      Map<String, Map<String, Long>> perAgent = new TreeMap<>();
      try (Connection c = pg.connect(); Statement s = c.createStatement();
           ResultSet rs = s.executeQuery("SELECT agent, lower(command), split_part(lower(args), ' ', 1), count(*)"
               + " FROM latency_facts GROUP BY 1, 2, 3")) {
        while (rs.next()) {
          String cmd = rs.getString(2).equals("config") ? "config|" + rs.getString(3) : rs.getString(2);
          perAgent.computeIfAbsent(rs.getString(1), k -> new TreeMap<>()).merge(cmd, rs.getLong(4), Long::sum);
        }
      }
      assertEquals(COPIES, perAgent.size());
      perAgent.forEach((agent, counts) -> assertEquals(truth, counts, agent + ": facts per command vs commandstats"));
      for (int i : new int[] {0, COPIES - 1}) {
        assertEquals(analyzedIds(agent(i)), storedIds(agent(i)), agent(i) + ": the facts tapflow analyze derives");
      }
      phase.accept("checked; processor starts: " + starts);
    } finally {
      for (Process p : instances.values()) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      for (AutoCloseable c : open) {
        c.close();
      }
    }
  }

  private static String agent(int copy) {
    return String.format("copy-%02d", copy);
  }

  private static TreeSet<String> analyzedIds(String agent) throws Exception {
    TreeSet<String> ids = new TreeSet<>();
    for (LatencyFact f : new Analyzer(ProcessorConfig.defaults()).analyze(List.of(FIXTURE), agent).facts()) {
      ids.add(f.getId() + " " + f.getStatus() + " " + f.getLatencyNs());
    }
    return ids;
  }

  private TreeSet<String> storedIds(String agent) throws SQLException {
    TreeSet<String> ids = new TreeSet<>();
    try (Connection c = pg.connect();
         java.sql.PreparedStatement s = c.prepareStatement("SELECT id, status, latency_ns FROM latency_facts"
             + " WHERE agent = ?")) {
      s.setString(1, agent);
      try (ResultSet rs = s.executeQuery()) {
        while (rs.next()) {
          ids.add(rs.getString(1) + " " + rs.getString(2) + " " + rs.getObject(3));
        }
      }
    }
    return ids;
  }

  /**
   * {@code tapflow process} in its own JVM: static membership (a restarted instance takes its
   * tasks back without a rebalance round), one standby replica of every task.
   */
  private void start(String name) throws IOException {
    int n = starts.merge(name, 1, Integer::sum);
    Path config = Files.writeString(dir.resolve("kafka-" + name + ".properties"), "group.instance.id=processor-" + name
        + "\nnum.standby.replicas=1\nsession.timeout.ms=10000\n");
    Path log = dir.resolve("processor-" + name + "-" + n + ".log");
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "-XX:TieredStopAtLevel=1", "-Xmx512m",
        Tapflow.class.getName(), "process", "--bootstrap-servers", bootstrap, "--app-id", "kill-test",
        "--state-dir", dir.resolve("streams-" + name).toString(), "--kafka-config", config.toString())
        .redirectErrorStream(true).redirectOutput(log.toFile());
    instances.put(name, pb.start());
  }

  private long count(String sql) {
    try (Connection c = pg.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private void await(java.util.function.BooleanSupplier condition, String what) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      for (Map.Entry<String, Process> e : instances.entrySet()) {
        if (!e.getValue().isAlive()) {
          throw new AssertionError("processor " + e.getKey() + " exited " + e.getValue().exitValue() + " while waiting"
              + " for " + what + ":\n" + Files.readString(dir.resolve("processor-" + e.getKey() + "-"
              + starts.get(e.getKey()) + ".log")));
        }
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what + "; facts " + count("SELECT count(*) FROM latency_facts"));
      }
      Thread.sleep(20);
    }
  }
}
