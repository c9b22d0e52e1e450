package dev.tapflow.stream.protocol.redis;

import dev.tapflow.stream.protocol.testing.Chunk;
import dev.tapflow.stream.protocol.testing.PcapPayloads;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Redis rows of ../shared/conformance/EXPECTED.md, checked on the session alone: each
 * capture's TCP payloads (clean, in-order captures) are replayed per connection. Skipped
 * where the shared conformance folder is absent (a user's clone). The lead runs the full
 * pipeline on the same captures.
 */
class RedisConformanceTest {

  private static final Set<Integer> SERVER_PORTS = Set.of(6379, 6380, 10625, 80);
  private static Path captures;

  /** Everything a capture produced, over all its connections. */
  private record Result(List<Exchange> exchanges, List<Recording.Anomaly> anomalies) {
    List<String> summary() {
      return exchanges.stream().map(e -> e.command() + " " + e.status()).toList();
    }

    long latencyMicros(int i) {
      Exchange e = exchanges.get(i);
      return (e.responseFirstNs() - e.requestLastNs()) / 1000;
    }

    List<String> anomalyNames() {
      return anomalies.stream().map(Recording.Anomaly::name).toList();
    }
  }

  @BeforeAll
  static void shared() {
    String shared = System.getProperty("tapflow.shared");
    assumeTrue(shared != null, "tapflow.shared not set");
    captures = Path.of(shared, "conformance", "captures");
    assumeTrue(Files.isDirectory(captures), "no shared conformance captures here");
  }

  /** Replays a capture; exchanges of all connections in request capture order. */
  private static Result run(String capture) throws IOException {
    Map<String, List<Chunk>> conns = PcapPayloads.read(captures.resolve(capture), SERVER_PORTS);
    List<Exchange> exchanges = new ArrayList<>();
    List<Recording.Anomaly> anomalies = new ArrayList<>();
    for (List<Chunk> c : conns.values()) {
      Recording r = Feeder.run(c);
      exchanges.addAll(r.exchanges);
      anomalies.addAll(r.anomalies);
      // whole and byte by byte must agree on real captures too
      Recording bytewise = Feeder.run(c, Feeder.LIMITS, Feeder.EVERY_BYTE, false);
      assertEquals(r.exchanges, bytewise.exchanges, capture);
    }
    exchanges.sort(Comparator.comparingLong(Exchange::requestFirstNs).thenComparingLong(Exchange::requestOffset));
    return new Result(exchanges, anomalies);
  }

  @Test
  void pbRedisSession() throws IOException {
    Result r = run("pb_redis_session.pcap");
    assertEquals(List.of("SET OK", "GET OK", "LLEN ERROR", "LPUSH OK", "LPUSH OK", "LPUSH OK", "LLEN OK",
        "LINDEX OK", "LINDEX OK", "LINDEX OK", "LINDEX OK"), r.summary());
    assertEquals(830, r.latencyMicros(0));
    assertEquals(122, r.latencyMicros(1));
    assertEquals(11898, r.latencyMicros(2));
    assertEquals("ERR Operation against a key holding the wrong kind of value", r.exchanges().get(2).error());
    assertEquals("key3", r.exchanges().get(0).resource());
    assertNull(r.exchanges().get(8).error(), "a nil reply is OK, not an error");
    assertTrue(r.anomalies().isEmpty());
  }

  @Test
  void pbRedisOneTransaction() throws IOException {
    Result r = run("pb_redis_one_transaction.pcap");
    assertEquals(List.of("LINDEX OK"), r.summary());
    assertEquals(466, r.latencyMicros(0));
  }

  @Test
  void zeekSet() throws IOException {
    Result r = run("zeek_redis_set.pcap");
    assertEquals(List.of("SET OK", "SET OK", "SET OK"), r.summary());
    assertEquals(List.of(314L, 236L, 304L), List.of(r.latencyMicros(0), r.latencyMicros(1), r.latencyMicros(2)));
  }

  @Test
  void zeekPipelining() throws IOException {
    assertEquals(List.of("PING OK", "PING OK", "PING OK"), run("zeek_redis_pipelining-example.pcap").summary());
    assertEquals(List.of("PING OK", "PING OK", "SET OK", "GET OK"), run("zeek_redis_pipeline-with-commands.pcap").summary());
    assertEquals(12, run("zeek_redis_excessive-pipelining.pcap").summary().stream().filter("PING OK"::equals).count());
  }

  @Test
  void zeekPipelineQuotes() throws IOException {
    Result r = run("zeek_redis_pipeline-quotes.pcap");
    assertEquals(List.of("SET OK", "SET OK", "SET OK", "SET OK", "SET OK", "SET OK", "SET ERROR", "SET TIMEOUT"),
        r.summary());
    assertEquals(List.of("key", "key2", "key3", "key4", "key5", "key6", "bad1", "bad2"),
        r.exchanges().stream().map(Exchange::resource).toList());
    assertEquals("my value with spaces", r.exchanges().get(0).args());
    assertEquals("my value with \"double\" inners", r.exchanges().get(2).args());
    assertEquals("ERR Protocol error: unbalanced quotes in request", r.exchanges().get(6).error());
  }

  @Test
  void zeekAuthPasswordsNeverAppear() throws IOException {
    Result r = run("zeek_redis_auth.pcap");
    assertEquals(List.of("AUTH ERROR", "AUTH OK", "AUTH ERROR"), r.summary());
    for (Exchange e : r.exchanges()) {
      // (Redis' own error text says "username-password pair": look where arguments go)
      for (String field : new String[] {e.command(), e.resource(), e.args()}) {
        assertFalse(field != null && field.contains("password"), e.toString());
      }
    }
  }

  @Test
  void zeekClientReply() throws IOException {
    List<String> offOn = run("zeek_redis_reply-off-on.pcap").exchanges().stream()
        .sorted(Comparator.comparingLong(Exchange::requestOffset)).map(e -> e.command() + " " + e.status()).toList();
    assertEquals(List.of("PING OK", "CLIENT NO_REPLY", "PING NO_REPLY", "CLIENT OK", "PING OK", "CLIENT NO_REPLY",
        "PING NO_REPLY", "PING OK"), offOn);
    List<String> skip = run("zeek_redis_client-skip-while-off.pcap").exchanges().stream()
        .sorted(Comparator.comparingLong(Exchange::requestOffset)).map(e -> e.command() + " " + e.status()).toList();
    assertEquals(List.of("PING OK", "CLIENT NO_REPLY", "PING NO_REPLY", "CLIENT NO_REPLY", "CLIENT OK", "PING OK",
        "PING OK"), skip);
    Result twoConn = run("zeek_redis_reply-off-on-2conn.pcap");
    assertEquals(6, twoConn.exchanges().size());
    assertTrue(twoConn.anomalies().isEmpty(), twoConn.anomalies().toString());
  }

  @Test
  void zeekStream() throws IOException {
    assertEquals(List.of("XADD OK", "XADD OK", "XADD OK", "XRANGE OK"), run("zeek_redis_stream.pcap").summary());
  }

  @Test
  void zeekPubSub() throws IOException {
    Result r = run("zeek_redis_pubsub.pcap");
    Map<String, Long> counts = new TreeMap<>();
    r.summary().forEach(s -> counts.merge(s, 1L, Long::sum));
    assertEquals(Map.of("PUBLISH OK", 2L, "SET OK", 1L, "SUBSCRIBE NO_REPLY", 1L, "PSUBSCRIBE NO_REPLY", 1L,
        "RESET OK", 1L, "GET OK", 1L), counts);
    assertTrue(r.anomalies().isEmpty(), "the 5 pushes are not replies, and no reply is an orphan");
    Result resp3 = run("zeek_redis_pubsub-resp3.pcap");
    assertTrue(resp3.anomalies().isEmpty(), resp3.anomalies().toString());
    assertTrue(resp3.summary().contains("SUBSCRIBE NO_REPLY"));
    assertTrue(resp3.summary().stream().noneMatch(s -> s.endsWith("TIMEOUT")), resp3.summary().toString());
  }

  @Test
  void zeekAttributes() throws IOException {
    Result r = run("zeek_redis_attr.pcap");
    assertEquals(List.of("FAKE OK", "FAKE2 OK"), r.summary());
    assertTrue(r.anomalies().isEmpty());
  }

  @Test
  void zeekBulkDjangoAndPings() throws IOException {
    Result bulk = run("zeek_redis_bulk-loading.pcap");
    assertEquals(1000, bulk.summary().stream().filter("SET OK"::equals).count());
    // redis-cli --pipe ends a mass insert with ECHO <20 random bytes> and waits for its echo
    assertEquals("ECHO OK", bulk.summary().get(1000));
    assertEquals(1001, bulk.exchanges().size());
    Result django = run("zeek_redis_django-cloud.pcapng");
    assertEquals(152, django.summary().stream().filter("SET OK"::equals).count());
    assertEquals(6, django.summary().stream().filter("GET OK"::equals).count());
    assertEquals(158, django.exchanges().size());
    Result pings = run("zeek_redis_50-pings.pcap");
    assertEquals(54, pings.exchanges().size());
    assertEquals(List.of("AUTH OK", "CLIENT OK", "CLIENT OK"), pings.summary().subList(0, 3));
    assertEquals("QUIT OK", pings.summary().get(53));
    assertEquals(50, pings.summary().stream().filter("PING OK"::equals).count());
    assertEquals("<redacted>", pings.exchanges().get(0).args());
  }

  @Test
  void zeekLargeRequestsResponses() throws IOException {
    Result r = run("zeek_redis_large-requests-responses.pcap");
    assertEquals(List.of("COMMAND OK", "SET OK", "SET OK", "GET OK", "GET OK"), r.summary());
    assertEquals("FIVE_HUNDRED_X", r.exchanges().get(1).resource());
    assertTrue(r.exchanges().get(0).responseBytes() > 100_000);
  }

  @Test
  void zeekAlmostResp() throws IOException {
    Result r = run("zeek_redis_almost-resp.pcap");
    assertEquals(List.of("AUTH OK", "PING OK"), r.summary());
    assertEquals(List.of(RespDecoder.BAD_TYPE), r.anomalyNames(), "what follows is not Redis: one anomaly");
  }

  @Test
  void zeekStartWithServer() throws IOException {
    Result r = run("zeek_redis_start-with-server.pcapng");
    assertEquals(List.of("SET OK"), r.summary());
    assertEquals(List.of(RedisSession.ORPHAN_RESPONSE), r.anomalyNames());
  }

  @Test
  void zeekArrayElementExhaustionIsFineUnderDefaults() throws IOException {
    Result r = run("zeek_redis_array-element-object-exhaustion.pcap");
    assertEquals(List.of("PING OK"), r.summary());
    assertTrue(r.anomalies().isEmpty());
  }

  @Test
  void zeekOssFuzzIsNotClaimedAndDoesNotHurt() throws IOException {
    Map<String, List<Chunk>> conns = PcapPayloads.read(captures.resolve("zeek_redis_oss-fuzz-473580107.pcap"), SERVER_PORTS);
    RedisProtocol redis = new RedisProtocol();
    for (List<Chunk> c : conns.values()) {
      byte[] first = c.get(0).bytes();
      assertEquals(dev.tapflow.protocol.api.Protocol.Probe.NO, redis.probe(first, 0, first.length));
      Recording r = Feeder.run(c, Feeder.LIMITS, Feeder.NONE, true); // forced decode: no crash, bounded
      // the junk is what Redis would take for inline commands; the "server" never answers, so
      // the queue stays at its bound and its overflow is reported once, not per eviction
      assertTrue(r.anomalies.size() < 100, r.anomalies.size() + " anomalies");
    }
  }
}
