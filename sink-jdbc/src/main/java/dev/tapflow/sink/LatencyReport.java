package dev.tapflow.sink;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The table {@code tapflow local} prints: per server endpoint, protocol and command, the
 * count, p50/p99/max latency and the errors and timeouts; then the slowest requests.
 *
 * <p>Percentiles are {@code percentile_cont} (linear interpolation between the two nearest
 * ranks, as numpy's default) over {@code latency_ns} in PostgreSQL. Facts without a
 * latency (TIMEOUT, NO_REPLY) count in {@code count} but not in the percentiles; a group
 * with no latency at all shows none.
 */
public final class LatencyReport {
  public static final int DEFAULT_SLOWEST = 10;

  private static final String BY_COMMAND = """
      SELECT server_ip, server_port, protocol, command,
             count(*)                                                    AS requests,
             percentile_cont(0.5)  WITHIN GROUP (ORDER BY latency_ns)    AS p50_ns,
             percentile_cont(0.99) WITHIN GROUP (ORDER BY latency_ns)    AS p99_ns,
             max(latency_ns)                                             AS max_ns,
             count(*) FILTER (WHERE status = 'ERROR')                    AS errors,
             count(*) FILTER (WHERE status = 'TIMEOUT')                  AS timeouts
        FROM latency_facts
       WHERE %s
       GROUP BY server_ip, server_port, protocol, command
       ORDER BY server_ip, server_port, protocol, requests DESC, command
      """;

  private static final String SLOWEST = """
      SELECT request_first_ns, client_ip, client_port, server_ip, server_port, protocol,
             command, resource, latency_ns, status
        FROM latency_facts
       WHERE latency_ns IS NOT NULL AND %s
       ORDER BY latency_ns DESC, id
       LIMIT ?
      """;

  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS", Locale.ROOT).withZone(ZoneOffset.UTC);
  /** Longest resource shown in the rendered table; longer ones end in "...". */
  private static final int RESOURCE_WIDTH = 40;

  private LatencyReport() {}

  /** One (server endpoint, protocol, command) group. Latencies in ms; null when no request of the group had one. */
  public record CommandLatency(String serverIp, int serverPort, String protocol, String command, long count,
                               Double p50Ms, Double p99Ms, Double maxMs, long errors, long timeouts) {
    public String server() {
      return endpoint(serverIp, serverPort);
    }
  }

  /** One request among the slowest. {@code time} is the request's first packet. */
  public record SlowRequest(Instant time, String clientIp, int clientPort, String serverIp, int serverPort,
                            String protocol, String command, String resource, double latencyMs, String status) {
    public String client() {
      return endpoint(clientIp, clientPort);
    }

    public String server() {
      return endpoint(serverIp, serverPort);
    }
  }

  /** Both parts of the report. */
  public record Report(List<CommandLatency> commands, List<SlowRequest> slowest) {
    public Report {
      commands = List.copyOf(commands);
      slowest = List.copyOf(slowest);
    }

    /** The fixed-width text table, ending in a newline. */
    public String render() {
      return LatencyReport.render(this);
    }
  }

  /** The report over every row of {@code latency_facts}, with the {@value #DEFAULT_SLOWEST} slowest requests. */
  public static Report query(Connection connection) throws SQLException {
    return query(connection, DEFAULT_SLOWEST);
  }

  public static Report query(Connection connection, int slowest) throws SQLException {
    return query(connection, null, slowest);
  }

  /**
   * The report over the facts of some agents only (e.g. the files {@code tapflow local} just
   * imported), or over every row when {@code agents} is null.
   */
  public static Report query(Connection connection, List<String> agents, int slowest) throws SQLException {
    return new Report(byCommand(connection, agents), slowest(connection, agents, slowest));
  }

  public static List<CommandLatency> byCommand(Connection connection) throws SQLException {
    return byCommand(connection, null);
  }

  /** The condition selecting agents: a fixed text, the agent names are bound as a parameter. */
  private static String agentFilter(List<String> agents) {
    return agents == null ? "TRUE" : "agent = ANY (?)";
  }

  public static List<CommandLatency> byCommand(Connection connection, List<String> agents) throws SQLException {
    List<CommandLatency> out = new ArrayList<>();
    try (PreparedStatement ps = connection.prepareStatement(BY_COMMAND.formatted(agentFilter(agents)))) {
      if (agents != null) {
        ps.setArray(1, connection.createArrayOf("text", agents.toArray()));
      }
      try (ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        out.add(new CommandLatency(rs.getString("server_ip"), rs.getInt("server_port"), rs.getString("protocol"),
            rs.getString("command"), rs.getLong("requests"), nsToMs(rs, "p50_ns"), nsToMs(rs, "p99_ns"),
            nsToMs(rs, "max_ns"), rs.getLong("errors"), rs.getLong("timeouts")));
      }
      }
    }
    return out;
  }

  public static List<SlowRequest> slowest(Connection connection, int limit) throws SQLException {
    return slowest(connection, null, limit);
  }

  public static List<SlowRequest> slowest(Connection connection, List<String> agents, int limit) throws SQLException {
    List<SlowRequest> out = new ArrayList<>();
    try (PreparedStatement ps = connection.prepareStatement(SLOWEST.formatted(agentFilter(agents)))) {
      int i = 1;
      if (agents != null) {
        ps.setArray(i++, connection.createArrayOf("text", agents.toArray()));
      }
      ps.setInt(i, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(slowRequest(rs));
        }
      }
    }
    return out;
  }

  /**
   * Which slow requests to list; null fields do not filter.
   *
   * @param from         facts whose request started at or after this
   * @param to           ... and before this
   * @param serverIp     the server's address as facts write it
   * @param serverPort   the server's port
   * @param command      the command as facts write it (upper-cased)
   * @param minLatencyNs only requests at least this slow
   * @param agent        one capture agent
   * @param limit        at most this many, slowest first
   */
  public record SlowFilter(Instant from, Instant to, String serverIp, Integer serverPort, String command,
                           Long minLatencyNs, String agent, int limit) {}

  /** The slowest answered requests that pass {@code f}, slowest first. Every value is a bound parameter. */
  public static List<SlowRequest> slowest(Connection connection, SlowFilter f) throws SQLException {
    StringBuilder sql = new StringBuilder("""
        SELECT request_first_ns, client_ip, client_port, server_ip, server_port, protocol,
               command, resource, latency_ns, status
          FROM latency_facts
         WHERE latency_ns IS NOT NULL""");
    List<Object> params = new ArrayList<>();
    filter(sql, params, f, "latency_ns");
    condition(sql, params, " AND agent = ?", f.agent());
    return query(connection, sql.append(" ORDER BY latency_ns DESC, id LIMIT ?"), params, f.limit(),
        LatencyReport::slowRequest);
  }

  /** The conditions of {@code f} both tables share ({@code latency} names the latency column {@code minLatencyNs} bounds). */
  private static void filter(StringBuilder sql, List<Object> params, SlowFilter f, String latency) {
    condition(sql, params, " AND ts >= ?", f.from() == null ? null : java.sql.Timestamp.from(f.from()));
    condition(sql, params, " AND ts < ?", f.to() == null ? null : java.sql.Timestamp.from(f.to()));
    condition(sql, params, " AND server_ip = ?", f.serverIp());
    condition(sql, params, " AND server_port = ?", f.serverPort());
    condition(sql, params, " AND command = ?", f.command());
    condition(sql, params, " AND " + latency + " >= ?", f.minLatencyNs());
  }

  private interface RowReader<T> {
    T read(ResultSet rs) throws SQLException;
  }

  private static <T> List<T> query(Connection connection, StringBuilder sql, List<Object> params, int limit,
      RowReader<T> reader) throws SQLException {
    params.add(limit);
    List<T> out = new ArrayList<>();
    try (PreparedStatement ps = connection.prepareStatement(sql.toString())) {
      for (int i = 0; i < params.size(); i++) {
        ps.setObject(i + 1, params.get(i));
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          out.add(reader.read(rs));
        }
      }
    }
    return out;
  }

  /** One request seen at both ends ({@code vantage_pairs}): the client-side latency split. {@code time} is the client's request time. */
  public record SplitRequest(Instant time, String clientIp, int clientPort, String serverIp, int serverPort,
                             String command, String resource, double clientMs, double serverMs, double networkMs,
                             String clientAgent, String serverAgent) {
    public String client() {
      return endpoint(clientIp, clientPort);
    }

    public String server() {
      return endpoint(serverIp, serverPort);
    }
  }

  /**
   * The slowest requests seen at both ends (by client-side latency) that pass {@code f}
   * ({@code minLatencyNs} on the client-side latency, {@code agent} either agent of the pair),
   * slowest first. Every value is a bound parameter.
   */
  public static List<SplitRequest> slowestSplit(Connection connection, SlowFilter f) throws SQLException {
    StringBuilder sql = new StringBuilder("""
        SELECT client_request_first_ns, client_ip, client_port, server_ip, server_port, command, resource,
               client_latency_ns, server_latency_ns, network_ns, client_agent, server_agent
          FROM vantage_pairs
         WHERE true""");
    List<Object> params = new ArrayList<>();
    filter(sql, params, f, "client_latency_ns");
    if (f.agent() != null) {
      sql.append(" AND (client_agent = ? OR server_agent = ?)");
      params.add(f.agent());
      params.add(f.agent());
    }
    return query(connection, sql.append(" ORDER BY client_latency_ns DESC, id LIMIT ?"), params, f.limit(),
        rs -> new SplitRequest(Instant.ofEpochSecond(0, rs.getLong(1)), rs.getString(2), rs.getInt(3),
            rs.getString(4), rs.getInt(5), rs.getString(6), rs.getString(7), rs.getLong(8) / 1e6,
            rs.getLong(9) / 1e6, rs.getLong(10) / 1e6, rs.getString(11), rs.getString(12)));
  }

  /** The split table, as {@code tapflow slow --split} prints it. */
  public static String renderSplit(List<SplitRequest> rows) {
    StringBuilder out = new StringBuilder();
    TextTable t = new TextTable("TIME (UTC)", "CLIENT => SERVER", "COMMAND", "RESOURCE", ">CLIENT ms", ">SERVER ms",
        ">NETWORK ms", "AGENTS (CLIENT, SERVER)");
    for (SplitRequest s : rows) {
      t.row(TIME.format(s.time()), s.client() + " => " + s.server(), TextTable.printable(s.command(), 24),
          s.resource() == null ? "" : TextTable.printable(s.resource(), RESOURCE_WIDTH), ms(s.clientMs()),
          ms(s.serverMs()), ms(s.networkMs()),
          TextTable.printable(s.clientAgent(), 32) + ", " + TextTable.printable(s.serverAgent(), 32));
    }
    if (rows.isEmpty()) {
      out.append("  (no request seen by both a client-side and a server-side agent matches)\n");
    } else {
      t.appendTo(out);
    }
    return out.toString();
  }

  private static void condition(StringBuilder sql, List<Object> params, String fragment, Object value) {
    if (value != null) {
      sql.append(fragment);
      params.add(value);
    }
  }

  private static SlowRequest slowRequest(ResultSet rs) throws SQLException {
    long firstNs = rs.getLong("request_first_ns");
    return new SlowRequest(Instant.ofEpochSecond(0, firstNs), rs.getString("client_ip"),
        rs.getInt("client_port"), rs.getString("server_ip"), rs.getInt("server_port"),
        rs.getString("protocol"), rs.getString("command"), rs.getString("resource"),
        rs.getLong("latency_ns") / 1e6, rs.getString("status"));
  }

  /** The slow-request table alone, as {@code tapflow slow} prints it. */
  public static String renderSlowest(List<SlowRequest> slowest) {
    StringBuilder out = new StringBuilder();
    TextTable slow = new TextTable("TIME (UTC)", "CLIENT => SERVER", "COMMAND", "RESOURCE", ">LATENCY ms", "STATUS");
    for (SlowRequest s : slowest) {
      slow.row(TIME.format(s.time()), s.client() + " => " + s.server(), TextTable.printable(s.command(), 24),
          s.resource() == null ? "" : TextTable.printable(s.resource(), RESOURCE_WIDTH), ms(s.latencyMs()), s.status());
    }
    if (slowest.isEmpty()) {
      out.append("  (no request with a response matches)\n");
    } else {
      slow.appendTo(out);
    }
    return out.toString();
  }

  /** Renders both tables; see {@link Report#render()}. */
  public static String render(Report report) {
    StringBuilder out = new StringBuilder();
    TextTable commands = new TextTable("SERVER", "PROTOCOL", "COMMAND", ">COUNT", ">P50 ms", ">P99 ms", ">MAX ms",
        ">ERRORS", ">TIMEOUTS");
    for (CommandLatency c : report.commands()) {
      commands.row(c.server(), c.protocol(), TextTable.printable(c.command(), 24), Long.toString(c.count()), ms(c.p50Ms()),
          ms(c.p99Ms()), ms(c.maxMs()), Long.toString(c.errors()), Long.toString(c.timeouts()));
    }
    out.append("Latency by server and command\n");
    if (report.commands().isEmpty()) {
      out.append("  (no facts)\n");
    } else {
      commands.appendTo(out);
    }

    out.append('\n').append(report.slowest().size()).append(" slowest requests\n");
    out.append(renderSlowest(report.slowest()));
    return out.toString();
  }

  /** HOST:PORT, IPv6 in brackets. */
  public static String endpoint(String ip, int port) {
    return (ip.indexOf(':') >= 0 ? "[" + ip + "]" : ip) + ":" + port;
  }

  private static Double nsToMs(ResultSet rs, String column) throws SQLException {
    double v = rs.getDouble(column);
    return rs.wasNull() ? null : v / 1e6;
  }

  /** Milliseconds with three decimals, "-" for none. */
  public static String ms(Double v) {
    return v == null ? "-" : String.format(Locale.ROOT, "%.3f", v);
  }
}
