package dev.tapflow.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.schemas.LatencyFact;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.stream.IntStream;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The sink between a real broker and a real PostgreSQL: every fact once, replays add nothing. */
class FactSinkTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static EmbeddedKafka kafka;

  @BeforeAll
  static void start() {
    kafka = SharedInfra.kafka();
  }

  @Test
  void storesEveryCommittedFactOnceAndReplaysAddNothing() throws Exception {
    String topic = "tapflow.facts.sinktest." + UUID.randomUUID();
    kafka.createTopics(Map.of(topic, 3));
    String url = SharedInfra.jdbcUrl("sink_e2e");

    List<LatencyFact> facts = IntStream.range(0, 1000)
        .mapToObj(i -> Facts.fact("e2e", i, 100_000L + i)).toList();
    List<LatencyFact> aborted = IntStream.range(0, 50)
        .mapToObj(i -> Facts.fact("aborted", i, 1)).toList();
    LatencyFact withNul = LatencyFact.newBuilder(Facts.fact("nul", 0, 5)).setResource("a\0b").build();

    try (KafkaProducer<byte[], byte[]> producer = Facts.transactionalProducer(kafka.bootstrapServers())) {
      Facts.produce(producer, topic, facts.subList(0, 600));
      producer.beginTransaction();                       // an aborted transaction: never stored
      for (LatencyFact f : aborted) {
        producer.send(new ProducerRecord<>(topic, Facts.key(f), Facts.value(f)));
      }
      producer.flush();
      producer.abortTransaction();
      producer.beginTransaction();                       // two records the sink must reject, not drop
      producer.send(new ProducerRecord<>(topic, 0, "k".getBytes(StandardCharsets.UTF_8),
          "not avro".getBytes(StandardCharsets.UTF_8)));
      producer.send(new ProducerRecord<>(topic, 1, Facts.key(withNul), Facts.value(withNul)));
      producer.commitTransaction();
      Facts.produce(producer, topic, facts.subList(600, 1000));
    }

    String g1 = "g1-" + UUID.randomUUID();
    try (FactSink sink = sink(topic, url, g1).start()) {
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());
      assertEquals(1000, sink.rowsWritten());
      assertEquals(1000, sink.factsStored());
      assertEquals(2, sink.rejectedRecords());
      assertTrue(sink.batchesWritten() >= 1);
    }
    assertEquals(1000, count(url, "SELECT count(*) FROM latency_facts"));
    assertEquals(0, count(url, "SELECT count(*) FROM latency_facts WHERE id LIKE 'aborted-%'"));
    assertEquals(1000, count(url, "SELECT count(DISTINCT id) FROM latency_facts"));
    assertEquals(2, count(url, "SELECT count(*) FROM sink_rejected_records WHERE topic = '" + topic + "'"));
    assertEquals(1, count(url, "SELECT count(*) FROM sink_rejected_records WHERE reason LIKE 'undecodable%'"));
    assertEquals(1, count(url, "SELECT count(*) FROM sink_rejected_records WHERE reason LIKE 'database refused%'"
        + " AND kafka_partition = 1 AND record_value IS NOT NULL"));
    // Every column round-trips.
    try (Connection c = DriverManager.getConnection(url, SharedInfra.jdbcProperties());
         Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT * FROM latency_facts WHERE id = 'e2e-7'")) {
      assertTrue(rs.next());
      LatencyFact f = facts.get(7);
      assertEquals(f.getClientPort(), rs.getInt("client_port"));
      assertEquals("SET", rs.getString("command"));
      assertEquals(f.getLatencyNs(), rs.getLong("latency_ns"));
      assertEquals(f.getResponseLastNs(), rs.getLong("response_last_ns"));
      assertEquals("key:7", rs.getString("args"));
      assertEquals(f.getRequestFirstNs() / 1000, rs.getTimestamp("ts").toInstant().getEpochSecond() * 1_000_000
          + rs.getTimestamp("ts").toInstant().getNano() / 1000, 1.0);
    }

    // The same group again: offsets were committed, nothing is read twice.
    try (FactSink sink = sink(topic, url, g1).start()) {
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());
      assertEquals(0, sink.factsStored());
    }
    // A new group replays the whole topic, and the same facts are produced again: no new row.
    try (KafkaProducer<byte[], byte[]> producer = Facts.transactionalProducer(kafka.bootstrapServers())) {
      Facts.produce(producer, topic, facts);
    }
    try (FactSink sink = sink(topic, url, "g2-" + UUID.randomUUID()).start()) {
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());
      assertEquals(2000, sink.factsStored());
      assertEquals(0, sink.rowsWritten());
    }
    assertEquals(1000, count(url, "SELECT count(*) FROM latency_facts"));
    assertEquals(2, count(url, "SELECT count(*) FROM sink_rejected_records"));
  }

  /**
   * The positions live in PostgreSQL, written with the rows: even when Kafka's committed
   * offsets say nothing was read (as after a crash between the database commit and the
   * Kafka commit), a restarted sink reads only what is new.
   */
  @Test
  void resumesFromTheOffsetsStoredWithTheRows() throws Exception {
    String topic = "tapflow.facts.offsets." + UUID.randomUUID();
    kafka.createTopics(Map.of(topic, 2));
    String url = SharedInfra.jdbcUrl("sink_offsets");
    String group = "g-" + UUID.randomUUID();
    try (KafkaProducer<byte[], byte[]> producer = Facts.transactionalProducer(kafka.bootstrapServers())) {
      Facts.produce(producer, topic, IntStream.range(0, 300).mapToObj(i -> Facts.fact("first", i, 1000 + i)).toList());
    }
    try (FactSink sink = sink(topic, url, group).start()) {
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());
      assertEquals(300, sink.factsStored());
    }
    Map<org.apache.kafka.common.TopicPartition, Long> end;
    try (org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]> c = new org.apache.kafka.clients.consumer.KafkaConsumer<>(
        consumer(group), new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
        new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
      List<org.apache.kafka.common.TopicPartition> tps = List.of(new org.apache.kafka.common.TopicPartition(topic, 0),
          new org.apache.kafka.common.TopicPartition(topic, 1));
      end = c.endOffsets(tps);
      // Kafka forgets the group's progress: only PostgreSQL knows where the sink stood
      Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> zero = new java.util.HashMap<>();
      tps.forEach(tp -> zero.put(tp, new org.apache.kafka.clients.consumer.OffsetAndMetadata(0)));
      c.assign(tps);
      c.commitSync(zero);
    }
    for (Map.Entry<org.apache.kafka.common.TopicPartition, Long> e : end.entrySet()) {
      long stored = count(url, "SELECT next_offset FROM sink_offsets WHERE group_id = '" + group
          + "' AND topic = '" + topic + "' AND kafka_partition = " + e.getKey().partition());
      // the end offset also counts the producer's commit marker, which is no record
      assertTrue(stored == e.getValue() || stored == e.getValue() - 1, e.getKey() + ": stored " + stored
          + ", end " + e.getValue());
    }
    try (KafkaProducer<byte[], byte[]> producer = Facts.transactionalProducer(kafka.bootstrapServers())) {
      Facts.produce(producer, topic, IntStream.range(0, 100).mapToObj(i -> Facts.fact("second", i, 5000 + i)).toList());
    }
    try (FactSink sink = sink(topic, url, group).start()) {
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());
      assertEquals(100, sink.factsStored(), "only the new facts were read");
      assertEquals(100, sink.rowsWritten());
    }
    assertEquals(400, count(url, "SELECT count(*) FROM latency_facts"));
  }

  @Test
  void waitsForADeadDatabaseAndLosesNothing() throws Exception {
    String topic = "tapflow.facts.outage." + UUID.randomUUID();
    kafka.createTopics(Map.of(topic, 2));
    // Its own server: this test stops it.
    EmbeddedPostgres pg = EmbeddedPostgres.start(Paths.get("target", "it", "pg-outage-" + UUID.randomUUID()));
    int port = pg.port();
    List<LatencyFact> facts = IntStream.range(0, 300).mapToObj(i -> Facts.fact("outage", i, 1000 + i)).toList();
    try (KafkaProducer<byte[], byte[]> producer = Facts.transactionalProducer(kafka.bootstrapServers());
         FactSink sink = FactSink.builder(consumer("outage-" + UUID.randomUUID()), pg.jdbcUrl(), pg.connectionProperties())
             .topic(topic).backoff(Duration.ofMillis(50), Duration.ofMillis(400)).build().start()) {
      Facts.produce(producer, topic, facts.subList(0, 100));
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());
      assertEquals(100, sink.rowsWritten());

      pg.close();
      Facts.produce(producer, topic, facts.subList(100, 300));
      long deadline = System.nanoTime() + WAIT.toNanos();
      while (!sink.status().startsWith("waiting for PostgreSQL") && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertTrue(sink.status().startsWith("waiting for PostgreSQL"), sink.status());
      assertTrue(!sink.status().contains(pg.password()), "no password in the status");
      Thread.sleep(1500); // several retries and a few polls with paused partitions

      pg = EmbeddedPostgres.builder(pg.directory()).port(port).start();
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());
      assertEquals(300, sink.factsStored());
      assertEquals(300, count(pg, "SELECT count(*) FROM latency_facts"));
    } finally {
      pg.close();
    }
  }

  @Test
  void resumesAfterTheBrokerRestarts() throws Exception {
    // Its own broker: this test stops it.
    java.nio.file.Path dir = Paths.get("target", "it", "kafka-outage-" + UUID.randomUUID());
    EmbeddedKafka own = EmbeddedKafka.start(dir);
    int port = own.port();
    String topic = "tapflow.facts.v1";
    own.createTopics(Map.of(topic, 2));
    String url = SharedInfra.jdbcUrl("broker_outage");
    List<LatencyFact> facts = IntStream.range(0, 200).mapToObj(i -> Facts.fact("bo", i, 1000 + i)).toList();
    Properties consumer = new Properties();
    consumer.setProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, own.bootstrapServers());
    try (FactSink sink = FactSink.builder(consumer, url, SharedInfra.jdbcProperties())
        .backoff(Duration.ofMillis(50), Duration.ofMillis(500)).build().start()) {
      try (KafkaProducer<byte[], byte[]> producer = Facts.transactionalProducer(own.bootstrapServers())) {
        Facts.produce(producer, topic, facts.subList(0, 100));
      }
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());
      own.close();
      assertTrue(!sink.awaitCaughtUp(Duration.ofSeconds(1)), "cannot be caught up without a broker");
      own = EmbeddedKafka.builder(dir).port(port).start();
      try (KafkaProducer<byte[], byte[]> producer = Facts.transactionalProducer(own.bootstrapServers())) {
        Facts.produce(producer, topic, facts.subList(100, 200));
      }
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());
      assertEquals(200, sink.rowsWritten());
    } finally {
      own.close();
    }
    assertEquals(200, count(url, "SELECT count(*) FROM latency_facts"));
  }

  /** Window parts join the facts' transactions; facts past the retention are not stored, their days dropped. */
  @Test
  void mergesWindowPartsOnceAndKeepsOnlyTheRetainedDays() throws Exception {
    String topic = "tapflow.facts.retention." + UUID.randomUUID();
    String windowsTopic = "tapflow.latency.retention." + UUID.randomUUID();
    kafka.createTopics(Map.of(topic, 2, windowsTopic, 2));
    String url = SharedInfra.jdbcUrl("sink_windows_retention");
    TapflowSchema.migrate(url, SharedInfra.jdbcProperties());
    java.time.LocalDate today = java.time.LocalDate.now(java.time.ZoneOffset.UTC);
    long todayNs = today.atStartOfDay().toEpochSecond(java.time.ZoneOffset.UTC) * 1_000_000_000L;
    long oldNs = todayNs - 9 * 86_400_000_000_000L;
    List<LatencyFact> facts = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      long t = (i < 30 ? oldNs : todayNs) + i * 1_000_000L;
      LatencyFact f = Facts.fact("r", i, 1000 + i);
      facts.add(LatencyFact.newBuilder(f).setRequestFirstNs(t).setRequestLastNs(t + 2000).build());
    }
    try (Connection c = DriverManager.getConnection(url, SharedInfra.jdbcProperties())) {
      c.setAutoCommit(false);
      new JdbcFactWriter().insert(c, List.of(facts.get(0))); // an old day already stored
      c.commit();
    }
    dev.tapflow.schemas.LatencyWindow part = dev.tapflow.schemas.LatencyWindow.newBuilder()
        .setAgent("test-agent").setProtocol("redis").setServerIp("10.0.0.2").setServerPort(6379).setCommand("GET")
        .setWindowStartNs(todayNs).setWindowSizeMs(60_000).setPart(0).setCount(5).setErrors(1).setTimeouts(0)
        .setRequestBytes(150).setResponseBytes(60).setLatencyCount(1).setLatencySumNs(2000).setLatencyMinNs(2000L)
        .setLatencyMaxNs(2000L).setHistogram(java.nio.ByteBuffer.wrap(dev.tapflow.schemas.LatencyHistograms.encode(
            histogramOf(2000)))).build();
    try (KafkaProducer<byte[], byte[]> producer = Facts.transactionalProducer(kafka.bootstrapServers())) {
      Facts.produce(producer, topic, facts);
      producer.beginTransaction();
      for (int i = 0; i < 2; i++) { // the same part twice, and a second part
        producer.send(new ProducerRecord<>(windowsTopic, "w".getBytes(StandardCharsets.UTF_8),
            dev.tapflow.schemas.AvroSerde.latencyWindow().encode(part)));
      }
      producer.send(new ProducerRecord<>(windowsTopic, "w".getBytes(StandardCharsets.UTF_8),
          dev.tapflow.schemas.AvroSerde.latencyWindow().encode(
              dev.tapflow.schemas.LatencyWindow.newBuilder(part).setPart(3).build())));
      producer.commitTransaction();
    }
    try (FactSink sink = FactSink.builder(consumer("rw-" + UUID.randomUUID()), url, SharedInfra.jdbcProperties())
        .topic(topic).latencyWindowsTopic(windowsTopic).retentionDays(7).build().start()) {
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());
      assertEquals(30, sink.factsExpired());
      assertEquals(70, sink.factsStored());
      assertEquals(2, sink.windowPartsMerged());
    }
    assertEquals(70, count(url, "SELECT count(*) FROM latency_facts"), "the old day was dropped with its row");
    assertEquals(10, count(url, "SELECT count FROM latency_windows"));
    assertEquals(2, count(url, "SELECT errors FROM latency_windows"));
  }

  /**
   * Agents' reports are stored once each (a report read again adds nothing), capture_health
   * takes the differences between one run's cumulative reports (a new run starts from 0),
   * and the retention deletes old reports and windows.
   */
  @Test
  void storesCaptureReportsOnceAndHealthCountsPerMinute() throws Exception {
    String factsTopic = "tapflow.facts.stats." + UUID.randomUUID();
    String statsTopic = "tapflow.capture-stats.test." + UUID.randomUUID();
    kafka.createTopics(Map.of(factsTopic, 1, statsTopic, 1));
    String url = SharedInfra.jdbcUrl("sink_capture_stats");
    TapflowSchema.migrate(url, SharedInfra.jdbcProperties());
    java.time.Instant minute = java.time.Instant.now().truncatedTo(java.time.temporal.ChronoUnit.MINUTES);
    long m0 = minute.getEpochSecond() * 1_000_000_000L;
    long started = m0 - 5_000_000_000L;
    long old = m0 - 9 * 86_400_000_000_000L;
    try (Connection c = DriverManager.getConnection(url, SharedInfra.jdbcProperties());
         Statement st = c.createStatement()) {
      // a window past the retention, stored earlier: deleted when the sink starts
      st.execute("INSERT INTO latency_windows (agent, protocol, server_ip, server_port, command, window_start,"
          + " window_ms, count, errors, timeouts, request_bytes, response_bytes, latency_count, latency_sum_ns,"
          + " histogram, parts) VALUES ('a', 'redis', '10.0.0.2', 6379, 'GET', now() - interval '9 days', 60000,"
          + " 1, 0, 0, 1, 1, 0, 0, '\\x00', '{0}')");
    }
    List<dev.tapflow.schemas.CaptureStats> reports = List.of(
        report("host-a", started, m0 + 1_000_000_000L, 100, 0, 0, false),
        report("host-a", started, m0 + 11_000_000_000L, 250, 5, 0, false),
        report("host-a", started, m0 + 11_000_000_000L, 250, 5, 0, false), // read twice
        report("host-a", started, m0 + 21_000_000_000L, 400, 5, 2, true),
        report("host-a", m0 + 30_000_000_000L, m0 + 40_000_000_000L, 50, 1, 0, false), // restarted: from 0
        report("host-b", started, m0 + 2_000_000_000L, 70, 0, 0, false),
        report("host-b", old, old + 1_000_000_000L, 10, 0, 0, false)); // past the retention
    try (KafkaProducer<byte[], byte[]> producer = Facts.transactionalProducer(kafka.bootstrapServers())) {
      producer.beginTransaction();
      for (dev.tapflow.schemas.CaptureStats r : reports) {
        producer.send(new ProducerRecord<>(statsTopic, r.getAgent().getBytes(StandardCharsets.UTF_8),
            dev.tapflow.schemas.AvroSerde.captureStats().encode(r)));
      }
      producer.send(new ProducerRecord<>(statsTopic, "x".getBytes(StandardCharsets.UTF_8),
          "not a report".getBytes(StandardCharsets.UTF_8)));
      producer.commitTransaction();
    }
    try (FactSink sink = FactSink.builder(consumer("cs-" + UUID.randomUUID()), url, SharedInfra.jdbcProperties())
        .topic(factsTopic).latencyWindowsTopic(null).captureStatsTopic(statsTopic).retentionDays(7).build().start()) {
      assertTrue(sink.awaitCaughtUp(WAIT), sink.status());
      assertEquals(5, sink.captureReportsStored());
      assertEquals(1, sink.rejectedRecords());
    }
    assertEquals(5, count(url, "SELECT count(*) FROM capture_stats"));
    assertEquals(0, count(url, "SELECT count(*) FROM latency_windows"), "the old window was deleted");
    assertEquals(1, count(url, "SELECT count(*) FROM sink_rejected_records WHERE topic = '" + statsTopic + "'"));
    // host-a's minute: 400 packets in its first run, 50 in the second; drops likewise
    assertEquals(450, count(url, "SELECT sum(packets) FROM capture_health WHERE agent = 'host-a'"));
    assertEquals(6, count(url, "SELECT sum(kernel_drops) FROM capture_health WHERE agent = 'host-a'"));
    assertEquals(2, count(url, "SELECT sum(backlog_drops) FROM capture_health WHERE agent = 'host-a'"));
    assertEquals(70, count(url, "SELECT sum(packets) FROM capture_health WHERE agent = 'host-b'"));
    assertEquals(1, count(url, "SELECT count(*) FROM capture_stats WHERE final"));
    assertEquals(3, count(url, "SELECT (interfaces->0->>'kernel_drops')::bigint FROM capture_stats"
        + " WHERE agent = 'host-a' AND final"));
  }

  private static dev.tapflow.schemas.CaptureStats report(String agent, long startedNs, long tsNs, long packets,
      long kernelDrops, long backlogDrops, boolean last) {
    List<dev.tapflow.schemas.InterfaceCaptureStats> ifs = List.of(
        dev.tapflow.schemas.InterfaceCaptureStats.newBuilder().setName("eth0").setLinkType("EN10MB")
            .setReceived(packets / 2 + kernelDrops).setKernelDrops(kernelDrops - kernelDrops / 2)
            .setInterfaceDrops(0).setPackets(packets / 2).setTruncated(0).build(),
        dev.tapflow.schemas.InterfaceCaptureStats.newBuilder().setName("eth1").setLinkType("EN10MB")
            .setReceived(packets - packets / 2).setKernelDrops(kernelDrops / 2)
            .setInterfaceDrops(0).setPackets(packets - packets / 2).setTruncated(0).build());
    return dev.tapflow.schemas.CaptureStats.newBuilder().setAgent(agent).setTsNs(tsNs).setStartedNs(startedNs)
        .setFinal$(last).setInterfaces(ifs).setPackets(packets).setWireBytes(packets * 100).setSegments(packets)
        .setPayloadBytes(packets * 50).setSkipped(Map.of("PURE_ACK", 3L)).setBatches(packets / 10)
        .setPublishedBatches(packets / 10).setPublishedSegments(packets - backlogDrops).setPublishedBytes(packets * 60)
        .setProducerErrors(0).setProducerErrorSegments(0).setBacklogDrops(backlogDrops)
        .setBacklogDropSegments(backlogDrops).setBacklogDropBytes(backlogDrops * 60).setBacklogSegments(0)
        .setBacklogBytes(0).setBacklogPeakBytes(1000).setInFlightSegments(0).build();
  }

  private static org.HdrHistogram.Histogram histogramOf(long... values) {
    org.HdrHistogram.Histogram h = dev.tapflow.schemas.LatencyHistograms.create();
    for (long v : values) {
      h.recordValue(v);
    }
    return h;
  }

  private static FactSink sink(String topic, String url, String group) {
    return FactSink.builder(consumer(group), url, SharedInfra.jdbcProperties())
        .topic(topic)
        .maxBatchRecords(400)
        .build();
  }

  private static Properties consumer(String group) {
    Properties p = new Properties();
    p.setProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
    p.setProperty(ConsumerConfig.GROUP_ID_CONFIG, group);
    return p;
  }

  private static long count(String url, String sql) throws SQLException {
    try (Connection c = DriverManager.getConnection(url, SharedInfra.jdbcProperties())) {
      return count(c, sql);
    }
  }

  private static long count(EmbeddedPostgres pg, String sql) throws SQLException {
    try (Connection c = pg.connect()) {
      return count(c, sql);
    }
  }

  private static long count(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
