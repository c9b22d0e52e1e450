package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.sink.JdbcFactWriter;
import dev.tapflow.sink.TapflowSchema;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tapflow slow} against a real embedded PostgreSQL holding the facts of a real
 * capture: the rows it prints are the ones a plain Java filter and sort of the same facts
 * select, in the same order.
 */
class SlowCommandTest {

  private static final Path PCAP =
      Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "redis", "benchmark-plain.pcap");

  @TempDir static Path home;
  private static List<LatencyFact> facts;

  @BeforeAll
  static void store() throws Exception {
    facts = new Analyzer(ProcessorConfig.defaults()).analyze(List.of(PCAP), null).facts();
    try (EmbeddedPostgres pg = EmbeddedPostgres.start(home.resolve("postgres"))) {
      TapflowSchema.migrate(pg.jdbcUrl(), pg.connectionProperties());
      try (Connection c = pg.connect()) {
        c.setAutoCommit(false);
        new JdbcFactWriter().insert(c, facts);
        c.commit();
      }
    }
  }

  private static String run(String... options) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    picocli.CommandLine cl = Tapflow.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    String[] args = new String[options.length + 3];
    args[0] = "slow";
    args[1] = "--home";
    args[2] = home.toString();
    System.arraycopy(options, 0, args, 3, options.length);
    int rc = cl.execute(args);
    assertEquals(0, rc, err.toString());
    return out.toString();
  }

  /** The (command, latency) column pairs of the printed table, in order. */
  private static List<String> printed(String table) {
    return table.lines().skip(2).map(l -> { // a header and its underline
      String[] cols = l.trim().split(" {2,}");
      return cols[2] + " " + cols[cols.length - 2];
    }).toList();
  }

  private static List<String> expected(Predicate<LatencyFact> keep, int limit) {
    return facts.stream().filter(f -> f.getLatencyNs() != null).filter(keep)
        .sorted(Comparator.comparingLong(LatencyFact::getLatencyNs).reversed().thenComparing(LatencyFact::getId))
        .limit(limit)
        .map(f -> f.getCommand() + " " + String.format(Locale.ROOT, "%.3f", f.getLatencyNs() / 1e6)).toList();
  }

  @Test
  void theSlowestFirstWithTheDefaultLimit() {
    List<String> rows = printed(run());
    assertEquals(expected(f -> true, 20), rows);
  }

  @Test
  void filtersByCommandServerAndLatency() {
    LatencyFact any = facts.get(0);
    String server = any.getServerIp() + ":" + any.getServerPort();
    List<String> slowGets = printed(run("--command", "get", "--server", server, "--min", "1ms", "--limit", "500"));
    assertEquals(expected(f -> f.getCommand().equals("GET") && f.getLatencyNs() >= 1_000_000L, 500), slowGets);
    List<String> gets = printed(run("--command", "GET", "--server", server, "--limit", "7"));
    assertEquals(expected(f -> f.getCommand().equals("GET")
        && (f.getServerIp() + ":" + f.getServerPort()).equals(server), 7), gets);
    assertEquals(7, gets.size());
  }

  @Test
  void timeWindowsSelectByRequestTime() {
    List<LatencyFact> sorted = facts.stream().sorted(Comparator.comparingLong(LatencyFact::getRequestFirstNs)).toList();
    long mid = sorted.get(sorted.size() / 2).getRequestFirstNs();
    String from = java.time.Instant.ofEpochSecond(0, mid).toString();
    List<String> rows = printed(run("--from", from, "--limit", "1000"));
    // timestamptz keeps microseconds: compare at that precision
    long fromUs = Math.floorDiv(mid, 1000);
    assertEquals(expected(f -> Math.floorDiv(f.getRequestFirstNs(), 1000) >= fromUs, 1000), rows);
    assertTrue(rows.size() < facts.size());
    assertTrue(run("--since", "1h").contains("no request with a response matches"), "the capture is older than an hour");
  }
}
