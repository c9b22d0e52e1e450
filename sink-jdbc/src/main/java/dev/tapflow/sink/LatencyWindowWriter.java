package dev.tapflow.sink;

import dev.tapflow.schemas.LatencyWindow;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Merges published {@link LatencyWindow} parts into {@code latency_windows} (migration V7):
 * one row per (agent, protocol, server endpoint, command, window), the parts added up, the
 * percentiles recomputed from the merged histogram. A part already listed in the row's
 * {@code parts} is skipped, so reading a part again changes nothing. Runs in the caller's
 * transaction; rows are locked ({@code FOR UPDATE}) while merged.
 */
public final class LatencyWindowWriter {
  private static final String KEY = "agent = ? AND protocol = ? AND server_ip = ? AND server_port = ? AND command = ?"
      + " AND window_ms = ? AND window_start = ?";
  private static final String SELECT = "SELECT " + MergedLatency.COLUMNS + ", parts FROM latency_windows WHERE "
      + KEY + " FOR UPDATE";
  private static final String FIGURES = "count = ?, errors = ?, timeouts = ?, request_bytes = ?, response_bytes = ?,"
      + " latency_count = ?, latency_sum_ns = ?, latency_min_ns = ?, latency_max_ns = ?, p50_ns = ?, p90_ns = ?,"
      + " p99_ns = ?, histogram = ?, parts = ?";
  private static final String UPDATE = "UPDATE latency_windows SET " + FIGURES + ", updated_at = now() WHERE " + KEY;
  private static final String INSERT = "INSERT INTO latency_windows (count, errors, timeouts, request_bytes,"
      + " response_bytes, latency_count, latency_sum_ns, latency_min_ns, latency_max_ns, p50_ns, p90_ns, p99_ns,"
      + " histogram, parts, agent, protocol, server_ip, server_port, command, window_ms, window_start)"
      + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";

  /**
   * Merges the parts into their rows.
   *
   * @return parts merged (parts already in their row are not counted)
   */
  public int merge(Connection c, List<LatencyWindow> parts) throws SQLException {
    Map<String, List<LatencyWindow>> byRow = new LinkedHashMap<>();
    for (LatencyWindow w : parts) {
      byRow.computeIfAbsent(String.join("\u0000", w.getAgent(), w.getProtocol(), w.getServerIp(),
          Integer.toString(w.getServerPort()), w.getCommand(), Integer.toString(w.getWindowSizeMs()),
          Long.toString(w.getWindowStartNs())), k -> new ArrayList<>()).add(w);
    }
    int merged = 0;
    for (List<LatencyWindow> row : byRow.values()) {
      merged += mergeRow(c, row);
    }
    return merged;
  }

  private int mergeRow(Connection c, List<LatencyWindow> row) throws SQLException {
    LatencyWindow k = row.get(0);
    while (true) {
      MergedLatency m = new MergedLatency();
      TreeSet<Integer> seen = new TreeSet<>();
      boolean exists;
      try (PreparedStatement ps = c.prepareStatement(SELECT)) {
        bindKey(ps, 1, k);
        try (ResultSet rs = ps.executeQuery()) {
          exists = rs.next();
          if (exists) {
            m.add(rs);
            for (Integer p : (Integer[]) rs.getArray("parts").getArray()) {
              seen.add(p);
            }
          }
        }
      }
      int added = 0;
      for (LatencyWindow w : row) {
        if (seen.add(w.getPart())) {
          m.add(w);
          added++;
        }
      }
      if (added == 0) {
        return 0;
      }
      try (PreparedStatement ps = c.prepareStatement(exists ? UPDATE : INSERT)) {
        int p = bindFigures(ps, m, c.createArrayOf("integer", seen.toArray()));
        bindKey(ps, p, k);
        if (ps.executeUpdate() == 1) {
          return added;
        }
      }
      // inserted meanwhile by another sink: merge into that row
    }
  }

  private static int bindFigures(PreparedStatement ps, MergedLatency m, Array parts) throws SQLException {
    int p = 1;
    ps.setLong(p++, m.count());
    ps.setLong(p++, m.errors());
    ps.setLong(p++, m.timeouts());
    ps.setLong(p++, m.requestBytes());
    ps.setLong(p++, m.responseBytes());
    ps.setLong(p++, m.latencyCount());
    ps.setLong(p++, m.latencySumNs());
    ps.setObject(p++, m.minNs(), java.sql.Types.BIGINT);
    ps.setObject(p++, m.maxNs(), java.sql.Types.BIGINT);
    ps.setObject(p++, m.percentileNs(50), java.sql.Types.BIGINT);
    ps.setObject(p++, m.percentileNs(90), java.sql.Types.BIGINT);
    ps.setObject(p++, m.percentileNs(99), java.sql.Types.BIGINT);
    ps.setBytes(p++, m.encodedHistogram());
    ps.setArray(p++, parts);
    return p;
  }

  private static void bindKey(PreparedStatement ps, int p, LatencyWindow w) throws SQLException {
    ps.setString(p++, w.getAgent());
    ps.setString(p++, w.getProtocol());
    ps.setString(p++, w.getServerIp());
    ps.setInt(p++, w.getServerPort());
    ps.setString(p++, w.getCommand());
    ps.setInt(p++, w.getWindowSizeMs());
    ps.setObject(p, windowStart(w));
  }

  static OffsetDateTime windowStart(LatencyWindow w) {
    return Instant.ofEpochSecond(0, w.getWindowStartNs()).atOffset(ZoneOffset.UTC);
  }
}
