package dev.tapflow.sink;

import dev.tapflow.schemas.LatencyFact;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Types;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Inserts {@link LatencyFact}s into {@code latency_facts} with multi-row
 * {@code INSERT ... VALUES (...), (...) ON CONFLICT (id) DO NOTHING}: a fact id already
 * stored (a replay, a retried batch) is skipped, so writing the same facts twice leaves one
 * row each. Every value is a bind parameter. Runs in the caller's transaction; the caller
 * commits (so offsets can join the same transaction later).
 */
public final class JdbcFactWriter {
  /** The columns written, in order: LatencyFact's Avro field names ({@code ts} is generated). */
  public static final List<String> COLUMNS = List.of(
      "id", "agent", "protocol", "vantage", "client_ip", "client_port", "server_ip", "server_port",
      "command", "resource", "status", "error", "request_first_ns", "request_last_ns",
      "response_first_ns", "response_last_ns", "latency_ns", "request_bytes", "response_bytes",
      "request_offset", "args", "loss", "request_gap", "response_gap", "pairing", "detail");

  /** Default rows per statement: 500 x 25 parameters stays far below the protocol's 65535. */
  public static final int DEFAULT_ROWS_PER_STATEMENT = 500;

  private final int rowsPerStatement;
  private final String fullSql;

  public JdbcFactWriter() {
    this(DEFAULT_ROWS_PER_STATEMENT);
  }

  /** @param rowsPerStatement rows in one INSERT statement (1..2000) */
  public JdbcFactWriter(int rowsPerStatement) {
    if (rowsPerStatement < 1 || rowsPerStatement * COLUMNS.size() > 65_535) {
      throw new IllegalArgumentException("rowsPerStatement out of range: " + rowsPerStatement);
    }
    this.rowsPerStatement = rowsPerStatement;
    this.fullSql = insertSql(rowsPerStatement);
  }

  /**
   * Inserts the facts in the connection's current transaction.
   *
   * @return rows actually inserted (facts whose id was already there are not counted)
   */
  public int insert(Connection connection, List<LatencyFact> facts) throws SQLException {
    int inserted = 0;
    for (int from = 0; from < facts.size(); from += rowsPerStatement) {
      int to = Math.min(facts.size(), from + rowsPerStatement);
      String sql = to - from == rowsPerStatement ? fullSql : insertSql(to - from);
      try (PreparedStatement ps = connection.prepareStatement(sql)) {
        int p = 1;
        for (int i = from; i < to; i++) {
          p = bind(ps, p, facts.get(i));
        }
        inserted += ps.executeUpdate();
      }
    }
    return inserted;
  }

  static String insertSql(int rows) {
    StringBuilder sql = new StringBuilder(64 + rows * (COLUMNS.size() * 2 + 3));
    sql.append("INSERT INTO latency_facts (").append(String.join(", ", COLUMNS)).append(") VALUES ");
    String row = "(" + "?, ".repeat(COLUMNS.size() - 1) + "?::jsonb)"; // detail is last
    for (int r = 0; r < rows; r++) {
      if (r > 0) {
        sql.append(", ");
      }
      sql.append(row);
    }
    return sql.append(" ON CONFLICT (id) DO NOTHING").toString();
  }

  /** Binds one fact in {@link #COLUMNS} order starting at parameter {@code p}; returns the next one. */
  private static int bind(PreparedStatement ps, int p, LatencyFact f) throws SQLException {
    ps.setString(p++, f.getId());
    ps.setString(p++, f.getAgent());
    ps.setString(p++, f.getProtocol());
    ps.setString(p++, f.getVantage());
    ps.setString(p++, f.getClientIp());
    ps.setInt(p++, f.getClientPort());
    ps.setString(p++, f.getServerIp());
    ps.setInt(p++, f.getServerPort());
    ps.setString(p++, f.getCommand());
    ps.setString(p++, f.getResource());
    ps.setString(p++, f.getStatus().name());
    ps.setString(p++, f.getError());
    ps.setLong(p++, f.getRequestFirstNs());
    ps.setLong(p++, f.getRequestLastNs());
    setLong(ps, p++, f.getResponseFirstNs());
    setLong(ps, p++, f.getResponseLastNs());
    setLong(ps, p++, f.getLatencyNs());
    ps.setLong(p++, f.getRequestBytes());
    ps.setLong(p++, f.getResponseBytes());
    ps.setLong(p++, f.getRequestOffset());
    ps.setString(p++, f.getArgs());
    ps.setBoolean(p++, f.getLoss());
    ps.setBoolean(p++, f.getRequestGap());
    ps.setBoolean(p++, f.getResponseGap());
    ps.setString(p++, f.getPairing());
    ps.setString(p++, json(f.getDetail()));
    return p;
  }

  /** A flat string map as a JSON object, keys sorted. */
  static String json(Map<String, String> map) {
    StringBuilder b = new StringBuilder("{");
    for (Map.Entry<String, String> e : new TreeMap<>(map).entrySet()) {
      if (b.length() > 1) {
        b.append(',');
      }
      quote(b, e.getKey());
      b.append(':');
      quote(b, e.getValue());
    }
    return b.append('}').toString();
  }

  private static void quote(StringBuilder b, String s) {
    b.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format("\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    b.append('"');
  }

  private static void setLong(PreparedStatement ps, int p, Long value) throws SQLException {
    if (value == null) {
      ps.setNull(p, Types.BIGINT);
    } else {
      ps.setLong(p, value);
    }
  }
}
