package dev.tapflow.sink;

import dev.tapflow.schemas.LatencyFact;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.postgresql.PGConnection;

/**
 * Writes {@link LatencyFact}s into {@code latency_facts}, skipping ids already stored (a
 * replay, a retried batch), so writing the same facts twice leaves one row each. Two ways,
 * same result ({@code bench/sink.sh} measures both):
 * <ul>
 *   <li>{@link Method#INSERT}: multi-row {@code INSERT ... VALUES (...), (...) ON CONFLICT
 *       (id, ts) DO NOTHING}, every value a bind parameter;
 *   <li>{@link Method#COPY}: {@code COPY} into a temporary table of the session, then
 *       {@code INSERT ... SELECT ... ON CONFLICT (id, ts) DO NOTHING} from it.
 * </ul>
 * Runs in the caller's transaction; the caller commits (so offsets join the same
 * transaction). The day partitions the facts need are made first, in the same transaction
 * ({@link FactPartitions#ensure}).
 */
public final class JdbcFactWriter {
  /** How rows travel to PostgreSQL. */
  public enum Method { INSERT, COPY }

  /** The default: COPY measured faster (bench/sink.sh). */
  public static final Method DEFAULT_METHOD = Method.COPY;
  /** The columns written, in order: LatencyFact's Avro field names ({@code ts} is generated). */
  public static final List<String> COLUMNS = List.of(
      "id", "agent", "protocol", "vantage", "client_ip", "client_port", "server_ip", "server_port",
      "command", "resource", "status", "error", "request_first_ns", "request_last_ns",
      "response_first_ns", "response_last_ns", "latency_ns", "request_bytes", "response_bytes",
      "request_offset", "args", "loss", "request_gap", "response_gap", "pairing", "request_seq", "detail");

  /** Default rows per statement: 500 x 28 parameters stays far below the protocol's 65535. */
  public static final int DEFAULT_ROWS_PER_STATEMENT = 500;

  /** The table's columns as written: the Avro fields, then ts. */
  private static final String TABLE_COLUMNS = String.join(", ", COLUMNS) + ", ts";
  private static final String STAGE = "latency_facts_incoming";

  private final Method method;
  private final int rowsPerStatement;
  private final String fullSql;

  public JdbcFactWriter() {
    this(DEFAULT_METHOD, DEFAULT_ROWS_PER_STATEMENT);
  }

  /** @param rowsPerStatement rows in one INSERT statement (1..2000) */
  public JdbcFactWriter(int rowsPerStatement) {
    this(DEFAULT_METHOD, rowsPerStatement);
  }

  /** @param rowsPerStatement rows in one INSERT statement (1..2000), for {@link Method#INSERT} */
  public JdbcFactWriter(Method method, int rowsPerStatement) {
    if (rowsPerStatement < 1 || rowsPerStatement * (COLUMNS.size() + 1) > 65_535) {
      throw new IllegalArgumentException("rowsPerStatement out of range: " + rowsPerStatement);
    }
    this.method = method;
    this.rowsPerStatement = rowsPerStatement;
    this.fullSql = insertSql(rowsPerStatement);
  }

  public Method method() {
    return method;
  }

  /** The value of {@code ts}: request_first_ns truncated to the microsecond, UTC. */
  public static OffsetDateTime ts(long requestFirstNs) {
    long micros = Math.floorDiv(requestFirstNs, 1000L);
    return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L)
        .atOffset(ZoneOffset.UTC);
  }

  /** The UTC day of a fact, i.e. its partition. */
  public static LocalDate day(LatencyFact f) {
    return LocalDate.ofEpochDay(Math.floorDiv(f.getRequestFirstNs(), 86_400_000_000_000L));
  }

  /**
   * Writes the facts in the connection's current transaction.
   *
   * @return rows actually inserted (facts whose id was already there are not counted)
   */
  public int insert(Connection connection, List<LatencyFact> facts) throws SQLException {
    if (facts.isEmpty()) {
      return 0;
    }
    java.util.Set<LocalDate> days = new java.util.TreeSet<>();
    for (LatencyFact f : facts) {
      days.add(day(f));
    }
    FactPartitions.ensure(connection, days);
    return method == Method.COPY ? copy(connection, facts) : insertRows(connection, facts);
  }

  private int insertRows(Connection connection, List<LatencyFact> facts) throws SQLException {
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
    sql.append("INSERT INTO latency_facts (").append(TABLE_COLUMNS).append(") VALUES ");
    String row = "(" + "?, ".repeat(COLUMNS.size() - 1) + "?::jsonb, ?)"; // detail, then ts
    for (int r = 0; r < rows; r++) {
      if (r > 0) {
        sql.append(", ");
      }
      sql.append(row);
    }
    return sql.append(" ON CONFLICT (id, ts) DO NOTHING").toString();
  }

  /** COPY into the session's staging table, then one INSERT ... SELECT that skips stored ids. */
  private int copy(Connection connection, List<LatencyFact> facts) throws SQLException {
    try (Statement s = connection.createStatement()) {
      // lives as long as the session; emptied after each use and at commit
      s.execute("CREATE TEMP TABLE IF NOT EXISTS " + STAGE + " (LIKE latency_facts INCLUDING DEFAULTS)"
          + " ON COMMIT DELETE ROWS");
    }
    ByteArrayOutputStream rows = new ByteArrayOutputStream(facts.size() * 320);
    StringBuilder line = new StringBuilder(512);
    for (LatencyFact f : facts) {
      line.setLength(0);
      copyRow(line, f);
      rows.writeBytes(line.toString().getBytes(StandardCharsets.UTF_8));
    }
    try {
      connection.unwrap(PGConnection.class).getCopyAPI().copyIn(
          "COPY " + STAGE + " (" + TABLE_COLUMNS + ") FROM STDIN", new ByteArrayInputStream(rows.toByteArray()));
    } catch (IOException e) {
      throw new SQLException("COPY into " + STAGE + ": " + e.getMessage(), "08000", e);
    }
    try (Statement s = connection.createStatement()) {
      int inserted = s.executeUpdate("INSERT INTO latency_facts (" + TABLE_COLUMNS + ") SELECT " + TABLE_COLUMNS
          + " FROM " + STAGE + " ON CONFLICT (id, ts) DO NOTHING");
      s.execute("TRUNCATE " + STAGE);
      return inserted;
    }
  }

  /** One fact as a line of COPY's text format, columns as {@link #TABLE_COLUMNS}. */
  private static void copyRow(StringBuilder b, LatencyFact f) {
    text(b, f.getId()).append('\t');
    text(b, f.getAgent()).append('\t');
    text(b, f.getProtocol()).append('\t');
    text(b, f.getVantage()).append('\t');
    text(b, f.getClientIp()).append('\t');
    b.append(f.getClientPort()).append('\t');
    text(b, f.getServerIp()).append('\t');
    b.append(f.getServerPort()).append('\t');
    text(b, f.getCommand()).append('\t');
    text(b, f.getResource()).append('\t');
    text(b, f.getStatus().name()).append('\t');
    text(b, f.getError()).append('\t');
    b.append(f.getRequestFirstNs()).append('\t');
    b.append(f.getRequestLastNs()).append('\t');
    number(b, f.getResponseFirstNs()).append('\t');
    number(b, f.getResponseLastNs()).append('\t');
    number(b, f.getLatencyNs()).append('\t');
    b.append(f.getRequestBytes()).append('\t');
    b.append(f.getResponseBytes()).append('\t');
    b.append(f.getRequestOffset()).append('\t');
    text(b, f.getArgs()).append('\t');
    b.append(f.getLoss() ? 't' : 'f').append('\t');
    b.append(f.getRequestGap() ? 't' : 'f').append('\t');
    b.append(f.getResponseGap() ? 't' : 'f').append('\t');
    text(b, f.getPairing()).append('\t');
    number(b, f.getRequestSeq()).append('\t');
    text(b, json(f.getDetail())).append('\t');
    b.append(ts(f.getRequestFirstNs())).append('\n');
  }

  /** A text value in COPY's text format: \N for null; backslash, tab, newline and return escaped. */
  private static StringBuilder text(StringBuilder b, String s) {
    if (s == null) {
      return b.append("\\N");
    }
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\\' -> b.append("\\\\");
        case '\t' -> b.append("\\t");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        default -> b.append(c);
      }
    }
    return b;
  }

  private static StringBuilder number(StringBuilder b, Long v) {
    return v == null ? b.append("\\N") : b.append(v.longValue());
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
    setLong(ps, p++, f.getRequestSeq());
    ps.setString(p++, json(f.getDetail()));
    ps.setObject(p++, ts(f.getRequestFirstNs()));
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

  static void quote(StringBuilder b, String s) {
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
