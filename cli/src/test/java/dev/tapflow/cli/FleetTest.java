package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 11's short fleet, as CI runs it: {@code bench/fleet.sh} with 3 host namespaces (Redis on
 * one, memcached on another, clients on the third; an agent on each, capturing its own veth),
 * a real KRaft broker and PostgreSQL each in a JVM of their own, two processor JVMs of one
 * application id (the run goes 1 -> 2 -> 1 while the load runs, num.standby.replicas=1) and a
 * sink JVM. The JVMs run this test's class path. From the files the script leaves, this test
 * checks: per server and command, the facts captured at the client host and those captured at
 * the server host each equal what the server counted itself (Redis INFO commandstats read over
 * its unix socket, memcached stats deltas read over the server host's loopback — neither
 * crosses a captured interface); every fact id once in tapflow.facts.v1 (read committed) and in
 * PostgreSQL; every agent's final report with no drop; the processors really scaled; and, when the
 * vantage join is in the build, one vantage pair per request with the client host's clock, set
 * 250 ms off by the agent's test option {@code --clock-offset-ms}, flagged in vantage_clock_skew.
 */
class FleetTest {
  private static final Path SCRIPT = Path.of("..", "bench", "fleet.sh").toAbsolutePath().normalize();

  @TempDir
  Path work;

  @Test
  void factsStayExactAcrossAProcessorScaleUpAndDown() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "network namespaces need root (CI runs as root)");
    for (String tool : List.of("ip", "redis-server", "redis-cli", "redis-benchmark", "memcached", "memcslap")) {
      if (System.getenv("TAPFLOW_REQUIRE_TOOLS") != null) { // scripts/test.sh: a missing tool is a failure
        assertTrue(LiveCaptureTruthTest.onPath(tool), tool + " is not installed although scripts/test.sh installs it");
      }
      assumeTrue(LiveCaptureTruthTest.onPath(tool), tool + " is not installed (scripts/test.sh installs it)");
    }
    ProcessBuilder pb = new ProcessBuilder("bash", SCRIPT.toString(), "--hosts", "3", "--processors", "2",
        "--duration", "20", "--rounds-per-client", "6", "--requests-per-round", "100", "--skew-ms", "250",
        "--work", work.toString())
        .redirectErrorStream(true).redirectOutput(work.resolve("fleet.out").toFile());
    pb.environment().put("FLEET_CLASSPATH", System.getProperty("java.class.path"));
    Process fleet = pb.start();
    boolean ended = fleet.waitFor(10, TimeUnit.MINUTES); // an upper bound (busy machine), not a timing assertion
    if (!ended) {
      fleet.destroy(); // the script's trap removes its namespaces and processes
      fleet.waitFor(2, TimeUnit.MINUTES);
    }
    String out = Files.readString(work.resolve("fleet.out"));
    System.out.println(out);
    assertTrue(ended, "bench/fleet.sh did not end within 10 minutes");
    assertEquals(0, fleet.exitValue(), "bench/fleet.sh reported a failed check");

    // truth: what the servers counted; facts: PostgreSQL's rows by server, command and vantage
    Map<String, Long> truth = new TreeMap<>();
    for (String line : Files.readAllLines(work.resolve("truth.tsv"))) {
      String[] f = line.split("\t");
      truth.put(f[0] + " " + f[1], Long.parseLong(f[2]));
    }
    Map<String, Long> clientSide = new TreeMap<>();
    Map<String, Long> serverSide = new TreeMap<>();
    for (String line : Files.readAllLines(work.resolve("facts.tsv"))) {
      String[] f = line.split("\t");
      if (f[1].equals("quit")) {
        continue; // memcached's quit is never answered, and no server counter counts it
      }
      (f[2].equals("server") ? serverSide : clientSide).put(f[0] + " " + f[1], Long.parseLong(f[3]));
    }
    assertTrue(truth.keySet().stream().anyMatch(k -> k.endsWith(":6379 get")), "Redis served GETs: " + truth);
    assertTrue(truth.keySet().stream().anyMatch(k -> k.endsWith(":11211 get")), "memcached served GETs: " + truth);
    assertEquals(truth, clientSide, "facts captured at the client host vs the servers' own counters");
    assertEquals(truth, serverSide, "facts captured at the server host vs the servers' own counters");

    String audit = Files.readString(work.resolve("audit.txt"));
    assertTrue(audit.contains(" duplicates=0 ") && audit.contains("undecodable=0"), audit);
    long expectedFacts = 2 * truth.values().stream().mapToLong(Long::longValue).sum();
    long quits = Files.readAllLines(work.resolve("facts.tsv")).stream().map(l -> l.split("\t"))
        .filter(f -> f[1].equals("quit")).mapToLong(f -> Long.parseLong(f[3])).sum();
    assertTrue(audit.contains("distinct=" + (expectedFacts + quits) + " "), audit + " vs " + expectedFacts + " + " + quits);

    List<String> health = Files.readAllLines(work.resolve("health.tsv"));
    assertEquals(3, health.size(), "a final report from every agent: " + health);
    for (String line : health) {
      String[] f = line.split("\t"); // agent packets kernel_drops if_drops segments published errors backlog_drops health_packets
      assertEquals("0", f[2], "kernel drops: " + line);
      assertEquals(f[4], f[5], "every segment published: " + line);
      assertEquals(f[1], f[8], "capture_health adds up to the final report: " + line);
    }

    // with the vantage join in the build: one pair per request, and the client host given a clock
    // 250 ms off (h3, --clock-offset-ms) flagged skewed against both servers, at about -250 ms
    if (Files.exists(work.resolve("vantage.tsv"))) {
      String[] v = Files.readString(work.resolve("vantage.tsv")).strip().split("\t");
      assertEquals(truth.values().stream().mapToLong(Long::longValue).sum(), Long.parseLong(v[0]), "pairs");
      assertEquals("0", v[1], "pairs with client-side latency < server-side");
      List<String> skew = Files.readAllLines(work.resolve("skew.tsv"));
      assertEquals(2, skew.size(), "h3 against the Redis host and the memcached host: " + skew);
      for (String line : skew) {
        String[] f = line.split("\t"); // client_agent server_agent pairs offset_ms violations skewed
        assertTrue(f[0].endsWith("-h3") && f[5].equals("t"), "h3's clock flagged: " + line);
        assertTrue(Math.abs(Double.parseDouble(f[3]) + 250) < 5, "offset about -250 ms: " + line);
      }
    }

    List<String> scale = Files.readAllLines(work.resolve("scale.log"));
    assertEquals(List.of("1", "2", "2", "1"), scale.stream().map(l -> l.split(" ")[1]).toList(), "scaled 1 -> 2 -> 1");
    String first = Files.readString(work.resolve(Files.list(work).map(p -> p.getFileName().toString())
        .filter(n -> n.matches("processor-fleet-\\d+-1\\.err")).findFirst().orElseThrow()));
    assertTrue(first.lines().filter(l -> l.startsWith("tapflow: process active=")).count() >= 2,
        "the first processor's partitions changed as the second came and went: " + first);
  }
}
