package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.LatencyHistograms;
import dev.tapflow.sink.TapflowSchema;
import dev.tapflow.stream.ProcessorApp;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 6's "done when": real captures with known truth go through the real broker, the
 * Kafka Streams processor and the JDBC sink into a real PostgreSQL, while the sink — a
 * separate JVM, {@code tapflow sink} — is killed with SIGKILL twice: once in the middle of a
 * database transaction (its facts inserted, its offsets waiting on a lock this test holds),
 * once wherever it happens to be. After the restarts the facts in PostgreSQL are exactly
 * those {@code tapflow analyze} derives (no loss, no duplicate), per command exactly what
 * Redis counted, and every row of {@code latency_by_minute} agrees with the raw facts of its
 * minute: counts exactly, percentiles within HdrHistogram's stated precision, max exactly.
 */
class SinkKilledMidRunTest {
  private static final Path FIXTURES = LocalPipelineTest.FIXTURES;
  /** An upper bound for each wait (the machine may be busy), not a timing assertion. */
  private static final Duration WAIT = Duration.ofSeconds(90);

  @TempDir
  Path dir;

  private EmbeddedPostgres pg;
  private String bootstrap;
  private Path kafkaConfig;
  private int sinkStarts;

  @Test
  void factsAndWindowsAreExactlyOnceAcrossKills() throws Exception {
    Path plain = FIXTURES.resolve("benchmark-plain.pcap");
    Path pipelined = FIXTURES.resolve("benchmark-pipelined.pcap");
    ProcessorConfig config = ProcessorConfig.defaults();
    LatencyWindowConfig windows = LatencyWindowConfig.defaults();
    List<AutoCloseable> open = new ArrayList<>();
    Process sink = null;
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
      Topics.ensure(bootstrap, Map.of(), config, windows, 3);
      ProcessorApp processor = new ProcessorApp(config, windows, bootstrap, "sink-kill-test", dir.resolve("streams"),
          Map.of());
      open.add(0, processor);
      processor.start();
      phase.accept("broker, database, processor started");
      // static membership: a restarted sink takes its partitions back at once
      kafkaConfig = Files.writeString(dir.resolve("kafka.properties"), "group.instance.id=sink-kill-test\n");

      // 1. the first capture, stored by a sink that runs normally
      publish(plain);
      assertTrue(processor.awaitCaughtUp(WAIT));
      // what a plain run of the engine derives (the processor's own counters count facts of
      // transactions that were retried, too)
      long firstFacts = new Analyzer(config).analyze(List.of(plain), null).facts().size();
      sink = startSink();
      final Process first = sink;
      awaitTrue(() -> count("SELECT count(*) FROM latency_facts") == firstFacts, first);
      phase.accept("first capture stored");

      // 2. the second capture, while this test holds a lock the sink's offsets need: its
      // next transaction inserts facts and then waits; SIGKILL it there
      try (Connection lock = pg.connect(); Statement s = lock.createStatement()) {
        lock.setAutoCommit(false);
        s.execute("LOCK TABLE sink_offsets IN EXCLUSIVE MODE");
        publish(pipelined);
        assertTrue(processor.awaitCaughtUp(WAIT));
        awaitTrue(() -> count("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            + " AND query LIKE 'INSERT INTO sink_offsets%'") == 1, first);
        kill(sink);
        phase.accept("killed mid-transaction");
        assertEquals(firstFacts, count("SELECT count(*) FROM latency_facts"), "the killed transaction left nothing");
        lock.commit();
      }

      // 3. restarted; killed again as soon as it has stored part of the rest
      sink = startSink();
      final Process second = sink;
      awaitTrue(() -> count("SELECT count(*) FROM latency_facts") > firstFacts, second);
      kill(sink);
      long atSecondKill = count("SELECT count(*) FROM latency_facts");
      phase.accept("killed mid-run");

      // 4. restarted once more, it finishes
      long facts = new Analyzer(config).analyze(List.of(plain, pipelined), null).facts().size();
      long parts = committedRecords(windows.topic());
      sink = startSink();
      final Process third = sink;
      awaitTrue(() -> count("SELECT count(*) FROM latency_facts") == facts
          && count("SELECT coalesce(sum(cardinality(parts)), 0) FROM latency_windows") == parts, third);
      phase.accept("all stored");
      System.out.printf("facts %d (%d after the first capture, %d at the second kill), window parts %d, rows %d%n",
          facts, firstFacts, atSecondKill, parts, count("SELECT count(*) FROM latency_windows"));
      assertEquals(0, processor.latencyWindows().lateFactsDropped());

      checkFactsAgainstTruth(List.of(plain, pipelined));
      checkLatencyByMinute();
    } finally {
      if (sink != null) {
        sink.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
      for (AutoCloseable c : open) {
        c.close();
      }
    }
  }

  private void checkFactsAgainstTruth(List<Path> files) throws Exception {
    Analyzer.Result analyzed = new Analyzer(ProcessorConfig.defaults()).analyze(files, null);
    Map<String, String> expected = new TreeMap<>();
    for (LatencyFact f : analyzed.facts()) {
      expected.put(f.getId(), f.getAgent() + " " + f.getCommand() + " " + f.getStatus() + " " + f.getLatencyNs()
          + " " + f.getRequestFirstNs());
    }
    Map<String, String> stored = new TreeMap<>();
    Map<String, Map<String, Long>> perAgent = new TreeMap<>();
    try (Connection c = pg.connect(); Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT id, agent, command, args, status, latency_ns, request_first_ns"
             + " FROM latency_facts")) {
      while (rs.next()) {
        Long latency = (Long) rs.getObject("latency_ns");
        String previous = stored.put(rs.getString("id"), rs.getString("agent") + " " + rs.getString("command") + " "
            + rs.getString("status") + " " + latency + " " + rs.getLong("request_first_ns"));
        assertEquals(null, previous, "a duplicate id");
        String cmd = rs.getString("command").toLowerCase();
        if (cmd.equals("config")) {
          cmd = "config|" + rs.getString("args").split(" ")[0].toLowerCase();
        }
        perAgent.computeIfAbsent(rs.getString("agent"), k -> new TreeMap<>()).merge(cmd, 1L, Long::sum);
      }
    }
    assertEquals(expected, stored, "facts in PostgreSQL vs tapflow analyze");
    for (Path f : files) {
      String agent = f.getFileName().toString().replace(".pcap", "");
      assertEquals(LocalPipelineTest.commandstats(FIXTURES.resolve(agent + ".commandstats.json")), perAgent.get(agent),
          agent + ": facts per command vs Redis INFO commandstats");
    }
  }

  /** Every row of latency_by_minute against the raw facts of its agent, server, command and minute. */
  private void checkLatencyByMinute() throws SQLException {
    Map<String, List<Long>> latencies = new HashMap<>();
    Map<String, long[]> counts = new HashMap<>();
    try (Connection c = pg.connect(); Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT agent, server_ip, server_port, command, status, latency_ns,"
             + " date_trunc('minute', to_timestamp(request_first_ns / 1000000000)) AS minute FROM latency_facts")) {
      while (rs.next()) {
        String k = key(rs, "minute");
        long[] n = counts.computeIfAbsent(k, x -> new long[3]);
        n[0]++;
        n[1] += rs.getString("status").equals("ERROR") ? 1 : 0;
        n[2] += rs.getString("status").equals("TIMEOUT") ? 1 : 0;
        Long l = (Long) rs.getObject("latency_ns");
        if (l != null) {
          latencies.computeIfAbsent(k, x -> new ArrayList<>()).add(l);
        }
      }
    }
    int rows = 0;
    try (Connection c = pg.connect(); Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT * FROM latency_by_minute")) {
      while (rs.next()) {
        rows++;
        String k = key(rs, "minute");
        long[] n = counts.get(k);
        assertEquals(n[0], rs.getLong("count"), k);
        assertEquals(n[1], rs.getLong("errors"), k);
        assertEquals(n[2], rs.getLong("timeouts"), k);
        long[] sorted = latencies.get(k).stream().mapToLong(Long::longValue).sorted().toArray();
        assertEquals(sorted.length, rs.getLong("latency_count"), k);
        for (String[] p : new String[][] {{"p50_ms", "50"}, {"p90_ms", "90"}, {"p99_ms", "99"}}) {
          long exact = TopAndSqlCommandTest.nearestRank(sorted, Double.parseDouble(p[1]));
          double got = rs.getDouble(p[0]) * 1e6;
          assertTrue(Math.abs(got - exact) <= exact * LatencyHistograms.RELATIVE_ERROR,
              k + " " + p[0] + ": " + got + " vs exact " + exact);
        }
        assertEquals(sorted[sorted.length - 1], Math.round(rs.getDouble("max_ms") * 1e6), k + " max");
      }
    }
    assertEquals(counts.size(), rows, "a row per agent, server, command and minute");
  }

  private static String key(ResultSet rs, String minute) throws SQLException {
    return rs.getString("agent") + " " + rs.getString("server_ip") + ":" + rs.getInt("server_port") + " "
        + rs.getString("command") + " " + rs.getObject(minute, java.time.OffsetDateTime.class).toInstant();
  }

  /** Records of a topic a read_committed consumer sees (the window parts the processor committed). */
  private long committedRecords(String topic) {
    java.util.Properties p = new java.util.Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("isolation.level", "read_committed");
    try (org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]> c = new org.apache.kafka.clients.consumer.KafkaConsumer<>(
        p, new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
        new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
      List<org.apache.kafka.common.TopicPartition> tps = c.partitionsFor(topic).stream()
          .map(i -> new org.apache.kafka.common.TopicPartition(topic, i.partition())).toList();
      c.assign(tps);
      c.seekToBeginning(tps);
      Map<org.apache.kafka.common.TopicPartition, Long> end = c.endOffsets(tps);
      long n = 0;
      while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        n += c.poll(Duration.ofMillis(200)).count();
      }
      return n;
    }
  }

  private void publish(Path file) throws Exception {
    try (KafkaSegmentPublisher publisher = new KafkaSegmentPublisher(bootstrap, ProcessorConfig.SEGMENTS_TOPIC,
        Map.of())) {
      ImportCommand.importAll(List.of(file), null, publisher);
      publisher.flush();
    }
  }

  /** {@code tapflow sink} in its own JVM, small batches, output appended to a log file. */
  private Process startSink() throws IOException {
    Path log = dir.resolve("sink-" + (++sinkStarts) + ".log");
    ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-cp", System.getProperty("java.class.path"), "-XX:TieredStopAtLevel=1",
        "-Dorg.slf4j.simpleLogger.log.dev.tapflow=debug", Tapflow.class.getName(), "sink",
        "--bootstrap-servers", bootstrap, "--jdbc-url", pg.jdbcUrl(), "--kafka-config", kafkaConfig.toString(),
        "--max-batch", "50")
        .redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("TAPFLOW_JDBC_USER", pg.user());
    pb.environment().put("TAPFLOW_JDBC_PASSWORD", pg.password());
    return pb.start();
  }

  private static void kill(Process p) throws InterruptedException {
    p.destroyForcibly(); // SIGKILL: no shutdown hook, no flush, no close
    assertTrue(p.waitFor(10, TimeUnit.SECONDS));
  }

  private String logs() throws IOException {
    StringBuilder b = new StringBuilder();
    for (int i = 1; i <= sinkStarts; i++) {
      b.append("--- sink ").append(i).append('\n').append(Files.readString(dir.resolve("sink-" + i + ".log")));
    }
    return b.toString();
  }

  private String groupOffsets() {
    java.util.Properties p = new java.util.Properties();
    p.put("bootstrap.servers", bootstrap);
    try (org.apache.kafka.clients.admin.Admin a = org.apache.kafka.clients.admin.Admin.create(p)) {
      return a.listConsumerGroupOffsets(dev.tapflow.sink.FactSink.DEFAULT_GROUP_ID)
          .partitionsToOffsetAndMetadata().get(10, TimeUnit.SECONDS) + "; group " + a.describeConsumerGroups(
          List.of(dev.tapflow.sink.FactSink.DEFAULT_GROUP_ID)).all().get(10, TimeUnit.SECONDS) + "; committed windows now "
          + committedRecords(ProcessorConfig.defaults().factsTopic().replace("facts", "latency-1m"));
    } catch (Exception e) {
      return e.toString();
    }
  }

  private String text(String sql) {
    try (Connection c = pg.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private long count(String sql) {
    return Rows.count(pg, sql);
  }

  private void awaitTrue(BooleanSupplier condition, Process sink) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (!sink.isAlive() || System.nanoTime() > deadline) {
        throw new AssertionError("sink " + (sink.isAlive() ? "too slow" : "exited " + sink.exitValue())
            + "; facts " + count("SELECT count(*) FROM latency_facts") + ", parts " + text("SELECT sum(cardinality(parts))"
            + " || ' in ' || count(*) FROM latency_windows") + " " + text("SELECT string_agg(agent || ' ' || command || ' '"
            + " || parts::text || ' ' || count, ', ') FROM latency_windows") + ", rejected " + text("SELECT string_agg("
            + "topic || '-' || kafka_partition || '@' || kafka_offset || ' ' || reason, ', ') FROM sink_rejected_records")
            + ", offsets " + text("SELECT string_agg(topic"
            + " || '-' || kafka_partition || '=' || next_offset, ' ') FROM sink_offsets") + ", sessions " + text(
            "SELECT string_agg(state || ' ' || coalesce(wait_event_type, '') || ' ' || left(query, 50), ' | ')"
            + " FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid()")
            + "; group offsets in Kafka " + groupOffsets() + "; the sinks' logs:\n" + logs());
      }
      Thread.sleep(5);
    }
  }
}
