package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tapflow.cli.replay.ReplayResult;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What the replay tests share: fresh servers on free ports (a real redis-server with a unix
 * socket for bookkeeping, a real memcached), their own counters, the fixtures, and a run of
 * {@code tapflow replay} in this JVM.
 */
final class ReplayServers {
  private ReplayServers() {}

  static final Path FIXTURES = Path.of("..", "stream-processor", "src", "test", "resources", "pcap");
  static final Path REDIS_BURSTS = FIXTURES.resolve("redis-bursts").resolve("benchmark-bursts.pcap");
  static final Path MEMCACHED_TCP = FIXTURES.resolve("memcached-tcp").resolve("memcached-tcp.pcap");

  /** A run of the command: exit code, what it printed, and its result (null when it failed). */
  record Run(int exitCode, String out, String err, ReplayResult result, long elapsedMs) {}

  static Run replay(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    picocli.CommandLine cl = Tapflow.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    List<String> all = new ArrayList<>(List.of("replay"));
    all.addAll(List.of(args));
    long start = System.nanoTime();
    int code = cl.execute(all.toArray(String[]::new));
    long elapsedMs = (System.nanoTime() - start) / 1_000_000;
    ReplayCommand cmd = cl.getSubcommands().get("replay").getCommand();
    return new Run(code, out.toString(), err.toString(), cmd.result, elapsedMs);
  }

  static void assumeTools(String... tools) {
    for (String tool : tools) {
      assumeTrue(LiveCaptureTruthTest.onPath(tool), tool + " is not installed (scripts/test.sh installs it)");
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** A fresh redis-server on a free port, its bookkeeping over a unix socket; stats reset once it answers. */
  static final class Redis implements AutoCloseable {
    final int port;
    final Path sock;
    final String password;
    private final Process process;

    Redis(Path dir, String password) throws Exception {
      this.port = freePort();
      this.sock = dir.resolve("redis-" + port + ".sock");
      this.password = password;
      List<String> cmd = new ArrayList<>(List.of("redis-server", "--port", Integer.toString(port), "--bind",
          "127.0.0.1", "--unixsocket", sock.toString(), "--save", "", "--appendonly", "no", "--dir", dir.toString()));
      if (password != null) {
        cmd.addAll(List.of("--requirepass", password));
      }
      process = new ProcessBuilder(cmd).redirectErrorStream(true)
          .redirectOutput(dir.resolve("redis-" + port + ".log").toFile()).start();
      awaitStarted();
      cli("CONFIG", "RESETSTAT");
    }

    private void awaitStarted() throws Exception {
      long deadline = System.nanoTime() + 20_000_000_000L;
      while (System.nanoTime() < deadline) {
        if (sock.toFile().exists()) {
          try {
            if (cli("PING").contains("PONG")) {
              return;
            }
          } catch (AssertionError e) {
            // not ready
          }
        }
        Thread.sleep(20);
      }
      throw new AssertionError("redis-server did not start");
    }

    String cli(String... args) throws Exception {
      List<String> cmd = new ArrayList<>(List.of("redis-cli", "-s", sock.toString()));
      if (password != null) {
        cmd.addAll(List.of("--no-auth-warning", "-a", password));
      }
      cmd.addAll(List.of(args));
      return LiveCaptureTruthTest.run(cmd.toArray(String[]::new));
    }

    /** INFO commandstats as {"get": calls}, less the bookkeeping (config|resetstat, info); nothing rejected or failed. */
    Map<String, Long> commandstats() throws Exception {
      return LiveCaptureTruthTest.commandstats(cli("INFO", "commandstats"));
    }

    String url() {
      return "redis://127.0.0.1:" + port;
    }

    /** Sends the server a signal ({@code STOP}: it still accepts connections, in the kernel, but answers nothing). */
    void signal(String name) throws Exception {
      LiveCaptureTruthTest.run("kill", "-" + name, Long.toString(process.pid()));
    }

    @Override
    public void close() {
      process.destroy();
    }
  }

  /** A fresh memcached on a free port. */
  static final class Memcached implements AutoCloseable {
    final int port;
    private final Process process;

    Memcached(Path dir) throws Exception {
      this.port = freePort();
      process = new ProcessBuilder("memcached", "-p", Integer.toString(port), "-U", "0", "-l", "127.0.0.1", "-u",
          "root", "-t", "2").redirectErrorStream(true).redirectOutput(dir.resolve("memcached-" + port + ".log").toFile())
          .start();
      long deadline = System.nanoTime() + 20_000_000_000L;
      while (true) {
        try (java.net.Socket s = new java.net.Socket(InetAddress.getLoopbackAddress(), port)) {
          return;
        } catch (IOException e) {
          if (System.nanoTime() > deadline) {
            throw new AssertionError("memcached did not start");
          }
          Thread.sleep(20);
        }
      }
    }

    Map<String, Long> stats() throws IOException {
      return LiveCaptureTruthTest.memcachedStats(port);
    }

    String url() {
      return "memcached://127.0.0.1:" + port;
    }

    @Override
    public void close() {
      process.destroy();
    }
  }

  /** A truth file: {"name": number}. */
  static Map<String, Long> truth(Path file) throws IOException {
    Map<String, Long> out = new TreeMap<>();
    FixtureTruthTest.commandstats(file).forEach((k, v) -> out.put(k, v.longValue()));
    return out;
  }

  static Path truthBeside(Path pcap, String suffix) {
    String name = pcap.getFileName().toString().replace(".pcap", suffix);
    return pcap.resolveSibling(name);
  }

  /** Asserts a replay at speed 1.0 lasted within 5% of the capture (first request to last). */
  static void assertDurationWithin5Percent(ReplayResult r) {
    double ratio = (double) r.replayNs() / r.originalNs();
    org.junit.jupiter.api.Assertions.assertTrue(Math.abs(ratio - 1) <= 0.05,
        "replay " + r.replayNs() / 1e6 + " ms vs original " + r.originalNs() / 1e6 + " ms");
  }

  static void assertOk(Run run) {
    assertEquals(0, run.exitCode(), "exit code; err: " + run.err() + "\nout: " + run.out());
  }
}
