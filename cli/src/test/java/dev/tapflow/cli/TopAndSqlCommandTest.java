package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.LatencyHistograms;
import dev.tapflow.schemas.LatencyWindow;
import dev.tapflow.schemas.Status;
import dev.tapflow.sink.JdbcFactWriter;
import dev.tapflow.sink.LatencyWindowWriter;
import dev.tapflow.sink.TapflowSchema;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tapflow top --once} and {@code tapflow sql} against a real embedded PostgreSQL
 * holding the facts of a real capture, seen by two agents, and their 10-second windows.
 */
class TopAndSqlCommandTest {

  private static final Path PCAP =
      Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "redis", "benchmark-plain.pcap");
  private static final long WINDOW_NS = 10_000_000_000L;

  @TempDir static Path home;
  private static List<LatencyFact> facts;

  @BeforeAll
  static void store() throws Exception {
    List<LatencyFact> analyzed = new Analyzer(ProcessorConfig.defaults()).analyze(List.of(PCAP), null).facts();
    facts = new ArrayList<>(analyzed);
    for (LatencyFact f : analyzed) { // the same requests seen by a second agent
      facts.add(LatencyFact.newBuilder(f).setAgent("other").setId(f.getId() + "-other").build());
    }
    // one window part per agent, command and 10 s, as the processor publishes them
    Map<String, List<LatencyFact>> groups = new TreeMap<>();
    for (LatencyFact f : facts) {
      groups.computeIfAbsent(f.getAgent() + "|" + f.getCommand() + "|" + Math.floorDiv(f.getRequestFirstNs(), WINDOW_NS),
          k -> new ArrayList<>()).add(f);
    }
    List<LatencyWindow> parts = new ArrayList<>();
    for (List<LatencyFact> g : groups.values()) {
      parts.add(part(g));
    }
    try (EmbeddedPostgres pg = EmbeddedPostgres.start(home.resolve("postgres"))) {
      TapflowSchema.migrate(pg.jdbcUrl(), pg.connectionProperties());
      try (Connection c = pg.connect()) {
        c.setAutoCommit(false);
        new JdbcFactWriter().insert(c, facts);
        new LatencyWindowWriter().merge(c, parts);
        c.commit();
      }
    }
  }

  @Test
  void topMergesAgentsAndWindowsIntoPercentilesPerCommand() {
    Result r = run("top", "--once", "--minutes", "60");
    assertEquals(0, r.rc, r.err);
    System.out.print(r.out);
    List<String> lines = r.out.lines().toList();
    assertTrue(lines.get(0).startsWith("tapflow top: 60 min of requests up to "), lines.get(0));
    List<String> data = lines.subList(3, lines.size());
    assertEquals(6, data.size(), r.out); // GET INCR LPOP LPUSH SET CONFIG
    double previousP99 = Double.MAX_VALUE;
    for (String line : data) {
      String[] cols = line.trim().split(" {2,}");
      String command = cols[2];
      long[] sorted = facts.stream().filter(f -> f.getCommand().equals(command) && f.getLatencyNs() != null)
          .mapToLong(LatencyFact::getLatencyNs).sorted().toArray();
      assertEquals(facts.stream().filter(f -> f.getCommand().equals(command)).count(), Long.parseLong(cols[3]), line);
      assertEquals("2", cols[11], "two agents: " + line);
      int[] columns = {5, 6, 7};
      double[] percentiles = {50, 90, 99};
      for (int i = 0; i < 3; i++) {
        long exact = nearestRank(sorted, percentiles[i]);
        double shown = Double.parseDouble(cols[columns[i]]) * 1e6;
        // printed to the microsecond: the histogram's 0.1% plus half a printed unit
        assertTrue(Math.abs(shown - exact) <= exact * LatencyHistograms.RELATIVE_ERROR + 500,
            command + " p" + percentiles[i] + ": " + shown + " vs " + exact);
      }
      assertEquals(String.format(Locale.ROOT, "%.3f", sorted[sorted.length - 1] / 1e6), cols[8], "max is exact");
      double p99 = Double.parseDouble(cols[7]);
      assertTrue(p99 <= previousP99, "slowest p99 first");
      previousP99 = p99;
    }
    Result one = run("top", "--once", "--minutes", "60", "--agent", "other", "--limit", "2");
    assertEquals(3 + 2, one.out.lines().count(), one.out);
    assertTrue(one.out.lines().skip(3).allMatch(l -> l.trim().endsWith(" 1")), one.out);
  }

  /**
   * Without --once, top redraws every --refresh: a command stored while it runs shows up on
   * a later screen (slowest first), and is gone again once deleted. The test writes through
   * the database top started, as it would through the one tapflow local runs.
   */
  @Test
  void topRedrawsTheTableAsTheWindowsChange() throws Exception {
    StringWriter out = new StringWriter();
    picocli.CommandLine cl = Tapflow.commandLine();
    cl.setOut(new PrintWriter(out));
    StringWriter err = new StringWriter();
    cl.setErr(new PrintWriter(err));
    int[] rc = {-1};
    Thread top = new Thread(() -> rc[0] = cl.execute("top", "--refresh", "100ms", "--minutes", "60", "--home",
        home.toString()), "top");
    top.start();
    try {
      assertTrue(awaitScreen(out, s -> s.contains(" GET ")), "first screen: " + out + err);
      EmbeddedPostgres.Running pg = EmbeddedPostgres.running(home.resolve("postgres")).orElseThrow();
      LatencyFact newest = facts.stream().max(java.util.Comparator.comparingLong(LatencyFact::getRequestFirstNs))
          .orElseThrow();
      LatencyFact slow = LatencyFact.newBuilder(newest).setCommand("DEBUG").setLatencyNs(900_000_000L).build();
      try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.connectionProperties())) {
        c.setAutoCommit(false);
        new LatencyWindowWriter().merge(c, List.of(part(List.of(slow))));
        c.commit();
        assertTrue(awaitScreen(out, s -> s.lines().skip(3).findFirst().orElse("").contains(" DEBUG ")),
            "the new slowest command first on a later screen: " + lastScreen(out));
        assertTrue(lastScreen(out).contains("900.000"), lastScreen(out));
        try (Statement st = c.createStatement()) {
          st.execute("DELETE FROM latency_windows WHERE command = 'DEBUG'");
        }
        c.commit();
        assertTrue(awaitScreen(out, s -> s.contains(" GET ") && !s.contains(" DEBUG ")), lastScreen(out));
      }
    } finally {
      top.interrupt();
      top.join(30_000);
    }
    assertEquals(0, rc[0], err.toString());
    assertTrue(out.toString().split("\\033\\[H\\033\\[2J", -1).length > 3, "several screens, each cleared first");
  }

  private static String lastScreen(StringWriter out) {
    String all = out.toString();
    int at = all.lastIndexOf("\033[H\033[2J");
    return at < 0 ? all : all.substring(at + 7);
  }

  private static boolean awaitScreen(StringWriter out, java.util.function.Predicate<String> complete)
      throws InterruptedException {
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (System.nanoTime() < deadline) {
      String screen = lastScreen(out);
      if (screen.contains("\n") && complete.test(screen)) {
        return true;
      }
      Thread.sleep(20);
    }
    return false;
  }

  @Test
  void sqlPrintsRows() {
    Result r = run("sql", "SELECT command, count(*) AS n FROM latency_facts WHERE agent = 'other'"
        + " GROUP BY command ORDER BY command");
    assertEquals(0, r.rc, r.err);
    System.out.print(r.out);
    List<String> lines = r.out.lines().toList();
    assertEquals("  COMMAND    N", lines.get(0).toUpperCase(Locale.ROOT));
    assertTrue(lines.contains("  GET      512"), r.out);
    assertEquals("(6 rows)", lines.get(lines.size() - 1));
    Result view = run("sql", "SELECT minute, command, count FROM latency_by_minute", "--limit", "3");
    assertEquals(0, view.rc, view.err);
    assertTrue(view.out.endsWith("(0 rows)\n"), "10 s windows are not minutes: " + view.out);
    Result limited = run("sql", "SELECT id FROM latency_facts", "--limit", "3");
    assertTrue(limited.out.endsWith("(3 rows; more not shown, see --limit)\n"), limited.out);
  }

  @Test
  void sqlRefusesEveryWayOfWriting() throws Exception {
    for (String write : List.of(
        "DELETE FROM latency_facts",
        "UPDATE tapflow_settings SET value = '1 ms'",
        "WITH gone AS (DELETE FROM latency_facts RETURNING 1) SELECT count(*) FROM gone",
        "CREATE TABLE mine (a int)",
        "DROP VIEW slow_commands",
        "SELECT latency_facts_partition('2001-01-01')",
        "INSERT INTO capture_stats (agent) VALUES ('x')")) {
      Result r = run("sql", write);
      System.out.print(write + " -> " + r.err);
      assertEquals(2, r.rc, write + ": " + r.out);
      assertTrue(r.err.startsWith("tapflow: sql is read-only: "), write + ": " + r.err);
      assertEquals(1, r.err.lines().count(), "one line: " + r.err);
    }
    Result two = run("sql", "SELECT 1; DELETE FROM latency_facts");
    assertEquals(2, two.rc);
    assertEquals("tapflow: sql runs exactly one statement; got 2\n", two.err);
    Result rw = run("sql", "SET TRANSACTION READ WRITE");
    assertEquals(2, rw.rc, rw.out);
    assertTrue(run("sql", "SELECT 1 AS one; ").out.contains("(1 row)"), "a trailing semicolon is fine");
    Result bad = run("sql", "SELEC 1");
    assertEquals(2, bad.rc);
    assertTrue(bad.err.startsWith("tapflow: ERROR: syntax error"), bad.err);

    try (EmbeddedPostgres pg = EmbeddedPostgres.start(home.resolve("postgres"));
         Connection c = pg.connect(); Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT (SELECT count(*) FROM latency_facts), (SELECT count(*) FROM capture_stats),"
             + " (SELECT value FROM tapflow_settings WHERE name = 'slow_threshold'), to_regclass('latency_facts_p20010101') IS NULL")) {
      rs.next();
      assertEquals(facts.size(), rs.getLong(1));
      assertEquals(0, rs.getLong(2));
      assertEquals("10 ms", rs.getString(3));
      assertTrue(rs.getBoolean(4));
    }
  }

  private record Result(int rc, String out, String err) {}

  private static Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    picocli.CommandLine cl = Tapflow.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    String[] all = new String[args.length + 2];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--home";
    all[args.length + 1] = home.toString();
    int rc = cl.execute(all);
    return new Result(rc, out.toString(), err.toString());
  }

  private static LatencyWindow part(List<LatencyFact> g) {
    Histogram h = LatencyHistograms.create();
    long sum = 0;
    long n = 0;
    long min = Long.MAX_VALUE;
    long max = Long.MIN_VALUE;
    for (LatencyFact f : g) {
      if (f.getLatencyNs() != null) {
        h.recordValue(f.getLatencyNs());
        sum += f.getLatencyNs();
        n++;
        min = Math.min(min, f.getLatencyNs());
        max = Math.max(max, f.getLatencyNs());
      }
    }
    LatencyFact f = g.get(0);
    return LatencyWindow.newBuilder().setAgent(f.getAgent()).setProtocol(f.getProtocol()).setServerIp(f.getServerIp())
        .setServerPort(f.getServerPort()).setCommand(f.getCommand())
        .setWindowStartNs(Math.floorDiv(f.getRequestFirstNs(), WINDOW_NS) * WINDOW_NS).setWindowSizeMs(10_000)
        .setPart(0).setCount(g.size()).setErrors(g.stream().filter(x -> x.getStatus() == Status.ERROR).count())
        .setTimeouts(g.stream().filter(x -> x.getStatus() == Status.TIMEOUT).count())
        .setRequestBytes(g.stream().mapToLong(LatencyFact::getRequestBytes).sum())
        .setResponseBytes(g.stream().mapToLong(LatencyFact::getResponseBytes).sum())
        .setLatencyCount(n).setLatencySumNs(sum).setLatencyMinNs(n == 0 ? null : min).setLatencyMaxNs(n == 0 ? null : max)
        .setHistogram(ByteBuffer.wrap(LatencyHistograms.encode(h))).build();
  }

  static long nearestRank(long[] sorted, double p) {
    long rank = Math.max(1, (long) Math.ceil(p / 100 * sorted.length));
    return sorted[(int) Math.min(sorted.length, rank) - 1];
  }
}
