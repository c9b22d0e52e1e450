package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code tapflow capture} as an operator meets it: the exit codes its help documents, and one
 * line that says what is wrong and what to do instead of a stack trace.
 */
class CaptureCommandTest {

  record Run(int rc, String out, String err) {}

  @BeforeAll
  static void root() {
    assumeTrue("root".equals(System.getProperty("user.name")), "live capture needs root (CI runs as root)");
  }

  static Run capture(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    picocli.CommandLine cl = Tapflow.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    List<String> all = new ArrayList<>(List.of("capture"));
    all.addAll(List.of(args));
    int rc = cl.execute(all.toArray(String[]::new));
    return new Run(rc, out.toString(), err.toString());
  }

  static void assertOneLine(Run r, int rc, String start) {
    assertEquals(rc, r.rc(), r.err());
    assertTrue(r.err().startsWith("tapflow: " + start), r.err());
    assertEquals(1, r.err().lines().count(), r.err());
  }

  @Test
  void aDryRunCapturesAndStopsInOrderWithExitCode0() {
    Run r = capture("-i", "lo", "--dry-run", "--port", "1", "--duration", "1s", "--stats-interval", "200ms");
    assertEquals(0, r.rc(), r.err());
    assertTrue(r.err().startsWith("tapflow: capturing on lo[EN10MB, "), r.err());
    assertTrue(r.err().contains("tapflow: capture final packets="), r.err());
  }

  /**
   * What deploy/systemd/tapflow-capture.service grants: CAP_NET_RAW and CAP_NET_ADMIN and nothing else
   * (bounding, inheritable and ambient sets), in a process of its own, and the agent runs with
   * the JVM options the unit and ./tapflow give it; traffic on loopback is read, nothing dropped.
   */
  @Test
  void capturesWithOnlyNetRawAndNetAdminAsTheUnitGrants() throws Exception {
    if (System.getenv("TAPFLOW_REQUIRE_TOOLS") == null) {
      assumeTrue(new java.io.File("/usr/bin/setpriv").canExecute(), "setpriv (util-linux) is not installed");
    }
    String unit = java.nio.file.Files.readString(java.nio.file.Path.of("..", "deploy", "systemd", "tapflow-capture.service"));
    java.util.regex.Matcher opts = java.util.regex.Pattern.compile("Environment=TAPFLOW_JAVA_OPTS=\"([^\"]*)\"")
        .matcher(unit);
    assertTrue(opts.find(), "the unit sets the agent's JVM options");
    assertTrue(unit.contains("AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN"), unit);
    int port;
    try (java.net.ServerSocket server = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      port = server.getLocalPort();
      List<String> cmd = new ArrayList<>(List.of("/usr/bin/setpriv", "--bounding-set=-all,+net_raw,+net_admin",
          "--inh-caps=-all,+net_raw,+net_admin", "--ambient-caps=-all,+net_raw,+net_admin",
          "--", java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString()));
      cmd.addAll(List.of(opts.group(1).split(" ")));
      cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Tapflow.class.getName(), "capture", "-i", "lo",
          "--dry-run", "--port", Integer.toString(port), "--duration", "3s", "--agent-id", "capabilities"));
      java.nio.file.Path log = java.nio.file.Files.createTempFile("capture-caps", ".log");
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (!java.nio.file.Files.readString(log).contains("tapflow: capturing on") && p.isAlive()
          && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      for (int i = 0; i < 20; i++) { // 20 connections: SYN, SYN-ACK, ACK, FIN... on loopback
        try (java.net.Socket c = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), port);
             java.net.Socket accepted = server.accept()) {
          c.getOutputStream().write("PING\r\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
          accepted.getInputStream().readNBytes(6);
        }
      }
      assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the capture did not stop");
      String out = java.nio.file.Files.readString(log);
      java.nio.file.Files.delete(log);
      assertEquals(0, p.exitValue(), out);
      java.util.regex.Matcher fin = java.util.regex.Pattern.compile(
          "capture final packets=(\\d+) received=(\\d+) kernel_drops=(\\d+)").matcher(out);
      assertTrue(fin.find(), out);
      assertTrue(Long.parseLong(fin.group(1)) >= 20 * 5, "every connection's packets: " + out);
      assertEquals(fin.group(1), fin.group(2), out);
      assertEquals("0", fin.group(3), out);
    }
  }

  @Test
  void setupErrorsExitWith2AndOneLine() {
    assertOneLine(capture("--dry-run"), 2, "name an interface to capture on: -i IFACE");
    assertOneLine(capture("-i", "nosuch0", "--dry-run"), 2, "no such interface: nosuch0 (available: ");
    assertOneLine(capture("-i", "any", "--dry-run"), 2, "-i any is not supported");
    assertOneLine(capture("-i", "lo", "--dry-run", "--filter", "tcp port"), 2, "--filter 'tcp port': ");
    assertOneLine(capture("-i", "lo", "--dry-run", "--filter", "tcp", "--port", "1"), 2, "--filter and --port: use one");
    assertOneLine(capture("-i", "lo", "--dry-run", "--buffer-size", "lots"), 2, "--buffer-size: not a size: 'lots'");
    assertOneLine(capture("-i", "lo"), 2, "--bootstrap-servers is required");
  }

  @Test
  void theHelpDocumentsTheExitCodes() {
    Run r = capture("--help");
    assertEquals(0, r.rc());
    assertTrue(r.out().contains("Exit codes:"), r.out());
    assertTrue(r.out().matches("(?s).*\\n  3 +capture failed while running.*"), r.out());
  }

  /** Drops capabilities from the calling thread only (Linux capabilities are per thread). */
  interface CapLib extends Library {
    int capget(Pointer header, Pointer data);

    int capset(Pointer header, Pointer data);
  }

  @Test
  void aMissingCapabilityIsNamed() throws Exception {
    Run[] r = new Run[1];
    Thread t = new Thread(() -> {
      CapLib c = Native.load("c", CapLib.class);
      Memory header = new Memory(8);
      header.setInt(0, 0x20080522); // _LINUX_CAPABILITY_VERSION_3
      header.setInt(4, 0);
      Memory data = new Memory(24);
      c.capget(header, data);
      data.setInt(0, data.getInt(0) & ~(1 << 13) & ~(1 << 12)); // no CAP_NET_RAW, no CAP_NET_ADMIN
      c.capset(header, data);
      r[0] = capture("-i", "lo", "--dry-run");
    });
    t.start();
    t.join();
    assertOneLine(r[0], 2, "cannot capture on lo: live capture needs CAP_NET_RAW, which this process does not have");
  }

  @Test
  void anInterfaceThatDisappearsEndsTheCaptureWithExitCode3() throws Exception {
    String a = "tfcli" + ProcessHandle.current().pid() % 100000;
    assertEquals(0, new ProcessBuilder("ip", "link", "add", a, "type", "veth", "peer", "name", a + "p").start().waitFor());
    try {
      CompletableFuture<Run> run = CompletableFuture.supplyAsync(() -> capture("-i", a, "--dry-run", "--block-timeout", "20ms"));
      Thread.sleep(1_500);
      assertEquals(0, new ProcessBuilder("ip", "link", "del", a).start().waitFor());
      Run r = run.get(30, TimeUnit.SECONDS);
      assertEquals(3, r.rc(), r.err());
      assertTrue(r.err().contains("tapflow: capture final packets="), "final counters printed: " + r.err());
      assertTrue(r.err().strip().endsWith("tapflow: capture failed: interface " + a + " disappeared"), r.err());
    } finally {
      new ProcessBuilder("ip", "link", "del", a).start().waitFor();
    }
  }
}
