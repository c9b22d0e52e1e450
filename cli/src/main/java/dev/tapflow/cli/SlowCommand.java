package dev.tapflow.cli;

import dev.tapflow.sink.LatencyReport;
import java.io.PrintWriter;
import java.sql.SQLException;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tapflow slow}: the slowest requests in PostgreSQL, filtered by time, server,
 * command, latency and agent; against the embedded database of {@code tapflow local}
 * unless {@code --jdbc-url} names another.
 */
@Command(name = "slow", mixinStandardHelpOptions = true,
    description = "The slowest requests stored in PostgreSQL (by tapflow local or tapflow sink), slowest first.")
final class SlowCommand implements Callable<Integer> {

  @Option(names = "--since", paramLabel = "DURATION",
      description = "Only requests from the last DURATION (e.g. 15m, 1h, 7d is 168h). Default: all.")
  String since;

  @Option(names = "--from", paramLabel = "TIME", description = "Only requests at or after TIME (UTC), e.g. '2026-11-23 10:05'.")
  String from;

  @Option(names = "--to", paramLabel = "TIME", description = "Only requests before TIME (UTC).")
  String to;

  @Option(names = "--server", paramLabel = "HOST:PORT", description = "Only this server, e.g. 10.0.0.5:6379 or [::1]:6379.")
  String server;

  @Option(names = "--command", paramLabel = "NAME", description = "Only this command, e.g. GET (case does not matter).")
  String command;

  @Option(names = "--min", paramLabel = "DURATION", description = "Only requests at least this slow, e.g. 10ms.")
  String min;

  @Option(names = "--agent", paramLabel = "ID", description = "Only facts of this capture agent.")
  String agent;

  @Option(names = "--limit", defaultValue = "20", description = "At most this many rows. Default: ${DEFAULT-VALUE}.")
  int limit;

  @Option(names = "--split",
      description = "Requests seen by a client-side and a server-side agent (vantage_pairs), slowest client-side "
          + "latency first, split into the server's time and the network's.")
  boolean split;

  @Mixin
  Database.Options database;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws SQLException {
    LatencyReport.SlowFilter filter = filter();
    PrintWriter out = spec.commandLine().getOut();
    try (Database db = database.open()) {
      out.print(split ? LatencyReport.renderSplit(LatencyReport.slowestSplit(db.connection(), filter))
          : LatencyReport.renderSlowest(LatencyReport.slowest(db.connection(), filter)));
      out.flush();
    }
    return 0;
  }

  LatencyReport.SlowFilter filter() {
    if (limit < 1 || limit > 100_000) {
      throw new UserError("--limit must be between 1 and 100000");
    }
    Instant fromTime = from == null ? null : time(from, "--from");
    if (since != null) {
      Instant s = Instant.now().minus(PipelineOptions.Durations.parse(since, "--since"));
      fromTime = fromTime == null || s.isAfter(fromTime) ? s : fromTime;
    }
    String ip = null;
    Integer port = null;
    if (server != null) {
      int colon = server.lastIndexOf(':');
      if (colon <= 0) {
        throw new UserError("--server wants HOST:PORT, e.g. 10.0.0.5:6379; got '" + server + "'");
      }
      ip = server.substring(0, colon).replace("[", "").replace("]", "");
      try {
        port = Integer.parseInt(server.substring(colon + 1));
      } catch (NumberFormatException e) {
        throw new UserError("--server: not a port in '" + server + "'");
      }
    }
    Long minNs = min == null ? null : PipelineOptions.Durations.parse(min, "--min").toNanos();
    return new LatencyReport.SlowFilter(fromTime, to == null ? null : time(to, "--to"), ip, port,
        command == null ? null : command.toUpperCase(Locale.ROOT), minNs, agent, limit);
  }

  /** A time as users type it (see {@link TimeArgs}). */
  static Instant time(String text, String option) {
    return TimeArgs.parse(text, option);
  }
}
