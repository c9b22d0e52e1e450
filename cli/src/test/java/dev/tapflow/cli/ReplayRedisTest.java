package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.cli.replay.CommandStats;
import dev.tapflow.cli.replay.ReplayPolicy;
import dev.tapflow.cli.replay.ReplayResult;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tapflow replay} of real redis-benchmark captures to a fresh real redis-server: the
 * server's own {@code INFO commandstats} after the replay equals the capture's truth per
 * command (the replayer's own AUTH accounted exactly), at {@code --speed max} and at 1.0, and
 * at 1.0 the replay lasts what the capture lasted, within 5%.
 */
class ReplayRedisTest {

  private static final Path PLAIN = ReplayServers.FIXTURES.resolve("redis").resolve("benchmark-plain.pcap");
  private static final Path SESSION = ReplayServers.FIXTURES.resolve("redis").resolve("redis-cli-session.pcap");

  @TempDir
  Path dir;

  @Test
  void maxSpeedReplayGivesTheServerTheCapturedCommands() throws Exception {
    ReplayServers.assumeTools("redis-server", "redis-cli");
    Path pcap = ReplayServers.REDIS_BURSTS;
    try (ReplayServers.Redis redis = new ReplayServers.Redis(dir, null)) {
      ReplayServers.Run run = ReplayServers.replay("--target", redis.url(), "--pcap", pcap.toString(),
          "--speed", "max", "--allow-writes");
      ReplayServers.assertOk(run);
      Map<String, Long> truth = ReplayServers.truth(ReplayServers.truthBeside(pcap, ".commandstats.json"));
      assertEquals(truth, redis.commandstats(), run.out());
      ReplayResult r = run.result();
      assertEquals(truth.values().stream().mapToLong(Long::longValue).sum(), r.sent());
      assertEquals(0, r.skippedTotal(), r.skipped().toString());
      assertEquals(r.connections(), r.targetConnections(), "one target connection per captured connection");
      for (Map.Entry<String, CommandStats> e : r.commands().entrySet()) {
        assertTrue(e.getValue().differences().isEmpty(), e.getKey() + " " + e.getValue().differences());
        assertTrue(e.getValue().replayNs(50) > 0 && e.getValue().originalNs(50) > 0, e.getKey());
      }
      assertTrue(r.anomalies().isEmpty(), r.anomalies().toString());
      assertTrue(r.replayNs() < r.originalNs(), "max speed is faster than the capture: " + run.out());
      System.out.println("replay --speed max of " + pcap.getFileName() + ":\n" + run.out());
    }
  }

  @Test
  void speedOneKeepsTheCapturedDurationAndAuthenticatesWithItsOwnPassword() throws Exception {
    ReplayServers.assumeTools("redis-server", "redis-cli");
    Path pcap = ReplayServers.REDIS_BURSTS;
    try (ReplayServers.Redis redis = new ReplayServers.Redis(dir, "replay-target-secret")) {
      ReplayServers.Run run = ReplayServers.replay("--target", redis.url(), "--pcap", pcap.toString(),
          "--speed", "1.0", "--allow-writes", "--target-password", "replay-target-secret");
      ReplayServers.assertOk(run);
      ReplayResult r = run.result();
      Map<String, Long> expected = new TreeMap<>(ReplayServers.truth(ReplayServers.truthBeside(pcap, ".commandstats.json")));
      // one AUTH per target connection by the replayer, one by the redis-cli that reads INFO
      expected.put("auth", r.targetConnections() + 1);
      assertEquals(expected, redis.commandstats(), run.out());
      assertEquals(Map.of("AUTH", r.targetConnections()), r.ownCommands());
      ReplayServers.assertDurationWithin5Percent(r);
      assertFalse((run.out() + run.err()).contains("replay-target-secret"), "the password is never printed");
      System.out.println("replay --speed 1.0 of " + pcap.getFileName() + ":\n" + run.out());
    }
  }

  @Test
  void pipelinedAndSharedConnectionsKeepEveryRequest() throws Exception {
    ReplayServers.assumeTools("redis-server", "redis-cli");
    Path pipelined = ReplayServers.FIXTURES.resolve("redis").resolve("benchmark-pipelined.pcap");
    try (ReplayServers.Redis redis = new ReplayServers.Redis(dir, null)) {
      ReplayServers.Run run = ReplayServers.replay("--target", redis.url(), "--pcap", pipelined.toString(),
          "--speed", "max", "--allow-writes");
      ReplayServers.assertOk(run);
      assertEquals(ReplayServers.truth(ReplayServers.truthBeside(pipelined, ".commandstats.json")), redis.commandstats(),
          run.out());
      run.result().commands().forEach((c, s) -> assertTrue(s.differences().isEmpty(), c + " " + s.differences()));
    }
    // 25 captured connections over 2 target connections, each captured connection still in order
    try (ReplayServers.Redis redis = new ReplayServers.Redis(dir, null)) {
      ReplayServers.Run run = ReplayServers.replay("--target", redis.url(), "--pcap",
          ReplayServers.REDIS_BURSTS.toString(), "--speed", "max", "--allow-writes", "--connections", "2");
      ReplayServers.assertOk(run);
      assertEquals(ReplayServers.truth(ReplayServers.truthBeside(ReplayServers.REDIS_BURSTS, ".commandstats.json")),
          redis.commandstats(), run.out());
      assertEquals(2, run.result().targetConnections());
      assertEquals(25, run.result().connections());
    }
  }

  @Test
  void readOnlyByDefaultSkipsAndCountsTheWrites() throws Exception {
    ReplayServers.assumeTools("redis-server", "redis-cli");
    try (ReplayServers.Redis redis = new ReplayServers.Redis(dir, null)) {
      ReplayServers.Run run = ReplayServers.replay("--target", redis.url(), "--pcap", PLAIN.toString(),
          "--speed", "max");
      ReplayServers.assertOk(run);
      Map<String, Long> truth = ReplayServers.truth(ReplayServers.truthBeside(PLAIN, ".commandstats.json"));
      assertEquals(Map.of("get", truth.get("get"), "config|get", truth.get("config|get")), redis.commandstats());
      ReplayResult r = run.result();
      for (String write : new String[] {"SET", "INCR", "LPUSH", "LPOP"}) {
        assertEquals(Map.of(ReplayPolicy.WRITE, truth.get(write.toLowerCase())), r.skipped().get(write), write);
      }
      assertEquals(4 * 512, r.skippedTotal());
      assertTrue(run.out().contains("write (needs --allow-writes)"), run.out());
    }
  }

  @Test
  void credentialsInTheCaptureAreNeverReplayed() {
    ReplayServers.Run run = ReplayServers.replay("--target", "redis://127.0.0.1:1", "--pcap", SESSION.toString(),
        "--dry-run", "--allow-writes");
    ReplayServers.assertOk(run);
    ReplayResult r = run.result();
    assertEquals(Map.of(ReplayPolicy.CREDENTIALS, 3L), r.skipped().get("AUTH"));
    assertEquals(Map.of(ReplayPolicy.CREDENTIALS, 1L), r.skipped().get("HELLO"));
    assertNull(r.commands().get("AUTH"));
    assertFalse(run.out().contains("tapflow-fixture-password"), run.out());
  }

  @Test
  void aDeadTargetIsAOneLineErrorWithExitCode3() throws Exception {
    int port = ReplayServers.freePort(); // nobody listens
    ReplayServers.Run run = ReplayServers.replay("--target", "redis://127.0.0.1:" + port, "--pcap",
        ReplayServers.REDIS_BURSTS.toString(), "--speed", "1.0", "--allow-writes");
    assertEquals(3, run.exitCode(), run.err());
    assertTrue(run.err().startsWith("tapflow: cannot connect to redis://127.0.0.1:" + port), run.err());
    assertEquals(1, run.err().strip().lines().count(), run.err());
    assertTrue(run.elapsedMs() < 10_000, "no hang: " + run.elapsedMs() + " ms");
  }

  @Test
  void aTargetThatStopsAnsweringIsAOneLineErrorAfterTheReplyTimeout() throws Exception {
    ReplayServers.assumeTools("redis-server", "redis-cli", "kill");
    try (ReplayServers.Redis redis = new ReplayServers.Redis(dir, null)) {
      redis.signal("STOP");
      try {
        ReplayServers.Run run = ReplayServers.replay("--target", redis.url(), "--pcap",
            ReplayServers.REDIS_BURSTS.toString(), "--speed", "max", "--allow-writes", "--reply-timeout", "1s",
            "--queue", "10");
        assertEquals(3, run.exitCode(), run.err());
        assertTrue(run.err().startsWith("tapflow: target " + redis.url() + " did not answer within 1000 ms"), run.err());
        assertEquals(1, run.err().strip().lines().count(), run.err());
        assertTrue(run.elapsedMs() < 10_000, "no hang: " + run.elapsedMs() + " ms");
      } finally {
        redis.signal("CONT");
      }
    }
  }

  @Test
  void dryRunCountsWithoutConnecting() throws Exception {
    int port = ReplayServers.freePort();
    ReplayServers.Run run = ReplayServers.replay("--target", "redis://127.0.0.1:" + port, "--pcap", PLAIN.toString(),
        "--dry-run", "--allow-writes", "--exclude", "lpop");
    ReplayServers.assertOk(run);
    ReplayResult r = run.result();
    assertTrue(r.dryRun());
    assertEquals(512, r.commands().get("GET").count());
    assertEquals(Map.of(ReplayPolicy.EXCLUDED, 512L), r.skipped().get("LPOP"));
    assertEquals(0, r.targetConnections());
    assertTrue(run.out().startsWith("Dry run: would replay 2050 requests"), run.out());
  }
}
