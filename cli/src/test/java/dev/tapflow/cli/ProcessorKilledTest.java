package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.sink.TapflowSchema;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8's crash test for the processor and the sink: a two-instance processor group
 * (separate JVMs, {@code tapflow process}, one application id, exactly_once_v2, a standby
 * replica of every task) and a sink (its own JVM, {@code tapflow sink}) turn over 200k
 * request/response pairs of real redis-benchmark traffic into rows of PostgreSQL while the
 * capture is still being imported. Twenty times, at a random moment while facts are flowing,
 * one of them is killed with SIGKILL and started again: the odd times a processor instance
 * chosen at random (the other one takes its tasks over from the standby state while it comes
 * back), the even times the sink. At the end PostgreSQL holds exactly the truth: per capture
 * copy and command what Redis counted (INFO commandstats), no fact missing, none twice, and
 * for two copies exactly the facts {@code tapflow analyze} derives.
 */
class ProcessorKilledTest {
  private static final Path FIXTURE = LocalPipelineTest.FIXTURES.resolve("benchmark-plain.pcap");
  /** Copies of the fixture, each its own agent: 80 x 2562 = 204,960 pairs. */
  private static final int COPIES = Integer.getInteger("tapflow.test.killCopies", 80);
  /** Kills of each kind: processor instances and the sink. */
  private static final int KILLS = Integer.getInteger("tapflow.test.kills", 10);
  /** An upper bound for each wait (the machine may be busy), not a timing assertion. */
  private static final Duration WAIT = Duration.ofMinutes(4);
  private static final String APP_ID = "kill-test";
  /** Chunks of copies the import may run ahead of the kills. */
  private static final int CHUNKS_AHEAD = 3;

  @TempDir
  Path dir;

  private EmbeddedPostgres pg;

  @Test
  void factsAreExactAcrossTenKillsOfAProcessorInstanceAndTenOfTheSink() throws Exception {
    ProcessorConfig config = ProcessorConfig.defaults();
    long seed = Long.getLong("tapflow.seed", System.nanoTime());
    Random random = new Random(seed);
    List<AutoCloseable> open = new ArrayList<>();
    long t0 = System.nanoTime();
    java.util.function.Consumer<String> phase = what -> System.out.printf("%6d ms %s%n",
        (System.nanoTime() - t0) / 1_000_000, what);
    phase.accept("seed " + seed + " (-Dtapflow.seed=" + seed + " replays the choices)");
    try {
      EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"));
      open.add(0, kafka);
      String bootstrap = kafka.bootstrapServers();
      pg = EmbeddedPostgres.start(dir.resolve("postgres"));
      open.add(0, pg);
      TapflowSchema.migrate(pg.jdbcUrl(), pg.connectionProperties());
      Topics.ensure(bootstrap, Map.of(), config, LatencyWindowConfig.defaults(), 4);

      Map<String, Long> truth = LocalPipelineTest.commandstats(
          LocalPipelineTest.FIXTURES.resolve("benchmark-plain.commandstats.json"));
      long perCopy = truth.values().stream().mapToLong(Long::longValue).sum();
      long expected = perCopy * COPIES;

      TapflowJvms jvms = new TapflowJvms(dir, bootstrap);
      open.add(0, jvms);
      jvms.processor("a", APP_ID);
      jvms.processor("b", APP_ID);
      jvms.sink("sink", pg);
      // the import runs while the pipeline works and is killed, paced by the kills: a chunk of
      // copies is released at the start and after each kill, a few chunks ahead, so the pipeline
      // always has work when a kill comes however fast it is (it once stored everything by kill 13)
      int kills = 2 * KILLS;
      int perChunk = Math.max(1, (COPIES + kills - 1) / kills);
      java.util.concurrent.Semaphore chunks = new java.util.concurrent.Semaphore(CHUNKS_AHEAD);
      CompletableFuture<Long> imported = CompletableFuture.supplyAsync(() -> {
        try (KafkaSegmentPublisher publisher = new KafkaSegmentPublisher(bootstrap, ProcessorConfig.SEGMENTS_TOPIC,
            Map.of())) {
          for (int i = 0; i < COPIES; i++) {
            if (i % perChunk == 0) {
              chunks.acquire();
            }
            ImportCommand.importAll(List.of(FIXTURE), agent(i), publisher);
          }
          publisher.flush();
          phase.accept(COPIES + " copies published: " + expected + " pairs, " + publisher.acked() + " records");
          return publisher.failed();
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });

      int processorKills = 0;
      int sinkKills = 0;
      long lastKillAt = 0;
      for (int kill = 1; kill <= kills; kill++) {
        // at a random moment once facts flow again after the previous kill (or, should the
        // pipeline have finished what was released, at once: the kill then finds it idle)
        long before = lastKillAt;
        await(() -> {
          long n = count("SELECT count(*) FROM latency_facts");
          return n > before || n >= expected;
        }, "facts flowing before kill " + kill, jvms, imported);
        Thread.sleep(random.nextInt(1500));
        String victim = kill % 2 == 1 ? (random.nextBoolean() ? "a" : "b") : "sink";
        jvms.kill(victim);
        if (victim.equals("sink")) {
          sinkKills++;
        } else {
          processorKills++;
        }
        lastKillAt = count("SELECT count(*) FROM latency_facts");
        phase.accept("kill " + kill + ": " + victim + " at " + lastKillAt + " facts");
        jvms.start(victim);
        chunks.release();
      }
      await(() -> count("SELECT count(*) FROM latency_facts") >= expected, "every fact stored", jvms, imported);
      phase.accept("all " + expected + " facts stored");
      assertEquals(0L, imported.get(1, TimeUnit.MINUTES), "records the import could not deliver");
      Thread.sleep(3000); // anything more would be a duplicate: give it the chance to show
      jvms.requireAlive("the end");

      assertEquals(KILLS, processorKills);
      assertEquals(KILLS, sinkKills);
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
      phase.accept("checked: " + expected + " facts, " + processorKills + " processor kills, " + sinkKills
          + " sink kills; starts " + jvms.starts());
    } finally {
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

  private long count(String sql) {
    return Rows.count(pg, sql);
  }

  private void await(BooleanSupplier condition, String what, TapflowJvms jvms, CompletableFuture<Long> imported)
      throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      jvms.requireAlive(what);
      if (imported.isCompletedExceptionally()) {
        imported.join(); // throws the import's failure
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what + "; facts " + count("SELECT count(*) FROM latency_facts"));
      }
      Thread.sleep(20);
    }
  }
}
