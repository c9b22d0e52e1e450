package dev.tapflow.cli;

import dev.tapflow.sink.LatencyReport;
import dev.tapflow.sink.MergedLatency;
import dev.tapflow.sink.TextTable;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tapflow top}: per server and command, the latency percentiles of the last minutes,
 * slowest p99 first, refreshed every few seconds. The figures come from
 * {@code latency_windows}: the windows of every agent and minute in the span are merged
 * (HdrHistograms added), so the percentiles are over all their requests, within 0.1%.
 */
@Command(name = "top", mixinStandardHelpOptions = true,
    description = "A live table of the slowest commands per server: latency percentiles over the last minutes, "
        + "merged from the latency windows in PostgreSQL (all agents), refreshed every few seconds.")
final class TopCommand implements Callable<Integer> {

  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss", Locale.ROOT)
      .withZone(ZoneOffset.UTC);
  private static final String CLEAR = "\033[H\033[2J";

  @Option(names = "--minutes", defaultValue = "5", paramLabel = "N",
      description = "Span: the last N minutes of windows, up to the newest one stored. Default: ${DEFAULT-VALUE}.")
  int minutes;

  @Option(names = "--refresh", defaultValue = "2s", paramLabel = "DURATION",
      description = "Time between refreshes. Default: ${DEFAULT-VALUE}.")
  String refresh;

  @Option(names = "--limit", defaultValue = "20", description = "Rows at most. Default: ${DEFAULT-VALUE}.")
  int limit;

  @Option(names = "--agent", paramLabel = "ID", description = "Only windows of this capture agent.")
  String agent;

  @Option(names = "--once", description = "Print the table once and exit (for scripts and tests).")
  boolean once;

  @Mixin
  Database.Options database;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  /** One row of the table: a server endpoint, protocol and command over the span. */
  static final class Row {
    final String serverIp;
    final int serverPort;
    final String protocol;
    final String command;
    final MergedLatency latency = new MergedLatency();
    final Set<String> agents = new HashSet<>();
    Instant firstWindow;

    Row(String serverIp, int serverPort, String protocol, String command) {
      this.serverIp = serverIp;
      this.serverPort = serverPort;
      this.protocol = protocol;
      this.command = command;
    }

    Instant firstWindow() {
      return firstWindow;
    }
  }

  @Override
  public Integer call() throws SQLException {
    if (minutes < 1 || limit < 1) {
      throw new UserError("--minutes and --limit must be 1 or more");
    }
    Duration every = PipelineOptions.Durations.parse(refresh, "--refresh");
    if (every.toMillis() < 100) {
      throw new UserError("--refresh must be at least 100ms");
    }
    PrintWriter out = spec.commandLine().getOut();
    try (Database db = database.open()) {
      while (true) {
        String table = render(db.connection(), Instant.now());
        out.print(once ? table : CLEAR + table);
        out.flush();
        if (once) {
          return 0;
        }
        try {
          Thread.sleep(every.toMillis());
        } catch (InterruptedException e) {
          return 0; // stopped by its caller; Ctrl-C ends the JVM
        }
      }
    }
  }

  /** The whole screen: a header line and the table. */
  String render(Connection c, Instant now) throws SQLException {
    StringBuilder out = new StringBuilder();
    Instant newest = newestWindowEnd(c);
    if (newest == null) {
      return out.append("tapflow top: no latency windows yet").append(agent == null ? "" : " of agent " + agent)
          .append(" (they are published when a window closes: a minute and a bit after it ends, or at the end of"
              + " a capture)\n").toString();
    }
    Instant from = newest.minus(Duration.ofMinutes(minutes));
    List<Row> rows = rows(c, from, newest);
    long ageS = Math.max(0, Duration.between(newest, now).toSeconds());
    out.append(String.format(Locale.ROOT, "tapflow top: %d min of requests up to %s UTC (%s ago), slowest p99 first%s%n",
        minutes, TIME.format(newest), age(ageS),
        agent == null ? ", all agents" : ", agent " + agent));
    TextTable t = new TextTable("SERVER", "PROTOCOL", "COMMAND", ">COUNT", ">PER s", ">P50 ms", ">P90 ms", ">P99 ms",
        ">MAX ms", ">ERRORS", ">TIMEOUTS", ">AGENTS");
    Instant earliest = rows.stream().map(Row::firstWindow).min(Instant::compareTo).orElse(from);
    double seconds = Math.max(1, Duration.between(earliest, newest).toMillis() / 1000.0); // the span with data
    for (Row r : rows) {
      MergedLatency m = r.latency;
      t.row(LatencyReport.endpoint(r.serverIp, r.serverPort), r.protocol, TextTable.printable(r.command, 24),
          Long.toString(m.count()), String.format(Locale.ROOT, "%.1f", m.count() / seconds), ms(m.percentileNs(50)),
          ms(m.percentileNs(90)), ms(m.percentileNs(99)), ms(m.maxNs()), Long.toString(m.errors()),
          Long.toString(m.timeouts()), Integer.toString(r.agents.size()));
    }
    if (rows.isEmpty()) {
      out.append("  (no windows in the span)\n");
    } else {
      t.appendTo(out);
    }
    return out.toString();
  }

  private Instant newestWindowEnd(Connection c) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT max(window_start + window_ms * interval '1 millisecond')"
        + " FROM latency_windows WHERE (?::text IS NULL OR agent = ?)")) {
      ps.setString(1, agent);
      ps.setString(2, agent);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        OffsetDateTime t = rs.getObject(1, OffsetDateTime.class);
        return t == null ? null : t.toInstant();
      }
    }
  }

  /** Windows that start in [from, to), merged per server endpoint, protocol and command; slowest p99 first. */
  List<Row> rows(Connection c, Instant from, Instant to) throws SQLException {
    Map<String, Row> byCommand = new LinkedHashMap<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT server_ip, server_port, protocol, command, agent, window_start, "
        + MergedLatency.COLUMNS + " FROM latency_windows WHERE window_start >= ? AND window_start < ?"
        + " AND (?::text IS NULL OR agent = ?)")) {
      ps.setObject(1, from.atOffset(ZoneOffset.UTC));
      ps.setObject(2, to.atOffset(ZoneOffset.UTC));
      ps.setString(3, agent);
      ps.setString(4, agent);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          String ip = rs.getString("server_ip");
          int port = rs.getInt("server_port");
          String protocol = rs.getString("protocol");
          String command = rs.getString("command");
          Row r = byCommand.computeIfAbsent(String.join("\u0000", ip, Integer.toString(port), protocol, command),
              k -> new Row(ip, port, protocol, command));
          r.latency.add(rs);
          r.agents.add(rs.getString("agent"));
          Instant start = rs.getObject("window_start", OffsetDateTime.class).toInstant();
          r.firstWindow = r.firstWindow == null || start.isBefore(r.firstWindow) ? start : r.firstWindow;
        }
      }
    }
    List<Row> rows = new ArrayList<>(byCommand.values());
    rows.sort(Comparator.comparing((Row r) -> r.latency.percentileNs(99), Comparator.nullsLast(Comparator.reverseOrder()))
        .thenComparing(r -> -r.latency.count()));
    return rows.size() > limit ? rows.subList(0, limit) : rows;
  }

  private static String ms(Long ns) {
    return LatencyReport.ms(ns == null ? null : ns / 1e6);
  }

  private static String age(long s) {
    return s < 120 ? s + " s" : s < 7200 ? (s / 60) + " min" : s < 172_800 ? (s / 3600) + " h" : (s / 86_400) + " days";
  }
}
