package dev.tapflow.sink;

import dev.tapflow.schemas.VantagePair;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.List;

/**
 * Stores {@link VantagePair}s in {@code vantage_pairs} (migration V11), one row per pair; a
 * pair already stored (same id) is skipped, so reading it again changes nothing. Runs in the
 * caller's transaction, with the batch's facts and consumer positions.
 */
final class VantagePairWriter {
  private static final String INSERT = "INSERT INTO vantage_pairs (id, ts, client_fact_id, server_fact_id,"
      + " client_agent, server_agent, protocol, client_ip, client_port, server_ip, server_port, command, resource,"
      + " status, request_seq, client_request_first_ns, client_request_last_ns, client_response_first_ns,"
      + " server_request_first_ns, server_request_last_ns, server_response_first_ns, client_latency_ns,"
      + " server_latency_ns, network_ns, clock_offset_ns, loss)"
      + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING";

  /** @return pairs stored (pairs already stored are not counted) */
  int insert(Connection c, List<VantagePair> pairs) throws SQLException {
    if (pairs.isEmpty()) {
      return 0;
    }
    try (PreparedStatement ps = c.prepareStatement(INSERT)) {
      for (VantagePair v : pairs) {
        int p = 1;
        ps.setString(p++, v.getId());
        ps.setObject(p++, JdbcFactWriter.ts(v.getClientRequestFirstNs())); // as latency_facts.ts
        ps.setString(p++, v.getClientFactId());
        ps.setString(p++, v.getServerFactId());
        ps.setString(p++, v.getClientAgent());
        ps.setString(p++, v.getServerAgent());
        ps.setString(p++, v.getProtocol());
        ps.setString(p++, v.getClientIp());
        ps.setInt(p++, v.getClientPort());
        ps.setString(p++, v.getServerIp());
        ps.setInt(p++, v.getServerPort());
        ps.setString(p++, text(v.getCommand()));
        ps.setString(p++, text(v.getResource()));
        ps.setString(p++, v.getStatus());
        if (v.getRequestSeq() == null) {
          ps.setNull(p++, Types.BIGINT);
        } else {
          ps.setLong(p++, v.getRequestSeq());
        }
        ps.setLong(p++, v.getClientRequestFirstNs());
        ps.setLong(p++, v.getClientRequestLastNs());
        ps.setLong(p++, v.getClientResponseFirstNs());
        ps.setLong(p++, v.getServerRequestFirstNs());
        ps.setLong(p++, v.getServerRequestLastNs());
        ps.setLong(p++, v.getServerResponseFirstNs());
        ps.setLong(p++, v.getClientLatencyNs());
        ps.setLong(p++, v.getServerLatencyNs());
        ps.setLong(p++, v.getNetworkNs());
        ps.setLong(p++, v.getClockOffsetNs());
        ps.setBoolean(p, v.getLoss());
        ps.addBatch();
      }
      int stored = 0;
      for (int n : ps.executeBatch()) {
        stored += Math.max(n, 0);
      }
      return stored;
    }
  }

  /** PostgreSQL text holds no NUL: a key that had one keeps its place, marked, instead of failing the batch. */
  private static String text(String s) {
    return s == null || s.indexOf('\u0000') < 0 ? s : s.replace('\u0000', '\uFFFD');
  }
}
