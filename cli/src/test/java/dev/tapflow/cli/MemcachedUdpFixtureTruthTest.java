package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The memcached UDP fixture recorded from real traffic ({@code stream-processor/src/test/
 * resources/pcap/memcached-udp/}, made by {@code scripts/capture-memcached-udp.sh}, see its
 * README) against its truths: what the client sent and got, memcached's own {@code stats}
 * deltas, and tcpdump's reading of every packet.
 */
class MemcachedUdpFixtureTruthTest {

  private static final Path FIXTURE =
      Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "memcached-udp");
  private static final String SERVER = "127.0.0.1:11211";

  private static List<Map<String, String>> requests;
  private static List<Map<String, String>> packets;
  private static Map<String, Long> stats;
  private static List<LatencyFact> facts;
  private static Analyzer.Result result;

  @BeforeAll
  static void analyse() throws Exception {
    requests = TsvRows.read(FIXTURE.resolve("memcached-udp.requests.tsv"));
    packets = TsvRows.read(FIXTURE.resolve("memcached-udp.packets.tsv"));
    stats = new TreeMap<>();
    String json = java.nio.file.Files.readString(FIXTURE.resolve("memcached-udp.stats.json"));
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\"(\\w+)\": (\\d+)").matcher(json);
    while (m.find()) {
      stats.put(m.group(1), Long.parseLong(m.group(2)));
    }
    result = new Analyzer(ProcessorConfig.defaults()).analyze(List.of(FIXTURE.resolve("memcached-udp.pcap")), null);
    facts = result.facts();
  }

  @Test
  void oneFactPerRequestAsTheClientSawIt() {
    assertEquals(requests.size(), facts.size(), "facts vs the client's requests");
    for (int i = 0; i < requests.size(); i++) {
      Map<String, String> r = requests.get(i);
      LatencyFact f = facts.get(i);
      String id = r + " vs " + SharedCaptures.describe(f);
      assertEquals("memcached", f.getProtocol(), id);
      assertEquals(SERVER, f.getServerIp() + ":" + f.getServerPort(), id);
      assertEquals(r.get("command"), f.getCommand(), id);
      assertEquals(r.get("request_id"), f.getDetail().get("request_id"), id);
      String head = r.get("response_head");
      if (head.equals("-")) {
        assertEquals(Status.NO_REPLY, f.getStatus(), id);
        assertNull(f.getLatencyNs(), id);
        continue;
      }
      boolean error = head.startsWith("status=") ? !head.equals("status=0")
          : head.startsWith("ERROR") || head.startsWith("CLIENT_ERROR") || head.startsWith("SERVER_ERROR");
      assertEquals(error ? Status.ERROR : Status.OK, f.getStatus(), id);
      assertEquals(Long.parseLong(r.get("response_bytes")), f.getResponseBytes(), id + ": the answer, all its datagrams");
      assertEquals("id", f.getPairing(), id);
    }
    assertEquals(Map.of(), result.anomalies(), "no anomalies on clean traffic");
  }

  /** Per command family, facts == memcached's own counters (stats after − before). */
  @Test
  void factsAreWhatMemcachedCounted() {
    long hits = 0;
    long misses = 0;
    Map<String, Long> families = new TreeMap<>();
    for (LatencyFact f : facts) {
      hits += Long.parseLong(f.getDetail().getOrDefault("hits", "0"));
      misses += Long.parseLong(f.getDetail().getOrDefault("misses", "0"));
      String family = switch (f.getCommand()) {
        case "SET", "MS", "Set", "SetQ" -> "set";
        case "DELETE", "MD", "Delete" -> "delete";
        case "INCR" -> "incr";
        case "DECR" -> "decr";
        case "TOUCH" -> "touch";
        default -> "other";
      };
      families.merge(family, 1L, Long::sum);
    }
    assertEquals(stats.get("get_hits"), hits, "get_hits");
    assertEquals(stats.get("get_misses"), misses, "get_misses");
    assertEquals(stats.get("cmd_get"), hits + misses, "cmd_get: keys asked for");
    assertEquals(stats.get("cmd_set"), families.get("set"), "cmd_set");
    assertEquals(stats.get("delete_hits") + stats.get("delete_misses"), families.get("delete"), "deletes");
    assertEquals(stats.get("incr_hits") + stats.get("incr_misses"), families.get("incr"), "incr");
    assertEquals(stats.get("decr_hits") + stats.get("decr_misses"), families.get("decr"), "decr");
    assertEquals(stats.get("cmd_touch"), families.get("touch"), "touch");
  }

  /**
   * The client waited for each answer, so the datagrams alternate: a request (whole at its
   * last IP fragment), then the answer's datagrams. Each fact's times are those datagrams'
   * tcpdump times: latency = first answer datagram − request datagram.
   */
  @Test
  void timesAreTcpdumpsDatagramTimes() {
    List<long[]> datagrams = datagrams(); // {ts of the last fragment, 1 if from the client}
    int at = 0;
    int multi = 0;
    for (int i = 0; i < requests.size(); i++) {
      Map<String, String> r = requests.get(i);
      LatencyFact f = facts.get(i);
      String id = r + " vs " + SharedCaptures.describe(f);
      assertEquals(1, datagrams.get(at)[1], id + ": a request datagram");
      assertEquals(datagrams.get(at)[0], f.getRequestLastNs(), id);
      assertEquals(f.getRequestFirstNs(), f.getRequestLastNs(), id + ": one datagram");
      int answers = Integer.parseInt(r.get("response_datagrams"));
      if (f.getStatus() != Status.NO_REPLY) {
        assertEquals(datagrams.get(at + 1)[0], (long) f.getResponseFirstNs(), id);
        assertEquals(datagrams.get(at + answers)[0], (long) f.getResponseLastNs(), id);
        assertEquals(datagrams.get(at + 1)[0] - datagrams.get(at)[0], (long) f.getLatencyNs(), id);
        multi += answers > 1 ? 1 : 0;
      }
      for (int k = 1; k <= answers; k++) {
        assertEquals(0, datagrams.get(at + k)[1], id + ": an answer datagram");
      }
      at += 1 + answers;
    }
    assertEquals(datagrams.size(), at, "every datagram accounted for");
    assertTrue(multi >= 3, "answers of several datagrams: " + multi);
  }

  /** tcpdump's packets as datagrams: fragments of one (same IP id and source) count once, at the last one's time. */
  private static List<long[]> datagrams() {
    List<long[]> out = new ArrayList<>();
    Set<String> open = new java.util.HashSet<>();
    String client = null;
    for (Map<String, String> p : packets) {
      String key = p.get("ip_id") + "/" + p.get("src").split(":")[0];
      boolean first = p.get("frag_offset").equals("0");
      if (first && client == null) {
        client = p.get("src");
      }
      if (p.get("more_fragments").equals("1")) {
        if (first) {
          open.add(key + "/" + (p.get("src").equals(client) ? 1 : 0));
        }
        continue;
      }
      if (first) {
        out.add(new long[] {Long.parseLong(p.get("ts_ns")), p.get("src").equals(client) ? 1 : 0});
      } else {
        boolean fromClient = open.remove(key + "/1");
        open.remove(key + "/0");
        out.add(new long[] {Long.parseLong(p.get("ts_ns")), fromClient ? 1 : 0});
      }
    }
    return out;
  }
}
