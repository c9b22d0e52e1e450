package dev.tapflow.stream.protocol.redis;

import dev.tapflow.stream.protocol.testing.Chunk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Real traffic recorded by scripts/record-resp-fixtures.py (redis-server, redis-cli,
 * redis-benchmark and raw-socket clients): what each fixture must decode to, and that the
 * result does not depend on how the bytes are cut or on state round-trips.
 */
class RedisFixtureTest {

  /** Exchanges in request order (NO_REPLY ones are reported at once, before older pending ones). */
  private static List<String> inRequestOrder(Recording r) {
    return r.exchanges.stream().sorted(Comparator.comparingLong(Exchange::requestOffset))
        .map(e -> e.command() + " " + e.status()).toList();
  }

  private static Recording only(String fixture) throws IOException {
    Map<String, List<Chunk>> conns = RespFixtures.load(fixture);
    assertEquals(1, conns.size(), fixture + " has one connection");
    return Feeder.run(conns.values().iterator().next());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "resp2-redis-cli", "resp2-auth", "resp3-redis-cli", "resp3-push-attrib", "inline-quotes",
      "client-reply", "pubsub-resp2", "pubsub-resp3", "benchmark", "benchmark-pipelined"})
  void sameExchangesWholeByteByByteAndRoundTripped(String fixture) throws IOException {
    for (List<Chunk> conn : RespFixtures.load(fixture).values()) {
      Recording whole = Feeder.run(conn);
      assertFalse(whole.exchanges.isEmpty());
      Recording bytewise = Feeder.run(conn, Feeder.LIMITS, Feeder.EVERY_BYTE, false);
      assertEquals(whole.exchanges, bytewise.exchanges, fixture + " byte by byte");
      assertEquals(whole.anomalies, bytewise.anomalies, fixture + " byte by byte");
      Recording restored = Feeder.run(conn, Feeder.LIMITS, Feeder.EVERY_BYTE, true);
      assertEquals(whole.exchanges, restored.exchanges, fixture + " byte by byte, state restored after every byte");
      assertEquals(whole.anomalies, restored.anomalies, fixture + " state restored");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "resp2-redis-cli", "resp2-auth", "resp3-redis-cli", "resp3-push-attrib", "inline-quotes",
      "client-reply", "pubsub-resp2", "pubsub-resp3", "benchmark", "benchmark-pipelined"})
  void sameExchangesSplitAtEveryOffset(String fixture) throws IOException {
    for (List<Chunk> conn : RespFixtures.load(fixture).values()) {
      Recording whole = Feeder.run(conn);
      long size = Feeder.bytes(conn, true) + Feeder.bytes(conn, false);
      // every offset of small connections; a spread of offsets of the large ones (quadratic otherwise)
      int stride = size <= 20_000 ? 1 : (int) (size / 1500) | 1;
      Feeder.assertSameAtEverySplit(conn, whole, k -> k % stride == 0 || k < 64);
    }
  }

  @Test
  void resp2RedisCli() throws IOException {
    Recording r = only("resp2-redis-cli");
    assertEquals(List.of("COMMAND OK", "SET OK", "GET OK", "GET OK", "LPUSH OK", "LRANGE OK", "LLEN ERROR",
        "HSET OK", "HGETALL OK", "INCR OK", "MGET OK", "MULTI OK", "INCR OK", "GET OK", "EXEC OK", "SET OK",
        "GET OK", "EXPIRE OK", "TTL OK", "NOSUCHCOMMAND ERROR", "DEL OK"), r.summary());
    assertTrue(r.anomalies.isEmpty(), r.anomalies.toString());
    Exchange commandDocs = r.exchanges.get(0);
    assertTrue(commandDocs.responseBytes() > 150_000, "COMMAND DOCS reply spans several chunks");
    Exchange set = r.exchanges.get(1);
    assertEquals("greeting", set.resource());
    assertEquals("hello", set.args());
    assertEquals(27, set.requestOffset(), "after the 27-byte COMMAND DOCS request");
    Exchange nil = r.exchanges.get(3);
    assertEquals("missing", nil.resource());
    assertNull(nil.error());
    Exchange llen = r.exchanges.get(6);
    assertEquals("WRONGTYPE Operation against a key holding the wrong kind of value", llen.error());
    Exchange big = r.exchanges.get(15);
    assertEquals("big", big.resource());
    assertEquals(Feeder.LIMITS.maxArgBytes() + 3, big.args().length(), "value cut at maxArgBytes, then ...");
    assertTrue(big.args().endsWith("..."));
    assertEquals(3031, big.requestBytes());
    for (Exchange e : r.exchanges) {
      assertTrue(e.responseFirstNs() >= e.requestLastNs(), "latency is never negative");
    }
  }

  @Test
  void credentialsNeverAppearInAnyField() throws IOException {
    Recording r = only("resp2-auth");
    assertEquals(List.of("AUTH ERROR", "AUTH OK", "AUTH ERROR", "HELLO OK", "CONFIG OK", "MIGRATE OK", "ACL OK",
        "PING OK"), r.summary());
    for (Exchange e : r.exchanges) {
      for (String field : new String[] {e.command(), e.resource(), e.args(), e.error()}) {
        assertFalse(field != null && field.contains("s3cr3t"), "secret leaked in " + e);
      }
    }
    for (Recording.Anomaly a : r.anomalies) {
      assertFalse(a.detail() != null && a.detail().contains("s3cr3t"));
    }
    assertEquals("<redacted> <redacted>", r.exchanges.get(0).args());
    assertNull(r.exchanges.get(0).resource());
    assertEquals("2 AUTH <redacted> <redacted> SETNAME conn1", r.exchanges.get(3).args());
    assertEquals("SET masterauth <redacted>", r.exchanges.get(4).args());
    assertEquals("127.0.0.1", r.exchanges.get(5).resource(), "MIGRATE's first argument");
    assertEquals("1 k 0 100 AUTH <redacted>", r.exchanges.get(5).args());
    assertEquals("SETUSER bob on <redacted> ~*", r.exchanges.get(6).args());
  }

  @Test
  void resp3RepliesPushesAndAttributes() throws IOException {
    Recording r = only("resp3-redis-cli");
    assertEquals(List.of("HELLO OK", "HSET OK", "HGETALL OK", "SADD OK", "SMEMBERS OK", "ZADD OK", "ZRANGE OK",
        "DEBUG OK", "DEBUG OK", "DEBUG OK", "DEBUG OK", "DEBUG OK", "DEBUG OK", "CLIENT OK", "GET OK", "SET OK",
        "GET OK", "DEL OK", "DEBUG OK"), r.summary());
    assertTrue(r.anomalies.isEmpty(), r.anomalies.toString());
    assertEquals(5, r.exchanges.get(15).responseBytes(), "SET's +OK; the invalidation push after it is no reply");
    assertEquals(93, r.exchanges.get(18).responseBytes(), "the attribute belongs to the reply it precedes");

    Recording p = only("resp3-push-attrib");
    assertEquals(List.of("HELLO OK", "DEBUG OK", "DEBUG OK", "DEBUG OK", "PING OK", "DEBUG OK", "DEBUG OK",
        "DEBUG OK", "PING OK"), p.summary());
    assertTrue(p.anomalies.isEmpty(), p.anomalies.toString());
    assertEquals(47, p.exchanges.get(1).responseBytes(), "push frame skipped: the reply is the bulk after it");
    assertEquals("PROTOCOL push", p.exchanges.get(1).args());
  }

  @Test
  void inlineCommandsAndQuotes() throws IOException {
    Recording r = only("inline-quotes");
    assertEquals(List.of("PING OK", "SET OK", "GET OK", "ECHO OK", "ECHO ERROR", "SET OK", "GET OK", "SET ERROR",
        "GET TIMEOUT"), r.summary());
    assertEquals("a bA\\x0a", r.exchanges.get(1).args(), "\\x41 and \\n unescaped, then rendered safely");
    assertEquals("it's", r.exchanges.get(3).args());
    assertEquals("x y", r.exchanges.get(4).args());
    assertEquals("single quoted value", r.exchanges.get(5).args());
    Exchange bad = r.exchanges.get(7);
    assertEquals("bad", bad.resource());
    assertEquals("\"unclosed double", bad.args());
    assertEquals("ERR Protocol error: unbalanced quotes in request", bad.error());
    assertEquals(List.of(RespDecoder.UNBALANCED_QUOTES), r.anomalyNames());
  }

  @Test
  void clientReplyOffOnSkip() throws IOException {
    Recording r = only("client-reply");
    List<String> once = List.of("PING OK", "CLIENT NO_REPLY", "PING NO_REPLY", "SET NO_REPLY", "CLIENT OK",
        "PING OK", "CLIENT NO_REPLY", "GET NO_REPLY", "PING OK", "CLIENT NO_REPLY", "CLIENT NO_REPLY",
        "CLIENT OK", "PING OK");
    List<String> twice = new ArrayList<>(once);
    twice.addAll(once); // one by one, then pipelined in one write
    assertEquals(twice, inRequestOrder(r));
    assertTrue(r.anomalies.isEmpty(), r.anomalies.toString());
    assertEquals("REPLY OFF", r.exchanges.get(1).args());
    assertNull(r.exchanges.get(1).resource());
  }

  @Test
  void pubSubResp2() throws IOException {
    Map<String, List<Chunk>> conns = RespFixtures.load("pubsub-resp2");
    List<List<String>> results = new ArrayList<>();
    for (List<Chunk> c : conns.values()) {
      Recording r = Feeder.run(c);
      assertTrue(r.anomalies.isEmpty(), r.anomalies.toString());
      results.add(inRequestOrder(r));
    }
    assertEquals(List.of(
        List.of("SUBSCRIBE NO_REPLY", "PSUBSCRIBE NO_REPLY", "PING OK", "UNSUBSCRIBE NO_REPLY",
            "PUNSUBSCRIBE NO_REPLY", "UNSUBSCRIBE NO_REPLY", "GET OK", "SUBSCRIBE NO_REPLY", "RESET OK", "GET OK"),
        List.of("PUBLISH OK", "PUBLISH OK", "PUBLISH OK")), results);
  }

  @Test
  void pubSubResp3() throws IOException {
    Map<String, List<Chunk>> conns = RespFixtures.load("pubsub-resp3");
    List<List<String>> results = new ArrayList<>();
    for (List<Chunk> c : conns.values()) {
      Recording r = Feeder.run(c);
      assertTrue(r.anomalies.isEmpty(), r.anomalies.toString());
      results.add(inRequestOrder(r));
    }
    assertEquals(List.of(
        List.of("HELLO OK", "SUBSCRIBE NO_REPLY", "PSUBSCRIBE NO_REPLY", "PING OK", "GET OK", "UNSUBSCRIBE NO_REPLY",
            "PUNSUBSCRIBE NO_REPLY", "UNSUBSCRIBE NO_REPLY", "GET OK", "SUBSCRIBE NO_REPLY", "RESET OK", "GET OK"),
        List.of("PUBLISH OK", "PUBLISH OK", "PUBLISH OK")), results);
  }

  @ParameterizedTest
  @ValueSource(strings = {"benchmark", "benchmark-pipelined"})
  void benchmarkFactsMatchCommandStats(String fixture) throws IOException {
    Map<String, Long> facts = new TreeMap<>();
    for (List<Chunk> c : RespFixtures.load(fixture).values()) {
      Recording r = Feeder.run(c);
      assertTrue(r.anomalies.isEmpty(), r.anomalies.toString());
      for (Exchange e : r.exchanges) {
        assertEquals(FactStatus.OK, e.status(), e.toString());
        assertTrue(e.responseFirstNs() >= e.requestLastNs());
        facts.merge(e.command(), 1L, Long::sum);
      }
    }
    assertEquals(new TreeMap<>(RespFixtures.truth(fixture)), facts);
  }
}
