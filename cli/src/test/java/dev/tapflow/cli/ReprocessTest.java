package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.LatencyWindow;
import dev.tapflow.schemas.Status;
import dev.tapflow.sink.FactSink;
import dev.tapflow.stream.ProcessorApp;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tapflow reprocess} against the real broker, the real Kafka Streams processor and
 * the real sink into a real PostgreSQL. A redis-benchmark capture is imported and goes
 * through the live pipeline; then:
 * <ol>
 *   <li>the whole capture is reprocessed twice into the live facts topic: every reprocessed
 *       fact equals, field by field, the live fact of its id, and PostgreSQL keeps exactly the
 *       rows it had (count and ids);
 *   <li>reprocessed with a TIMEOUT window shorter than its slowest replies under
 *       {@code --app-id short}: those requests are TIMEOUT facts in tapflow.facts.short.v1 and in
 *       the database {@code --jdbc-url} names, while the live topic and table are untouched; its
 *       latency windows count exactly its facts;
 *   <li>a range [T1, T2) of the capture whose bounds are request times of two facts: exactly
 *       the live facts whose request started in it, T1's included, T2's not, field by field (the
 *       warm-up before T1 covers the connections' start); without warm-up the same requests.
 * </ol>
 */
class ReprocessTest {
  private static final Path CAPTURE = LocalPipelineTest.FIXTURES.resolve("benchmark-plain.pcap");
  /** An upper bound for each wait (the machine may be busy), not a timing assertion. */
  private static final Duration WAIT = Duration.ofSeconds(90);

  @TempDir
  Path dir;

  private String bootstrap;

  @Test
  void reprocessingGivesTheLiveFactsAndChangesOnlyItsOwnOutput() throws Exception {
    ProcessorConfig config = ProcessorConfig.defaults();
    LatencyWindowConfig windows = LatencyWindowConfig.defaults();
    long t0 = System.nanoTime();
    java.util.function.Consumer<String> phase = what -> System.out.printf("%6d ms %s%n",
        (System.nanoTime() - t0) / 1_000_000, what);
    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"));
        EmbeddedPostgres pg = EmbeddedPostgres.start(dir.resolve("postgres"))) {
      bootstrap = kafka.bootstrapServers();
      Topics.ensure(bootstrap, Map.of(), config, windows, 3);
      List<LatencyFact> live;
      Set<String> stored;
      Analyzer.Result analyzed = new Analyzer(config).analyze(List.of(CAPTURE), null);
      long first = analyzed.captures().get(CAPTURE).firstTsNs();
      long last = analyzed.captures().get(CAPTURE).lastTsNs();
      try (ProcessorApp processor = new ProcessorApp(config, windows, bootstrap, "reprocess-test",
          dir.resolve("streams"), Map.of()).start();
          FactSink sink = sink(pg.jdbcUrl(), pg, FactSink.DEFAULT_TOPIC, FactSink.DEFAULT_WINDOWS_TOPIC)) {
        phase.accept("broker, database, processor, sink started");
        String imported = tapflow("import", "--bootstrap-servers", bootstrap, CAPTURE.toString());
        assertTrue(imported.contains("tapflow: imported 1 file(s)"), imported);
        assertTrue(processor.awaitCaughtUp(WAIT), "processor");
        assertTrue(sink.awaitCaughtUp(WAIT), "sink");
        live = facts(config.factsTopic());
        stored = ids(pg.jdbcUrl(), pg);
        assertEquals(live.size(), stored.size(), "live facts stored once each");
        phase.accept(live.size() + " facts through the live pipeline");

        // 1. the whole capture, twice, into the live topics
        for (int run = 0; run < 2; run++) {
          String err = tapflow("reprocess", "--bootstrap-servers", bootstrap, "--from", iso(first), "--to",
              iso(last + 1));
          System.out.print(err);
          assertTrue(err.contains(" " + String.format("%,d", live.size()) + " facts to tapflow.facts.v1"), err);
        }
        assertTrue(sink.awaitCaughtUp(WAIT), "sink");
        Map<String, LatencyFact> liveById = byId(live);
        List<LatencyFact> all = facts(config.factsTopic());
        assertEquals(3 * live.size(), all.size(), "the live facts and two reprocessed copies");
        for (LatencyFact f : all) {
          assertEquals(liveById.get(f.getId()), f, "a reprocessed fact is its live fact, field by field");
        }
        assertEquals(stored, ids(pg.jdbcUrl(), pg), "PostgreSQL: the same rows, no duplicate");
        phase.accept("reprocessed twice into the live topics");
      }

      // 2. a TIMEOUT window shorter than the slowest replies, under its own app id
      Map<String, LatencyFact> liveById = byId(live);
      long slowest = live.stream().filter(f -> f.getStatus() == Status.OK && f.getLatencyNs() != null)
          .mapToLong(LatencyFact::getLatencyNs).max().orElseThrow();
      Duration shortWindow = Duration.ofNanos(slowest / 2);
      // its own table: a database of its own, which reprocess --jdbc-url fills
      try (Connection admin = DriverManager.getConnection("jdbc:postgresql://localhost:" + pg.port() + "/postgres",
          "postgres", "postgres"); Statement s = admin.createStatement()) {
        s.execute("CREATE DATABASE reprocess_short OWNER " + pg.user());
      }
      String shortUrl = "jdbc:postgresql://localhost:" + pg.port() + "/reprocess_short";
      String err = tapflow("reprocess", "--bootstrap-servers", bootstrap, "--from", iso(first),
          "--to", "now", "--app-id", "short", "--window", shortWindow.toString(),
          "--jdbc-url", shortUrl + "?user=" + pg.user() + "&password=" + pg.password());
      System.out.print(err);
      Map<String, LatencyFact> shortFacts = byId(facts("tapflow.facts.short.v1"));
      List<String> turned = new ArrayList<>();
      shortFacts.forEach((id, f) -> {
        if (f.getStatus() == Status.TIMEOUT && liveById.containsKey(id) && liveById.get(id).getStatus() == Status.OK) {
          turned.add(id);
        }
      });
      assertFalse(turned.isEmpty(), "a reply slower than " + shortWindow + " makes a TIMEOUT");
      long windowed = 0;
      for (ConsumerRecord<byte[], byte[]> r : records("tapflow.latency-1m.short.v1")) {
        windowed += AvroSerde.latencyWindow().decode(r.value()).getCount();
      }
      assertEquals(shortFacts.size(), windowed, "its latency windows count its facts");
      assertEquals(3 * live.size(), facts(config.factsTopic()).size(), "live topic untouched");
      assertEquals(stored, ids(pg.jdbcUrl(), pg), "live table untouched");
      assertEquals(0, count(pg.jdbcUrl(), pg, "SELECT count(*) FROM latency_facts WHERE status = 'TIMEOUT'"));
      assertEquals(shortFacts.size(), count(shortUrl, pg, "SELECT count(*) FROM latency_facts"));
      assertEquals(turned.size(), count(shortUrl, pg, "SELECT count(*) FROM latency_facts WHERE status = 'TIMEOUT' AND id IN ('"
          + String.join("','", turned) + "')"));
      phase.accept(turned.size() + " facts TIMEOUT under a " + shortWindow + " window, only in its own topic and table");

      // 3. part of the capture: T1 <= request time < T2
      List<LatencyFact> sorted = new ArrayList<>(live);
      sorted.sort(Comparator.comparingLong(LatencyFact::getRequestFirstNs));
      long t1 = sorted.get(sorted.size() / 4).getRequestFirstNs();
      long t2 = sorted.get(3 * sorted.size() / 4).getRequestFirstNs();
      err = tapflow("reprocess", "--bootstrap-servers", bootstrap, "--from", iso(t1), "--to", iso(t2),
          "--app-id", "part");
      System.out.print(err);
      Map<String, LatencyFact> part = byId(facts("tapflow.facts.part.v1"));
      Map<String, LatencyFact> expected = new TreeMap<>();
      live.stream().filter(f -> f.getRequestFirstNs() >= t1 && f.getRequestFirstNs() < t2)
          .forEach(f -> expected.put(f.getId(), f));
      assertTrue(part.values().stream().anyMatch(f -> f.getRequestFirstNs() == t1), "T1 is in the range");
      assertTrue(part.values().stream().noneMatch(f -> f.getRequestFirstNs() == t2), "T2 is not");
      assertEquals(expected.keySet(), part.keySet(), "the live facts of the range, no other");
      List<String> differ = new ArrayList<>();
      expected.forEach((id, f) -> {
        if (!f.equals(part.get(id))) {
          differ.add("live " + f + "\n  reprocessed " + part.get(id));
        }
      });
      assertTrue(differ.isEmpty(), differ.size() + " facts differ, e.g. " + differ.stream().limit(3).toList());
      phase.accept(part.size() + " facts of " + live.size() + " in [T1, T2)");

      // 4. without warm-up: only the segments from T1 on; the same requests, counted from where they were seen
      tapflow("reprocess", "--bootstrap-servers", bootstrap, "--from", iso(t1), "--to", iso(t2), "--app-id", "cold",
          "--warmup", "0s", "--quiet");
      Map<String, LatencyFact> cold = byId(facts("tapflow.facts.cold.v1"));
      assertTrue(cold.values().stream().allMatch(f -> f.getRequestFirstNs() >= t1 && f.getRequestFirstNs() < t2));
      assertEquals(expected.keySet(), cold.keySet(), "the requests of the range, by id");
    }
  }

  private String tapflow(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    picocli.CommandLine cl = Tapflow.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int rc = cl.execute(args);
    assertEquals(0, rc, String.join(" ", args) + ": " + err);
    return err.toString();
  }

  private FactSink sink(String jdbcUrl, EmbeddedPostgres pg, String topic, String windowsTopic) {
    Properties consumer = new Properties();
    consumer.put("bootstrap.servers", bootstrap);
    consumer.put("group.id", SinkCommand.groupId(topic));
    return FactSink.builder(consumer, jdbcUrl, pg.connectionProperties()).topic(topic).latencyWindowsTopic(windowsTopic)
        .build().start();
  }

  private List<LatencyFact> facts(String topic) {
    List<LatencyFact> out = new ArrayList<>();
    for (ConsumerRecord<byte[], byte[]> r : records(topic)) {
      out.add(AvroSerde.latencyFact().decode(r.value()));
    }
    return out;
  }

  /** Every committed record of a topic. */
  private List<ConsumerRecord<byte[], byte[]>> records(String topic) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("isolation.level", "read_committed");
    List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> tps = c.partitionsFor(topic).stream().map(pi -> new TopicPartition(topic, pi.partition()))
          .toList();
      c.assign(tps);
      c.seekToBeginning(tps);
      Map<TopicPartition, Long> ends = c.endOffsets(tps);
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (tps.stream().anyMatch(tp -> c.position(tp) < ends.get(tp))) {
        assertTrue(System.nanoTime() < deadline, "reading " + topic);
        c.poll(Duration.ofMillis(200)).forEach(out::add);
      }
    }
    return out;
  }

  private static Map<String, LatencyFact> byId(List<LatencyFact> facts) {
    Map<String, LatencyFact> out = new TreeMap<>();
    for (LatencyFact f : facts) {
      assertTrue(out.put(f.getId(), f) == null, "one fact per id: " + f.getId());
    }
    return out;
  }

  private static Set<String> ids(String url, EmbeddedPostgres pg) throws SQLException {
    Set<String> out = new TreeSet<>();
    try (Connection c = DriverManager.getConnection(url, pg.connectionProperties()); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT id FROM latency_facts")) {
      while (rs.next()) {
        assertTrue(out.add(rs.getString(1)), "duplicate id " + rs.getString(1));
      }
    }
    return out;
  }

  private static long count(String url, EmbeddedPostgres pg, String sql) throws SQLException {
    try (Connection c = DriverManager.getConnection(url, pg.connectionProperties()); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static String iso(long ns) {
    return Instant.ofEpochSecond(Math.floorDiv(ns, 1_000_000_000L), Math.floorMod(ns, 1_000_000_000L)).toString();
  }
}
