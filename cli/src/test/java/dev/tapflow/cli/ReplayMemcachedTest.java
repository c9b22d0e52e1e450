package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.cli.replay.ReplayPolicy;
import dev.tapflow.cli.replay.ReplayResult;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code tapflow replay} of a real memcached text-protocol capture (two paced clients, made
 * by {@code scripts/capture-memcached-tcp.sh}) to a fresh real memcached: the target's own
 * {@code stats} counters after the replay (cmd_get, cmd_set, get_hits, get_misses, delete,
 * incr/decr, touch …) equal those of the captured server, at {@code --speed max} and at 1.0;
 * at 1.0 the replay lasts what the capture lasted, within 5%.
 */
class ReplayMemcachedTest {

  private static final Path PCAP = ReplayServers.MEMCACHED_TCP;

  @TempDir
  Path dir;

  @Test
  void maxSpeedReplayGivesTheServerTheCapturedCounters() throws Exception {
    ReplayResult r = replayAndCompare("max");
    assertTrue(r.replayNs() < r.originalNs(), "max speed is faster than the capture");
  }

  @Test
  void speedOneKeepsTheCapturedDuration() throws Exception {
    ReplayServers.assertDurationWithin5Percent(replayAndCompare("1.0"));
  }

  private ReplayResult replayAndCompare(String speed) throws Exception {
    ReplayServers.assumeTools("memcached");
    Map<String, Long> truth = ReplayServers.truth(ReplayServers.truthBeside(PCAP, ".stats.json"));
    Map<String, Long> sent = ReplayServers.truth(ReplayServers.truthBeside(PCAP, ".commands.json"));
    try (ReplayServers.Memcached memcached = new ReplayServers.Memcached(dir)) {
      Map<String, Long> before = memcached.stats();
      ReplayServers.Run run = ReplayServers.replay("--target", memcached.url(), "--pcap", PCAP.toString(),
          "--speed", speed, "--allow-writes");
      ReplayServers.assertOk(run);
      Map<String, Long> after = memcached.stats();
      Map<String, Long> delta = new TreeMap<>();
      truth.keySet().forEach(k -> delta.put(k, after.get(k) - before.get(k)));
      assertEquals(truth, delta, run.out());
      ReplayResult r = run.result();
      Map<String, Long> replayed = new TreeMap<>();
      r.commands().forEach((c, s) -> replayed.put(c, s.count()));
      assertEquals(sent, replayed, "requests per command");
      assertEquals(0, r.skippedTotal(), r.skipped().toString());
      r.commands().forEach((c, s) -> assertTrue(s.differences().isEmpty(), c + " " + s.differences()));
      assertTrue(r.anomalies().isEmpty(), r.anomalies().toString());
      System.out.println("replay --speed " + speed + " of " + PCAP.getFileName() + ":\n" + run.out());
      return r;
    }
  }

  @Test
  void aRateCapSpacesTheRequests() throws Exception {
    ReplayServers.assumeTools("memcached");
    try (ReplayServers.Memcached memcached = new ReplayServers.Memcached(dir)) {
      ReplayServers.Run run = ReplayServers.replay("--target", memcached.url(), "--pcap", PCAP.toString(),
          "--speed", "max", "--rate", "2000/s", "--allow-writes");
      ReplayServers.assertOk(run);
      double rate = run.result().ratePerSecond();
      assertTrue(rate > 1800 && rate <= 2010, "rate " + rate + "/s\n" + run.out());
    }
  }

  @Test
  void readOnlyByDefault() throws Exception {
    ReplayServers.assumeTools("memcached");
    Map<String, Long> sent = ReplayServers.truth(ReplayServers.truthBeside(PCAP, ".commands.json"));
    try (ReplayServers.Memcached memcached = new ReplayServers.Memcached(dir)) {
      Map<String, Long> before = memcached.stats();
      ReplayServers.Run run = ReplayServers.replay("--target", memcached.url(), "--pcap", PCAP.toString(),
          "--speed", "max");
      ReplayServers.assertOk(run);
      Map<String, Long> after = memcached.stats();
      assertEquals(0, after.get("cmd_set") - before.get("cmd_set"));
      assertEquals(0, after.get("get_hits") - before.get("get_hits"), "nothing was stored");
      ReplayResult r = run.result();
      assertEquals(sent.get("GET") + sent.get("GETS"), r.sent());
      for (String write : new String[] {"SET", "INCR", "DECR", "DELETE", "TOUCH"}) {
        assertEquals(Map.of(ReplayPolicy.WRITE, sent.get(write)), r.skipped().get(write), write);
      }
    }
  }
}
