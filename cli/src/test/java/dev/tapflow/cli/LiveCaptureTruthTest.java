package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tapflow.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sun.misc.Signal;

/**
 * Issue 5's "done when": {@code tapflow local -i lo} captures live loopback traffic of a real
 * redis-server driven by redis-benchmark and a real memcached driven by memcslap, through the
 * in-JVM broker, the stream processor and the sink into PostgreSQL, and is stopped by SIGTERM
 * as an operator would. The facts per command must equal what the servers counted themselves
 * (Redis {@code INFO commandstats} read over a unix socket, which is not captured; memcached
 * {@code stats} deltas), and the agent's final counters must show no kernel drop.
 */
class LiveCaptureTruthTest {
  private static final String AGENT = "live-truth";

  @TempDir
  Path dir;

  @Test
  void liveFactsPerCommandEqualTheServersOwnCounters() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "live capture needs root (CI runs as root)");
    for (String tool : List.of("redis-server", "redis-cli", "redis-benchmark", "memcached", "memcslap")) {
      if (System.getenv("TAPFLOW_REQUIRE_TOOLS") != null) { // scripts/test.sh: a missing tool is a failure
        assertTrue(onPath(tool), tool + " is not installed although scripts/test.sh installs it");
      }
      assumeTrue(onPath(tool), tool + " is not installed (scripts/test.sh installs it)");
    }
    int redisPort = freePort();
    int memcachedPort = freePort();
    Path sock = dir.resolve("redis.sock");
    Process redis = new ProcessBuilder("redis-server", "--port", Integer.toString(redisPort), "--bind", "127.0.0.1",
        "--unixsocket", sock.toString(), "--save", "", "--appendonly", "no", "--dir", dir.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
    Process memcached = new ProcessBuilder("memcached", "-p", Integer.toString(memcachedPort), "-U", "0",
        "-l", "127.0.0.1", "-u", "root").redirectErrorStream(true).redirectOutput(dir.resolve("memcached.log").toFile()).start();
    try {
      awaitRedis(sock);
      redisCli(sock, "CONFIG", "RESETSTAT");
      Map<String, Long> memcachedBefore = memcachedStats(memcachedPort);

      StringWriter out = new StringWriter();
      Capturing err = new Capturing();
      picocli.CommandLine cl = Tapflow.commandLine();
      cl.setOut(new PrintWriter(out));
      cl.setErr(new PrintWriter(err, true));
      CompletableFuture<Integer> local = CompletableFuture.supplyAsync(() -> cl.execute("local", "-i", "lo",
          "--protocol", "redis=" + redisPort, "--protocol", "memcached=" + memcachedPort,
          "--agent-id", AGENT, "--home", dir.resolve("home").toString(), "--partitions", "2",
          "--stats-interval", "1s", "--timeout", "2m"));
      assertTrue(err.capturing.await(90, TimeUnit.SECONDS), "the capture did not start: " + err);

      run("redis-benchmark", "-h", "127.0.0.1", "-p", Integer.toString(redisPort), "-n", "4000", "-c", "8",
          "-t", "set,get,incr,lpush,lpop", "-q");
      run("memcslap", "-s", "127.0.0.1:" + memcachedPort, "-c", "4", "-e", "500", "-t", "get");
      Thread.sleep(300); // every client has read its last reply; let the kernel see the FINs too

      Map<String, Long> redisTruth = commandstats(redisCli(sock, "INFO", "commandstats"));
      Map<String, Long> memcachedAfter = memcachedStats(memcachedPort);

      Signal.raise(new Signal("TERM")); // as systemd stops the agent
      int rc = local.get(3, TimeUnit.MINUTES);
      assertEquals(0, rc, "tapflow local: " + err);
      assertTrue(out.toString().contains("Latency by server and command"), out.toString());

      // the agent's final counters: nothing dropped anywhere, every packet read once
      Matcher fin = Pattern.compile("capture final packets=(\\d+) received=(\\d+) kernel_drops=(\\d+) interface_drops=\\d+ "
          + "segments=(\\d+) batches=\\d+ published_segments=(\\d+) producer_error_segments=(\\d+) "
          + "backlog_drop_segments=(\\d+)").matcher(err.toString());
      assertTrue(fin.find(), err.toString());
      assertEquals(0, Long.parseLong(fin.group(3)), "kernel drops");
      assertEquals(fin.group(1), fin.group(2), "loopback counted once per packet, every packet read");
      assertEquals(fin.group(4), fin.group(5), "every segment published");
      assertEquals("0", fin.group(6));
      assertEquals("0", fin.group(7));

      Map<String, Long> redisFacts = new TreeMap<>();
      Map<String, Long> memcachedFacts = new TreeMap<>();
      try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir.resolve("home").resolve("postgres"));
          Connection c = pg.connect();
          PreparedStatement health = c.prepareStatement("SELECT (SELECT packets FROM capture_stats WHERE agent = ?"
              + " AND final), (SELECT sum(packets) FROM capture_health WHERE agent = ?),"
              + " (SELECT sum(kernel_drops) FROM capture_health WHERE agent = ?)");
          PreparedStatement s = c.prepareStatement(
              "SELECT protocol, server_port, command, args, status FROM latency_facts WHERE agent = ?")) {
        // the agent's reports reached PostgreSQL through the sink, the final one included
        for (int i = 1; i <= 3; i++) {
          health.setString(i, AGENT);
        }
        try (ResultSet rs = health.executeQuery()) {
          assertTrue(rs.next());
          assertEquals(Long.parseLong(fin.group(1)), rs.getLong(1), "final report in capture_stats");
          assertEquals(Long.parseLong(fin.group(1)), rs.getLong(2), "capture_health adds up to the final count");
          assertEquals(0, rs.getLong(3), "capture_health kernel drops");
        }
        s.setString(1, AGENT);
        try (ResultSet rs = s.executeQuery()) {
          while (rs.next()) {
            String cmd = rs.getString("command").toLowerCase(Locale.ROOT);
            // every request answered; memcached's quit never is (NO_REPLY by design)
            assertEquals(cmd.equals("quit") ? "NO_REPLY" : "OK", rs.getString("status"), cmd);
            if (rs.getString("protocol").equals("redis")) {
              assertEquals(redisPort, rs.getInt("server_port"));
              if (cmd.equals("config")) {
                cmd = "config|" + rs.getString("args").split(" ")[0].toLowerCase(Locale.ROOT);
              }
              redisFacts.merge(cmd, 1L, Long::sum);
            } else {
              assertEquals("memcached", rs.getString("protocol"));
              memcachedFacts.merge(cmd, 1L, Long::sum);
            }
          }
        }
      }
      assertEquals(redisTruth, redisFacts, "Redis: facts per command vs INFO commandstats");
      assertEquals(memcachedAfter.get("cmd_get") - memcachedBefore.get("cmd_get"), memcachedFacts.get("get"),
          "memcached: GET facts vs cmd_get: " + memcachedFacts);
      assertEquals(memcachedAfter.get("cmd_set") - memcachedBefore.get("cmd_set"), memcachedFacts.get("set"),
          "memcached: SET facts vs cmd_set");
      assertEquals(2000L, memcachedFacts.get("get"), "memcslap: 4 threads x 500 gets");
    } finally {
      redis.destroy();
      memcached.destroy();
      redis.waitFor(10, TimeUnit.SECONDS);
      memcached.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** stderr of the command, and a latch released once the capture has started (signals handled from then on). */
  static final class Capturing extends Writer {
    final StringBuffer text = new StringBuffer();
    final CountDownLatch capturing = new CountDownLatch(1);

    @Override
    public void write(char[] cbuf, int off, int len) {
      text.append(cbuf, off, len);
      if (text.indexOf("tapflow: capturing on ") >= 0) {
        capturing.countDown();
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}

    @Override
    public String toString() {
      return text.toString();
    }
  }

  static int freePort() throws IOException {
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  static boolean onPath(String tool) {
    for (String d : System.getenv("PATH").split(":")) {
      if (Files.isExecutable(Path.of(d, tool))) {
        return true;
      }
    }
    return false;
  }

  static String run(String... cmd) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(2, TimeUnit.MINUTES), String.join(" ", cmd) + " did not finish");
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + output);
    return output;
  }

  static String redisCli(Path sock, String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("redis-cli", "-s", sock.toString()));
    cmd.addAll(List.of(args));
    return run(cmd.toArray(String[]::new));
  }

  static void awaitRedis(Path sock) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (System.nanoTime() < deadline) {
      if (Files.exists(sock)) {
        Process p = new ProcessBuilder("redis-cli", "-s", sock.toString(), "PING").redirectErrorStream(true).start();
        if (new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).contains("PONG") && p.waitFor() == 0) {
          return;
        }
      }
      Thread.sleep(50);
    }
    throw new AssertionError("redis-server did not start");
  }

  /** INFO commandstats -> {"get": calls, "config|get": calls}; no call may have been rejected or failed. */
  static Map<String, Long> commandstats(String info) {
    Map<String, Long> out = new TreeMap<>();
    Matcher m = Pattern.compile("cmdstat_([^:]+):calls=(\\d+),usec=\\d+,usec_per_call=[\\d.]+,rejected_calls=(\\d+),failed_calls=(\\d+)")
        .matcher(info);
    while (m.find()) {
      assertEquals("0", m.group(3), m.group());
      assertEquals("0", m.group(4), m.group());
      if (!m.group(1).equals("config|resetstat") && !m.group(1).equals("info")) { // bookkeeping, over the unix socket
        out.put(m.group(1), Long.parseLong(m.group(2)));
      }
    }
    return out;
  }

  /** memcached's own counters, over a connection of its own (captured too: its STATS facts are not compared). */
  static Map<String, Long> memcachedStats(int port) throws IOException {
    Map<String, Long> out = new TreeMap<>();
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
      OutputStream o = s.getOutputStream();
      o.write("stats\r\n".getBytes(StandardCharsets.US_ASCII));
      InputStream in = s.getInputStream();
      StringBuilder sb = new StringBuilder();
      byte[] b = new byte[8192];
      while (sb.indexOf("END\r\n") < 0) {
        int n = in.read(b);
        if (n < 0) {
          break;
        }
        sb.append(new String(b, 0, n, StandardCharsets.US_ASCII));
      }
      Matcher m = Pattern.compile("STAT (\\w+) (\\d+)\r\n").matcher(sb);
      while (m.find()) {
        out.put(m.group(1), Long.parseLong(m.group(2)));
      }
    }
    return out;
  }
}
