package dev.tapflow.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.avro.Schema;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Schema, writer and report against the real PostgreSQL, in a schema of their own. */
class LatencyReportTest {
  private static String url;

  @BeforeAll
  static void migrate() throws Exception {
    url = SharedInfra.jdbcUrl("report_test");
    assertEquals(11, TapflowSchema.migrate(url, SharedInfra.jdbcProperties()));
    assertEquals(0, TapflowSchema.migrate(url, SharedInfra.jdbcProperties()), "migrating again does nothing");
  }

  @Test
  void columnsAreTheAvroFieldNamesPlusTs() throws Exception {
    Set<String> avro = LatencyFact.getClassSchema().getFields().stream().map(Schema.Field::name)
        .collect(Collectors.toSet());
    assertEquals(avro, new HashSet<>(JdbcFactWriter.COLUMNS));
    Set<String> columns = new HashSet<>();
    try (Connection c = SharedInfra.connect("report_test"); Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT column_name FROM information_schema.columns"
             + " WHERE table_schema = current_schema() AND table_name = 'latency_facts'")) {
      while (rs.next()) {
        columns.add(rs.getString(1));
      }
    }
    avro.add("ts");
    assertEquals(avro, columns);
  }

  @Test
  void reportComputesPercentilesInSql() throws Exception {
    // Server A GET: 1..101 ms shuffled, plus 3 errors (counted, with latency) and 2 timeouts (no latency).
    List<LatencyFact> facts = new ArrayList<>();
    List<Long> getLatencies = new ArrayList<>();
    for (int i = 1; i <= 101; i++) {
      getLatencies.add(i * 1_000_000L + (i * 7919L % 1000));
    }
    java.util.Collections.shuffle(getLatencies, new Random(42));
    int n = 0;
    for (long l : getLatencies) {
      facts.add(with(Facts.fact("rep", n++, l), "GET", "10.0.0.2", 6379, Status.OK));
    }
    long[] errorLatencies = {250_000L, 300_000L, 120_000_000L};
    for (long l : errorLatencies) {
      facts.add(with(Facts.fact("rep", n++, l), "GET", "10.0.0.2", 6379, Status.ERROR));
      getLatencies.add(l);
    }
    for (int i = 0; i < 2; i++) {
      facts.add(LatencyFact.newBuilder(with(Facts.fact("rep", n++, 0), "GET", "10.0.0.2", 6379, Status.TIMEOUT))
          .setResponseFirstNs(null).setResponseLastNs(null).setLatencyNs(null).build());
    }
    // Server B (IPv6) SET: only timeouts, so no percentile at all.
    facts.add(LatencyFact.newBuilder(with(Facts.fact("rep", n++, 0), "SET", "fd00::2", 11211, Status.TIMEOUT))
        .setProtocol("memcached").setResponseFirstNs(null).setResponseLastNs(null).setLatencyNs(null).build());
    // And 1200 more rows on another server, to cross the 500-row statements.
    for (int i = 0; i < 1200; i++) {
      facts.add(with(Facts.fact("rep", n++, 10_000L + i), "PING", "10.0.0.3", 6380, Status.OK));
    }

    JdbcFactWriter writer = new JdbcFactWriter();
    try (Connection c = SharedInfra.connect("report_test")) {
      c.setAutoCommit(false);
      assertEquals(facts.size(), writer.insert(c, facts));
      assertEquals(0, writer.insert(c, facts), "same ids again: nothing inserted");
      c.commit();

      LatencyReport.Report report = LatencyReport.query(c);
      assertEquals(3, report.commands().size());
      LatencyReport.CommandLatency get = report.commands().stream()
          .filter(r -> r.command().equals("GET")).findFirst().orElseThrow();
      assertEquals("10.0.0.2:6379", get.server());
      assertEquals(101 + 3 + 2, get.count());
      assertEquals(3, get.errors());
      assertEquals(2, get.timeouts());
      long[] sorted = getLatencies.stream().mapToLong(Long::longValue).sorted().toArray();
      assertEquals(percentileCont(sorted, 0.5) / 1e6, get.p50Ms(), 1e-9);
      assertEquals(percentileCont(sorted, 0.99) / 1e6, get.p99Ms(), 1e-9);
      assertEquals(sorted[sorted.length - 1] / 1e6, get.maxMs(), 1e-9);

      LatencyReport.CommandLatency set = report.commands().stream()
          .filter(r -> r.command().equals("SET")).findFirst().orElseThrow();
      assertEquals("[fd00::2]:11211", set.server());
      assertEquals("memcached", set.protocol());
      assertEquals(1, set.timeouts());
      assertNull(set.p50Ms());
      assertNull(set.maxMs());

      LatencyReport.CommandLatency ping = report.commands().stream()
          .filter(r -> r.command().equals("PING")).findFirst().orElseThrow();
      assertEquals(1200, ping.count());

      assertEquals(10, report.slowest().size());
      assertEquals(120.0, report.slowest().get(0).latencyMs(), 1e-9);
      assertEquals("ERROR", report.slowest().get(0).status());
      for (int i = 1; i < 10; i++) {
        assertEquals(sorted[sorted.length - 1 - i] / 1e6, report.slowest().get(i).latencyMs(), 1e-9);
      }
      assertEquals("10.0.0.1:" + report.slowest().get(0).clientPort(), report.slowest().get(0).client());

      String text = report.render();
      System.out.println(text);
      assertTrue(text.contains("Latency by server and command"));
      assertTrue(text.contains("10 slowest requests"));
      List<String> lines = Arrays.asList(text.split("\n"));
      int header = lines.indexOf(lines.stream().filter(l -> l.contains("P50 ms")).findFirst().orElseThrow());
      // Fixed width: the rule line is as long as the header, every right-aligned cell ends at its column's end.
      int end = lines.get(header).indexOf("P50 ms") + "P50 ms".length();
      for (int i = header + 2; i < header + 2 + report.commands().size(); i++) {
        String l = lines.get(i);
        assertTrue(l.length() >= end && l.charAt(end - 1) != ' ', "aligned: " + l);
      }
    }
  }

  @Test
  void emptyReportRenders() throws Exception {
    String text = new LatencyReport.Report(List.of(), List.of()).render();
    assertTrue(text.contains("(no facts)"), text);
  }

  private static LatencyFact with(LatencyFact f, String command, String serverIp, int port, Status status) {
    return LatencyFact.newBuilder(f).setCommand(command).setServerIp(serverIp).setServerPort(port)
        .setStatus(status).setError(status == Status.ERROR ? "ERR wrong" : null).build();
  }

  /** PostgreSQL's percentile_cont: linear interpolation at position p * (n - 1). */
  private static double percentileCont(long[] sorted, double p) {
    double pos = p * (sorted.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = (int) Math.ceil(pos);
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
  }
}
