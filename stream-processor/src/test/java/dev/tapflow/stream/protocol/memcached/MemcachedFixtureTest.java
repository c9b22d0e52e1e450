package dev.tapflow.stream.protocol.memcached;

import dev.tapflow.stream.protocol.testing.Chunk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * Real memcached traffic recorded by scripts/record-memcached-fixtures.py: facts agree with
 * memcached's own stats deltas, and feeding the bytes whole, byte by byte, split at every
 * offset, or with the state saved and restored after every piece gives identical results.
 */
class MemcachedFixtureTest {

  private static final Set<String> SETS = Set.of("SET", "ADD", "REPLACE", "APPEND", "PREPEND", "CAS", "MS",
      "Set", "SetQ", "Add", "AddQ", "Replace", "ReplaceQ", "Append", "AppendQ", "Prepend", "PrependQ");
  private static final Set<String> DELETES = Set.of("DELETE", "MD", "Delete", "DeleteQ");
  private static final Set<String> ARITH = Set.of("INCR", "DECR", "MA", "Increment", "Decrement", "IncrementQ",
      "DecrementQ");
  private static final Set<String> TOUCHES = Set.of("TOUCH", "Touch");

  private static List<Chunk> only(String name) throws IOException {
    Map<String, List<Chunk>> conns = MemcachedFixtures.load(name);
    assertEquals(1, conns.size());
    return conns.values().iterator().next();
  }

  private static long count(Recording r, Set<String> commands, boolean withoutErrors) {
    return r.exchanges.stream()
        .filter(e -> commands.contains(e.command()) && !(withoutErrors && e.status() == FactStatus.ERROR)).count();
  }

  @ParameterizedTest
  @ValueSource(strings = {"text", "binary"})
  void factsAgreeWithServerStats(String name) throws IOException {
    Recording r = Feeder.run(only(name));
    Map<String, Long> t = MemcachedFixtures.truth(name);
    assertEquals(t.get("get_hits"), r.hits, "get_hits");
    assertEquals(t.get("get_misses"), r.misses, "get_misses");
    assertEquals(t.get("cmd_get"), r.hits + r.misses, "cmd_get");
    assertEquals(t.get("cmd_set"), count(r, SETS, false), "cmd_set");
    assertEquals(t.get("delete_hits") + t.get("delete_misses"), count(r, DELETES, false), "deletes");
    assertEquals(t.get("incr_hits") + t.get("incr_misses") + t.get("decr_hits") + t.get("decr_misses"),
        count(r, ARITH, true), "incr/decr");
    assertEquals(t.get("cmd_touch"), count(r, TOUCHES, false), "touch");
    assertTrue(r.exchanges.stream().noneMatch(e -> e.status() == FactStatus.TIMEOUT), r.summary().toString());
    r.exchanges.stream().filter(Exchange::hasResponse)
        .forEach(e -> assertTrue(e.responseFirstNs() >= e.requestLastNs(), e.toString()));
  }

  @Test
  void textFacts() throws IOException {
    Recording r = Feeder.run(only("text"));
    assertEquals(List.of("MEMCACHED_UNKNOWN_COMMAND"), r.anomalyNames());
    List<String> s = r.summary();
    assertEquals(List.of(
        "SET OK", "SET OK", "ADD OK", "GET OK", "GETS OK", "SET NO_REPLY", "DELETE NO_REPLY", "GET OK", "APPEND OK",
        "SET OK", "INCR OK", "DECR OK", "INCR OK", "TOUCH OK", "DELETE OK", "DELETE OK", "GET OK", "VERSION OK",
        "VERBOSITY OK", "BOGUS ERROR", "INCR ERROR", "STATS OK", "GET OK", "GET OK", "GET OK",
        "MS OK", "MG OK", "MG OK", "MG OK", "MA OK", "MN OK",
        // without opaques the NF of "md mmiss q" is taken by the quiet "md mk2 q" before it (documented ambiguity)
        "MG OK", "MG NO_REPLY", "MS NO_REPLY", "MD OK", "MD NO_REPLY", "MN OK",
        // with opaques (O1..O4) the NF O3 finds its request
        "MS NO_REPLY", "MD NO_REPLY", "MD OK", "MG NO_REPLY", "MN OK",
        "MD OK", "QUIT NO_REPLY"), s);
    assertEquals("mmiss", r.exchanges.get(39).resource());
    assertTrue(r.exchanges.get(39).hasResponse());
    Exchange multiGet = r.exchanges.get(3);
    assertEquals("x", multiGet.resource());
    assertEquals("k1 k2 y", multiGet.args());
    // noreply requests take no response
    assertFalse(r.exchanges.get(5).hasResponse());
    assertEquals("ERROR", r.exchanges.get(19).error());
    assertTrue(r.exchanges.get(20).error().startsWith("CLIENT_ERROR"));
  }

  @Test
  void binaryFacts() throws IOException {
    Recording r = Feeder.run(only("binary"));
    assertEquals(List.of(), r.anomalyNames());
    assertEquals(List.of(
        "Set OK", "Set OK", "Set OK", "GetK OK", "Get ERROR",
        "GetKQ NO_REPLY", "GetKQ OK", "GetKQ OK", "GetKQ NO_REPLY", "Noop OK",
        "SetQ NO_REPLY", "DeleteQ ERROR", "Noop OK",
        "Set OK", "Increment OK", "Decrement OK", "Delete OK", "Delete ERROR", "Stat OK", "Version OK", "Quit OK"),
        r.summary());
    assertEquals("Key not found", r.exchanges.get(4).error());
    assertEquals("k3", r.exchanges.get(3).resource());
    assertTrue(r.exchanges.get(3).responseBytes() >= 24 + 2046);
  }

  @ParameterizedTest
  @ValueSource(strings = {"text", "binary"})
  void sameResultHoweverTheBytesArrive(String name) throws IOException {
    List<Chunk> chunks = only(name);
    Recording whole = Feeder.run(chunks);
    Recording bytewise = Feeder.run(chunks, SessionLimits.DEFAULTS, Feeder.EVERY_BYTE, false);
    assertEquals(whole.exchanges, bytewise.exchanges);
    assertEquals(whole.anomalies, bytewise.anomalies);
    Recording restored = Feeder.run(chunks, SessionLimits.DEFAULTS, Feeder.EVERY_BYTE, true);
    assertEquals(whole.exchanges, restored.exchanges);
    assertEquals(whole.anomalies, restored.anomalies);
    assertEquals(whole.hits, restored.hits);
    Feeder.assertSameAtEverySplit(chunks, whole, k -> true);
  }
}
