package dev.tapflow.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.VantagePair;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code vantage_pairs} and {@code vantage_clock_skew} on the real PostgreSQL: a pair stored
 * again adds nothing; the view's offset comes from the quickest quarter of the pairs (slow
 * ones, whose offset a retransmission skews, do not move it), and it flags skew by threshold
 * and by causality.
 */
class VantagePairsTest {
  private static final long T0 = 1_764_000_000_000_000_000L;

  @BeforeAll
  static void migrate() throws Exception {
    TapflowSchema.migrate(SharedInfra.jdbcUrl("vantage_pairs_test"), SharedInfra.jdbcProperties());
  }

  /**
   * A request at {@code t} on the client's clock that took {@code upNs} to the server, {@code serverNs} there and
   * {@code downNs} back, seen by a server agent whose clock is {@code offsetNs} ahead.
   */
  private static VantagePair pair(String client, String server, int i, long offsetNs, long upNs, long serverNs,
      long downNs) {
    long t1 = T0 + i * 1_000_000L;
    long t2 = t1 + upNs + offsetNs;
    long t3 = t2 + serverNs;
    long t4 = t1 + upNs + serverNs + downNs;
    return VantagePair.newBuilder().setId(client + server + i).setClientFactId("c" + i).setServerFactId("s" + i)
        .setClientAgent(client).setServerAgent(server).setProtocol("redis").setClientIp("10.0.0.1")
        .setClientPort(40000).setServerIp("10.0.0.2").setServerPort(6379).setCommand("GET").setStatus("OK")
        .setClientRequestFirstNs(t1).setClientRequestLastNs(t1).setClientResponseFirstNs(t4)
        .setServerRequestFirstNs(t2).setServerRequestLastNs(t2).setServerResponseFirstNs(t3)
        .setClientLatencyNs(t4 - t1).setServerLatencyNs(t3 - t2).setNetworkNs((t4 - t1) - (t3 - t2))
        .setClockOffsetNs(Math.floorDiv((t2 - t1) + (t3 - t4), 2)).build();
  }

  @Test
  void storedOnceAndSkewFoundByThresholdAndCausality() throws Exception {
    List<VantagePair> pairs = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      // in time: 300 us each way; every 4th request's answer retransmitted (200 ms back): its offset is off by -100 ms
      pairs.add(pair("in-time-c", "in-time-s", i, 0, 300_000, 50_000, i % 4 == 1 ? 200_300_000 : 300_000));
      // 3 ms ahead: beyond the 1 ms threshold (and the answer "leaves" after it arrives)
      pairs.add(pair("ahead-c", "ahead-s", i, 3_000_000, 300_000, 50_000, 300_000));
    }
    // 2 pairs of a slightly skewed pair: too few to judge by the threshold, but causality broken
    pairs.add(pair("few-c", "few-s", 0, -500_000, 300_000, 50_000, 300_000));
    pairs.add(pair("few-c", "few-s", 1, -500_000, 300_000, 50_000, 300_000));
    try (Connection c = SharedInfra.connect("vantage_pairs_test")) {
      c.setAutoCommit(false);
      assertEquals(pairs.size(), new VantagePairWriter().insert(c, pairs));
      assertEquals(0, new VantagePairWriter().insert(c, pairs), "stored again: nothing new");
      c.commit();
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
          "SELECT client_agent, pairs, offset_ms, causality_violations, violations_after_correction, skewed"
              + " FROM vantage_clock_skew ORDER BY client_agent")) {
        assertTrue(rs.next());
        assertEquals("ahead-c", rs.getString(1));
        assertEquals(40, rs.getLong(2));
        assertEquals(3.0, rs.getDouble(3), 1e-9);
        assertEquals(40, rs.getLong(4), "the answer leaves 3 ms 'after' the client got it");
        assertEquals(0, rs.getLong(5));
        assertTrue(rs.getBoolean(6));
        assertTrue(rs.next());
        assertEquals("few-c", rs.getString(1));
        assertEquals(-0.5, rs.getDouble(3), 1e-9);
        assertEquals(2, rs.getLong(4), "the server got the request before the client sent it");
        assertTrue(rs.getBoolean(6), "causality alone flags it");
        assertTrue(rs.next());
        assertEquals("in-time-c", rs.getString(1));
        assertEquals(0.0, rs.getDouble(3), 1e-9, "the retransmitted quarter does not move the estimate");
        assertEquals(0, rs.getLong(4));
        assertFalse(rs.getBoolean(6));
        assertFalse(rs.next());
      }
      assertEquals(List.of("in-time-c", "in-time-c"), LatencyReport.slowestSplit(c,
              new LatencyReport.SlowFilter(null, null, null, null, "GET", null, "in-time-s", 2)).stream()
          .map(LatencyReport.SplitRequest::clientAgent).toList());
      assertEquals(200.65, LatencyReport.slowestSplit(c,
          new LatencyReport.SlowFilter(null, null, null, null, null, null, null, 1)).get(0).clientMs(), 1e-9);
    }
  }
}
