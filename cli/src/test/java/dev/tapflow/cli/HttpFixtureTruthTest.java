package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The HTTP/1.1 plug-in on real traffic ({@code protocol-http/src/test/resources/pcap/http/},
 * made by {@code scripts/capture-http.sh}): nginx driven by curl, wrk and python3 sockets
 * (keep-alive, pipelining, HEAD, chunked bodies both ways, Expect: 100-continue, a 101 upgrade
 * followed by non-HTTP bytes). Truth is nginx's access log, one line per request: the facts are
 * exactly its lines (method, path, status), each answered where nginx logged it, and the plug-in
 * runs through the same registry and engine as the built-ins ({@code tapflow analyze}).
 */
class HttpFixtureTruthTest {

  private static final Path FIXTURE = Path.of("..", "protocol-http", "src", "test", "resources", "pcap", "http");
  /**
   * nginx's clock ($msec, $request_time) is read once per event-loop turn, so it lags work done
   * within one turn (gzip of a 20 KB file took 5.8 ms on the wire with $request_time 0.000)
   */
  private static final long LOG_SLACK_NS = 10_000_000L;

  private static List<Map<String, String>> log;
  private static Analyzer.Result result;

  @BeforeAll
  static void analyse() throws Exception {
    log = TsvRows.read(FIXTURE.resolve("http.access.tsv"));
    result = new Analyzer(ProcessorConfig.defaults()).analyze(List.of(FIXTURE.resolve("http.pcap")), null);
  }

  private static String key(String method, String uri, String status) {
    return method + " " + uri + " " + status;
  }

  @Test
  void oneFactPerAccessLogLineWithItsMethodPathAndStatus() {
    assertTrue(log.size() > 200, "the fixture has the wrk run");
    Map<String, Integer> expected = new TreeMap<>();
    for (Map<String, String> l : log) {
      expected.merge(key(l.get("method"), l.get("uri"), l.get("status")), 1, Integer::sum);
    }
    Map<String, Integer> actual = new TreeMap<>();
    for (LatencyFact f : result.facts()) {
      assertEquals("http", f.getProtocol(), SharedCaptures.describe(f));
      assertEquals(80, f.getServerPort());
      String path = f.getResource().substring(f.getCommand().length() + 1);
      assertEquals(f.getCommand() + " " + path, f.getResource(), "resource = method + path");
      actual.merge(key(f.getCommand(), path, f.getDetail().get("status_code")), 1, Integer::sum);
      int code = Integer.parseInt(f.getDetail().get("status_code"));
      assertEquals(code >= 400 ? Status.ERROR : Status.OK, f.getStatus(), SharedCaptures.describe(f));
      assertFalse(f.getLoss(), SharedCaptures.describe(f));
    }
    assertEquals(expected, actual);
    assertEquals(log.size(), result.facts().size());
    assertEquals(List.of(), SharedCaptures.anomalyNames(result), "no anomalies on clean traffic");
  }

  /**
   * Matched per (method, path, status) in time order: nginx logged the request ($msec, ms
   * resolution) between the response's first and last packets, and the latency is within nginx's own
   * $request_time (which counts from the request's first byte). A 101 is logged when the
   * upgraded connection closes, so only its count is checked.
   */
  @Test
  void answeredWhereNginxLoggedIt() {
    Map<String, List<LatencyFact>> facts = new TreeMap<>();
    for (LatencyFact f : result.facts()) {
      facts.computeIfAbsent(key(f.getCommand(), f.getResource().substring(f.getCommand().length() + 1),
          f.getDetail().get("status_code")), k -> new ArrayList<>()).add(f);
    }
    facts.values().forEach(l -> l.sort(Comparator.comparingLong(LatencyFact::getResponseLastNs)));
    Map<String, Integer> used = new TreeMap<>();
    List<Map<String, String>> ordered = new ArrayList<>(log);
    ordered.sort(Comparator.comparing(l -> Double.parseDouble(l.get("msec"))));
    int checked = 0;
    for (Map<String, String> l : ordered) {
      String k = key(l.get("method"), l.get("uri"), l.get("status"));
      int i = used.merge(k, 1, Integer::sum) - 1;
      LatencyFact f = facts.get(k).get(i);
      if (l.get("status").equals("101")) {
        continue;
      }
      long loggedNs = Math.round(Double.parseDouble(l.get("msec")) * 1000) * 1_000_000L;
      String id = l + " vs " + SharedCaptures.describe(f);
      // nginx logs once its last write is accepted by the socket: the response has begun by then, and its
      // last packet leaves no earlier (a large body leaves the send buffer later, at the peer's pace)
      assertTrue(f.getResponseFirstNs() <= loggedNs + LOG_SLACK_NS, id + " first=" + f.getResponseFirstNs());
      assertTrue(f.getResponseLastNs() >= loggedNs - LOG_SLACK_NS, id + " last=" + f.getResponseLastNs());
      long requestTimeNs = Math.round(Double.parseDouble(l.get("request_time")) * 1000) * 1_000_000L;
      assertTrue(f.getLatencyNs() >= 0 && f.getLatencyNs() <= requestTimeNs + LOG_SLACK_NS, id);
      checked++;
    }
    assertEquals(log.size() - 1, checked);
  }

  @Test
  void interimHeadChunkedUpgradeAndNoSecrets() {
    for (LatencyFact f : result.facts()) {
      String r = f.getResource();
      Map<String, String> d = f.getDetail();
      String all = f.toString();
      assertFalse(all.contains("secret") || all.contains("dGFwZmxvdzpzZWNyZXQ") || all.contains("page=2"), all);
      if (r.equals("PUT /echo/upload") || r.equals("POST /echo/continue")) {
        assertEquals("100", d.get("interim"), "the 100 Continue is not the answer: " + d);
        assertEquals("100-continue", d.get("expect"));
      } else {
        assertFalse(d.containsKey("interim"), SharedCaptures.describe(f));
      }
      if (f.getCommand().equals("HEAD")) {
        assertEquals("0", d.get("body_bytes"));
      }
      if (r.equals("GET /ws")) {
        assertEquals("101", d.get("status_code"));
        assertEquals("websocket", d.get("upgrade"));
      }
      if (r.equals("GET /300k.txt")) {
        assertTrue(Long.parseLong(d.get("body_bytes")) > 300_000, d.toString());
      }
    }
    assertTrue(result.facts().stream().anyMatch(f -> "true".equals(f.getDetail().get("chunked"))), "gzip: chunked");
    assertEquals(10, result.facts().stream().filter(f -> f.getResource().startsWith("GET /missing-9")
        || f.getResource().equals("GET /index.html") && f.getClientPort() == pipelinedPort()).count(),
        "the 10 pipelined requests");
  }

  private static int pipelinedPort() {
    return result.facts().stream().filter(f -> f.getResource().equals("GET /missing-9")).findFirst().orElseThrow()
        .getClientPort();
  }
}
