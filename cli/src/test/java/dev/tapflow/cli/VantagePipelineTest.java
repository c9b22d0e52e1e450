package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The vantage join through the real pipeline ({@code tapflow local}: in-JVM Kafka broker,
 * Kafka Streams under exactly_once_v2, JDBC sink, real PostgreSQL), on Redis traffic captured
 * at the client's and the server's end of an impaired link at once, with the server capture's
 * clock moved by a known offset (its pcap rewritten): every request gives one row in
 * {@code vantage_pairs}, client-side latency ≥ server-side, and {@code vantage_clock_skew}
 * finds the offset. Truth: the server's commandstats (every request is complete in both
 * captures), and the shift the test applied.
 */
class VantagePipelineTest {

  private static final Path FIXTURES =
      Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "redis-impaired");
  /** The server agent's clock, ahead of the client agent's (both captures were stamped by one clock). */
  private static final long SHIFT_NS = 37_250_000L;

  @TempDir
  Path home;

  @Test
  void pairsStoredAndTheShiftedClockFound() throws Exception {
    Path client = home.resolve("cli-host.pcap");
    Path server = home.resolve("srv-host.pcap");
    Files.copy(FIXTURES.resolve("impaired-plain-client.pcap"), client);
    shiftNanosecondPcap(FIXTURES.resolve("impaired-plain-server.pcap"), server, SHIFT_NS);

    CliRun run = CliRun.of("local", "--home", home.resolve("tapflow").toString(), "--partitions", "3",
        client.toString(), server.toString());
    assertEquals(0, run.rc(), "tapflow local failed: " + run.err());
    long requests = LocalPipelineTest.commandstats(FIXTURES.resolve("impaired-plain.commandstats.json"))
        .values().stream().mapToLong(Long::longValue).sum();
    assertTrue(run.err().contains(requests + " vantage pairs"), run.err());
    assertTrue(run.err().contains("clock offset cli-host -> srv-host"), run.err());
    assertTrue(run.err().contains("(skewed)"), run.err());

    try (EmbeddedPostgres pg = EmbeddedPostgres.start(home.resolve("tapflow").resolve("postgres"));
        Connection c = pg.connect(); Statement s = c.createStatement()) {
      Map<String, Long> vantages = new TreeMap<>();
      try (ResultSet rs = s.executeQuery("SELECT agent, vantage, count(*) FROM latency_facts GROUP BY 1, 2")) {
        while (rs.next()) {
          vantages.put(rs.getString(1) + "=" + rs.getString(2), rs.getLong(3));
        }
      }
      assertEquals(Map.of("cli-host=client", requests, "srv-host=server", requests), vantages);

      try (ResultSet rs = s.executeQuery("SELECT count(*), count(DISTINCT client_fact_id), count(DISTINCT server_fact_id),"
          + " count(*) FILTER (WHERE client_latency_ns < server_latency_ns),"
          + " count(*) FILTER (WHERE network_ns <> client_latency_ns - server_latency_ns),"
          + " count(*) FILTER (WHERE client_agent <> 'cli-host' OR server_agent <> 'srv-host'),"
          + " count(*) FILTER (WHERE client_fact_id NOT IN (SELECT id FROM latency_facts WHERE agent = 'cli-host')"
          + "    OR server_fact_id NOT IN (SELECT id FROM latency_facts WHERE agent = 'srv-host'))"
          + " FROM vantage_pairs")) {
        rs.next();
        assertEquals(requests, rs.getLong(1), "one pair per request seen at both ends");
        assertEquals(requests, rs.getLong(2), "each client-side fact in one pair");
        assertEquals(requests, rs.getLong(3), "each server-side fact in one pair");
        assertEquals(0, rs.getLong(4), "pairs whose client side is faster than the server side");
        assertEquals(0, rs.getLong(5), "network_ns = client_latency_ns - server_latency_ns");
        assertEquals(0, rs.getLong(6), "pairs with the agents the wrong way round");
        assertEquals(0, rs.getLong(7), "pairs naming facts not stored");
      }
      try (ResultSet rs = s.executeQuery("SELECT client_agent, server_agent, pairs, offset_ms, causality_violations,"
          + " violations_after_correction, skewed FROM vantage_clock_skew")) {
        assertTrue(rs.next(), "a row in vantage_clock_skew");
        assertEquals("cli-host", rs.getString(1));
        assertEquals("srv-host", rs.getString(2));
        assertEquals(requests, rs.getLong(3));
        double offsetMs = rs.getDouble(4);
        assertTrue(Math.abs(offsetMs - SHIFT_NS / 1e6) < 0.5, "estimated offset " + offsetMs + " ms, shift "
            + SHIFT_NS / 1e6 + " ms");
        assertTrue(rs.getLong(5) > 0, "a 37 ms shift breaks causality on the raw clocks");
        assertTrue(rs.getBoolean(7), "flagged as skewed");
        assertTrue(!rs.next(), "one agent pair");
      }
    }
    // tapflow sql reads the new table and view (tapflow_reader role)
    CliRun sql = CliRun.of("sql", "--home", home.resolve("tapflow").toString(),
        "SELECT skewed, pairs FROM vantage_clock_skew");
    assertEquals(0, sql.rc(), sql.err());
    assertTrue(sql.out().contains(Long.toString(requests)), sql.out());
    // tapflow slow --split: the slowest by client-side latency, against the table itself
    CliRun slow = CliRun.of("slow", "--home", home.resolve("tapflow").toString(), "--split", "--limit", "3");
    assertEquals(0, slow.rc(), slow.err());
    assertEquals(2 + 3, slow.out().strip().lines().count(), "header, rule, 3 rows: " + slow.out());
    try (EmbeddedPostgres pg = EmbeddedPostgres.start(home.resolve("tapflow").resolve("postgres"));
        Connection c = pg.connect(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT client_latency_ns, server_latency_ns FROM vantage_pairs"
            + " ORDER BY client_latency_ns DESC, id LIMIT 1")) {
      rs.next();
      String first = slow.out().strip().lines().skip(2).findFirst().orElseThrow();
      assertTrue(first.contains(String.format(java.util.Locale.ROOT, "%.3f", rs.getLong(1) / 1e6)), first);
      assertTrue(first.contains(String.format(java.util.Locale.ROOT, "%.3f", rs.getLong(2) / 1e6)), first);
    }
  }

  /**
   * Copies a classic little-endian nanosecond pcap (magic a1b23c4d, as the fixtures are)
   * with every packet's time moved by {@code shiftNs}: the capture of a host whose clock is off.
   */
  static void shiftNanosecondPcap(Path in, Path out, long shiftNs) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(in)).order(ByteOrder.LITTLE_ENDIAN);
    if (b.getInt(0) != 0xa1b23c4d) {
      throw new IllegalArgumentException(in + " is not a little-endian nanosecond pcap");
    }
    int pos = 24;
    while (pos + 16 <= b.limit()) {
      long ns = (b.getInt(pos) & 0xffffffffL) * 1_000_000_000L + (b.getInt(pos + 4) & 0xffffffffL) + shiftNs;
      b.putInt(pos, (int) (ns / 1_000_000_000L));
      b.putInt(pos + 4, (int) (ns % 1_000_000_000L));
      pos += 16 + b.getInt(pos + 8);
    }
    Files.write(out, b.array());
  }
}
