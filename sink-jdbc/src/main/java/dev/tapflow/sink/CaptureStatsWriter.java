package dev.tapflow.sink;

import dev.tapflow.schemas.CaptureStats;
import dev.tapflow.schemas.InterfaceCaptureStats;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Stores live capture agents' {@link CaptureStats} reports in {@code capture_stats}
 * (migration V10), one row per report. A report already stored (same agent, run start and
 * report time) is skipped, so reading it again changes nothing. Runs in the caller's
 * transaction.
 */
final class CaptureStatsWriter {
  private static final String INSERT = "INSERT INTO capture_stats (agent, started, ts, final, packets, wire_bytes,"
      + " received, kernel_drops, if_drops, truncated, segments, payload_bytes, published_segments, published_bytes,"
      + " producer_error_segments, backlog_drop_segments, backlog_segments, backlog_peak_bytes, in_flight_segments,"
      + " interfaces, skipped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?::jsonb, ?::jsonb)"
      + " ON CONFLICT DO NOTHING";

  /** @return reports stored (reports already stored are not counted) */
  int insert(Connection c, List<CaptureStats> reports) throws SQLException {
    if (reports.isEmpty()) {
      return 0;
    }
    try (PreparedStatement ps = c.prepareStatement(INSERT)) {
      for (CaptureStats s : reports) {
        long received = 0;
        long kernelDrops = 0;
        long ifDrops = 0;
        long truncated = 0;
        for (InterfaceCaptureStats i : s.getInterfaces()) {
          received += i.getReceived();
          kernelDrops += i.getKernelDrops();
          ifDrops += i.getInterfaceDrops();
          truncated += i.getTruncated();
        }
        int p = 1;
        ps.setString(p++, s.getAgent());
        ps.setObject(p++, ts(s.getStartedNs()));
        ps.setObject(p++, ts(s.getTsNs()));
        ps.setBoolean(p++, s.getFinal$());
        ps.setLong(p++, s.getPackets());
        ps.setLong(p++, s.getWireBytes());
        ps.setLong(p++, received);
        ps.setLong(p++, kernelDrops);
        ps.setLong(p++, ifDrops);
        ps.setLong(p++, truncated);
        ps.setLong(p++, s.getSegments());
        ps.setLong(p++, s.getPayloadBytes());
        ps.setLong(p++, s.getPublishedSegments());
        ps.setLong(p++, s.getPublishedBytes());
        ps.setLong(p++, s.getProducerErrorSegments());
        ps.setLong(p++, s.getBacklogDropSegments());
        ps.setLong(p++, s.getBacklogSegments());
        ps.setLong(p++, s.getBacklogPeakBytes());
        ps.setLong(p++, s.getInFlightSegments());
        ps.setString(p++, interfaces(s.getInterfaces()));
        ps.setString(p, counts(s.getSkipped()));
        ps.addBatch();
      }
      int stored = 0;
      for (int n : ps.executeBatch()) {
        stored += Math.max(n, 0);
      }
      return stored;
    }
  }

  private static OffsetDateTime ts(long epochNs) {
    return Instant.ofEpochSecond(0, epochNs).atOffset(ZoneOffset.UTC);
  }

  private static String interfaces(List<InterfaceCaptureStats> list) {
    StringBuilder b = new StringBuilder("[");
    for (InterfaceCaptureStats i : list) {
      if (b.length() > 1) {
        b.append(',');
      }
      b.append("{\"name\":");
      JdbcFactWriter.quote(b, i.getName());
      b.append(",\"link_type\":");
      JdbcFactWriter.quote(b, i.getLinkType());
      b.append(",\"received\":").append(i.getReceived())
          .append(",\"kernel_drops\":").append(i.getKernelDrops())
          .append(",\"interface_drops\":").append(i.getInterfaceDrops())
          .append(",\"packets\":").append(i.getPackets())
          .append(",\"truncated\":").append(i.getTruncated()).append('}');
    }
    return b.append(']').toString();
  }

  private static String counts(Map<String, Long> map) {
    StringBuilder b = new StringBuilder("{");
    for (Map.Entry<String, Long> e : new TreeMap<>(map).entrySet()) {
      if (b.length() > 1) {
        b.append(',');
      }
      JdbcFactWriter.quote(b, e.getKey());
      b.append(':').append(e.getValue());
    }
    return b.append('}').toString();
  }
}
