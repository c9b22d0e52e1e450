package dev.tapflow.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.LatencyHistograms;
import dev.tapflow.schemas.LatencyWindow;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.Test;

/**
 * The schema after issue 6 on a real PostgreSQL: latency_facts partitioned by day (the
 * conversion keeps every row, and facts stored before it still count as stored), day
 * partitions dropped by retention, window parts merged once, and the views.
 */
class PartitionsWindowsViewsTest {

  @Test
  void partitioningKeepsTheRowsAndTheirIdempotence() throws Exception {
    String url = SharedInfra.jdbcUrl("v5_to_partitioned");
    assertEquals(5, TapflowSchema.migrate(url, SharedInfra.jdbcProperties(), "5"));
    // two days of facts in the V5 table, inserted as the V5 sink did (ts generated)
    List<LatencyFact> facts = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      facts.add(at(Facts.fact("old", i, 1000 + i), Facts.T0 + (i % 2) * 86_400_000_000_000L + i * 7_777L));
    }
    try (Connection c = SharedInfra.connect("v5_to_partitioned"); Statement s = c.createStatement()) {
      for (LatencyFact f : facts) {
        s.execute("INSERT INTO latency_facts (id, agent, protocol, vantage, client_ip, client_port, server_ip,"
            + " server_port, command, status, request_first_ns, request_last_ns, latency_ns, request_bytes) VALUES ('"
            + f.getId() + "', 'a', 'redis', 'client', '10.0.0.1', 1, '10.0.0.2', 6379, 'GET', 'OK', "
            + f.getRequestFirstNs() + ", " + f.getRequestLastNs() + ", " + f.getLatencyNs() + ", 30)");
      }
    }
    assertEquals(6, TapflowSchema.migrate(url, SharedInfra.jdbcProperties()));
    try (Connection c = SharedInfra.connect("v5_to_partitioned")) {
      assertEquals(300, count(c, "SELECT count(*) FROM latency_facts"));
      assertEquals(2, FactPartitions.days(c).size(), "a partition per day");
      assertEquals(150, count(c, "SELECT count(*) FROM latency_facts_p20251123"));
      assertEquals(300, count(c, "SELECT count(*) FROM latency_facts f WHERE ts = '1970-01-01 00:00:00+00'::timestamptz"
          + " + (f.request_first_ns / 1000) * interval '1 microsecond'"), "ts is request_first_ns truncated to the us");
      c.setAutoCommit(false);
      assertEquals(0, new JdbcFactWriter().insert(c, facts), "stored before the conversion: nothing new");
      assertEquals(0, new JdbcFactWriter(JdbcFactWriter.Method.INSERT, 100).insert(c, facts));
      c.commit();
      assertEquals(300, count(c, "SELECT count(*) FROM latency_facts"));
    }
  }

  @Test
  void copyAndInsertStoreTheSameRowsAndRetentionDropsWholeDays() throws Exception {
    String url = SharedInfra.jdbcUrl("partitions");
    TapflowSchema.migrate(url, SharedInfra.jdbcProperties());
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    long todayNs = today.atStartOfDay().toEpochSecond(ZoneOffset.UTC) * 1_000_000_000L;
    List<LatencyFact> facts = new ArrayList<>();
    for (int day : new int[] {10, 8, 7, 1, 0}) {
      for (int i = 0; i < 50; i++) {
        LatencyFact f = at(Facts.fact("d" + day, i, 1000 + i), todayNs - day * 86_400_000_000_000L + i * 1_000_003L);
        // text that COPY's format must escape
        facts.add(LatencyFact.newBuilder(f).setArgs("a\tb\\c\nd").setResource(i % 2 == 0 ? null : "k\r")
            .setDetail(java.util.Map.of("q", "\"x\"\\")).build());
      }
    }
    try (Connection c = SharedInfra.connect("partitions")) {
      c.setAutoCommit(false);
      assertEquals(125, new JdbcFactWriter(JdbcFactWriter.Method.COPY, 500).insert(c, facts.subList(0, 125)));
      assertEquals(125, new JdbcFactWriter(JdbcFactWriter.Method.INSERT, 500).insert(c, facts.subList(125, 250)));
      assertEquals(0, new JdbcFactWriter(JdbcFactWriter.Method.COPY, 500).insert(c, facts));
      c.commit();
      try (PreparedStatement ps = c.prepareStatement("SELECT args, resource, detail::text FROM latency_facts WHERE id = ?")) {
        for (String id : List.of("d10-3", "d0-3", "d10-4")) { // COPY, INSERT, COPY
          ps.setString(1, id);
          try (ResultSet rs = ps.executeQuery()) {
            assertTrue(rs.next());
            assertEquals("a\tb\\c\nd", rs.getString(1));
            assertEquals(id.endsWith("3") ? "k\r" : null, rs.getString(2));
            assertEquals("{\"q\": \"\\\"x\\\"\\\\\"}", rs.getString(3));
          }
        }
      }
      c.commit();
      assertEquals(5, FactPartitions.days(c).size());
      List<LocalDate> dropped = FactPartitions.dropBefore(c, today.minusDays(7));
      assertEquals(List.of(today.minusDays(10), today.minusDays(8)), dropped);
      assertEquals(150, count(c, "SELECT count(*) FROM latency_facts"));
      assertEquals(0, count(c, "SELECT count(*) FROM latency_facts WHERE id LIKE 'd10-%' OR id LIKE 'd8-%'"));
    }
  }

  @Test
  void windowPartsMergeOnceAndTheViewsReadThem() throws Exception {
    String url = SharedInfra.jdbcUrl("windows_views");
    TapflowSchema.migrate(url, SharedInfra.jdbcProperties());
    // one minute of GET on one server seen by agent a in 3 parts, 1 ms .. 200 ms
    Random r = new Random(7);
    long[][] latencies = new long[3][];
    List<Long> all = new ArrayList<>();
    for (int p = 0; p < 3; p++) {
      latencies[p] = IntStream.range(0, 400 + p * 100).mapToLong(i -> 1_000_000L + (long) (r.nextDouble() * 199_000_000L))
          .toArray();
      for (long l : latencies[p]) {
        all.add(l);
      }
    }
    List<LatencyWindow> parts = new ArrayList<>();
    for (int p = 0; p < 3; p++) {
      parts.add(part(p, latencies[p]));
    }
    LatencyWindowWriter writer = new LatencyWindowWriter();
    try (Connection c = SharedInfra.connect("windows_views")) {
      c.setAutoCommit(false);
      assertEquals(2, writer.merge(c, parts.subList(0, 2)));
      c.commit();
      assertEquals(1, writer.merge(c, parts), "parts 0 and 1 again, and 2");
      assertEquals(0, writer.merge(c, parts), "a replay adds nothing");
      c.commit();
      long[] sorted = all.stream().mapToLong(Long::longValue).sorted().toArray();
      try (Statement s = c.createStatement();
           ResultSet rs = s.executeQuery("SELECT * FROM latency_by_minute")) {
        assertTrue(rs.next());
        assertEquals(sorted.length + 3, rs.getLong("count"), "each part had one timeout too");
        assertEquals(3, rs.getLong("timeouts"));
        assertEquals(sorted.length, rs.getLong("latency_count"));
        for (String[] p : new String[][] {{"p50_ms", "50"}, {"p90_ms", "90"}, {"p99_ms", "99"}, {"max_ms", "100"}}) {
          long exact = nearestRank(sorted, Double.parseDouble(p[1]));
          double ms = rs.getDouble(p[0]);
          assertTrue(Math.abs(ms * 1e6 - exact) <= exact * LatencyHistograms.RELATIVE_ERROR,
              p[0] + ": " + ms + " vs exact " + exact / 1e6);
        }
        assertEquals(sorted[sorted.length - 1] / 1e6, rs.getDouble("max_ms"), 1e-9, "max is exact");
        assertEquals("2025-11-23 12:13:00+00", rs.getString("minute"));
      }
      assertEquals("{0,1,2}", string(c, "SELECT parts::text FROM latency_windows"));

      // slow_commands follows its setting
      List<LatencyFact> facts = IntStream.range(0, 100).mapToObj(i -> Facts.fact("s", i, i * 1_000_000L)).toList();
      new JdbcFactWriter().insert(c, facts);
      c.commit();
      assertEquals(90, count(c, "SELECT count(*) FROM slow_commands"), "10 ms and slower by default");
      try (Statement s = c.createStatement()) {
        s.execute("UPDATE tapflow_settings SET value = '95.5 ms' WHERE name = 'slow_threshold'");
      }
      assertEquals(4, count(c, "SELECT count(*) FROM slow_commands"));
      c.rollback();

      // capture_health: drops as a share of all packets offered, per agent and minute
      try (Statement s = c.createStatement()) {
        // cumulative reports of one agent run: 1900 packets captured, 100 dropped by the kernel or interface
        String zeros = ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, '[]', '{}')";
        s.execute("INSERT INTO capture_stats (agent, started, ts, final, packets, wire_bytes, received, kernel_drops,"
            + " if_drops, truncated, segments, payload_bytes, published_segments, published_bytes,"
            + " producer_error_segments, backlog_drop_segments, backlog_segments, backlog_peak_bytes,"
            + " in_flight_segments, interfaces, skipped) VALUES"
            + " ('a', '2026-01-01 09:59:50+00', '2026-01-01 10:00:00+00', false, 950, 0, 1000, 50, 0" + zeros + ","
            + " ('a', '2026-01-01 09:59:50+00', '2026-01-01 10:00:30+00', false, 1900, 0, 1995, 95, 5" + zeros + ","
            + " ('b', '2026-01-01 09:59:50+00', '2026-01-01 10:00:00+00', false, 10, 0, 10, 0, 0" + zeros);
      }
      assertEquals("5.000", string(c, "SELECT drop_pct FROM capture_health WHERE agent = 'a'"), "100 of 2000");
      assertEquals(1900, count(c, "SELECT packets FROM capture_health WHERE agent = 'a'"));
      assertEquals("0.000", string(c, "SELECT drop_pct FROM capture_health WHERE agent = 'b'"));
      c.commit();
    }
  }

  @Test
  void theReaderRoleReadsAndWritesNothing() throws Exception {
    String url = SharedInfra.jdbcUrl("reader_role");
    TapflowSchema.migrate(url, SharedInfra.jdbcProperties());
    try (Connection c = SharedInfra.connect("reader_role"); Statement s = c.createStatement()) {
      c.setAutoCommit(false);
      s.execute("SET LOCAL ROLE tapflow_reader");
      assertEquals(0, count(c, "SELECT count(*) FROM latency_by_minute"));
      SQLException refused = org.junit.jupiter.api.Assertions.assertThrows(SQLException.class,
          () -> s.execute("DELETE FROM tapflow_settings"));
      assertEquals("42501", refused.getSQLState());
      c.rollback();
    }
  }

  private static LatencyWindow part(int part, long[] latencies) {
    Histogram h = LatencyHistograms.create();
    long sum = 0;
    for (long l : latencies) {
      h.recordValue(l);
      sum += l;
    }
    return LatencyWindow.newBuilder()
        .setAgent("a").setProtocol("redis").setServerIp("10.0.0.2").setServerPort(6379).setCommand("GET")
        .setWindowStartNs((Facts.T0 / 60_000_000_000L) * 60_000_000_000L).setWindowSizeMs(60_000).setPart(part)
        .setCount(latencies.length + 1).setErrors(0).setTimeouts(1).setRequestBytes(30L * latencies.length)
        .setResponseBytes(12L * latencies.length).setLatencyCount(latencies.length).setLatencySumNs(sum)
        .setLatencyMinNs(java.util.Arrays.stream(latencies).min().getAsLong())
        .setLatencyMaxNs(java.util.Arrays.stream(latencies).max().getAsLong())
        .setHistogram(ByteBuffer.wrap(LatencyHistograms.encode(h)))
        .build();
  }

  static long nearestRank(long[] sorted, double p) {
    long rank = Math.max(1, (long) Math.ceil(p / 100 * sorted.length));
    return sorted[(int) Math.min(sorted.length, rank) - 1];
  }

  private static LatencyFact at(LatencyFact f, long requestFirstNs) {
    long shift = requestFirstNs - f.getRequestFirstNs();
    return LatencyFact.newBuilder(f).setRequestFirstNs(requestFirstNs).setRequestLastNs(f.getRequestLastNs() + shift)
        .setResponseFirstNs(f.getResponseFirstNs() + shift).setResponseLastNs(f.getResponseLastNs() + shift).build();
  }

  private static long count(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  private static String string(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }
}
