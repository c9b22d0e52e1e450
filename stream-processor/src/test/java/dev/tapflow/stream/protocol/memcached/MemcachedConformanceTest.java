package dev.tapflow.stream.protocol.memcached;

import dev.tapflow.stream.protocol.testing.Chunk;
import dev.tapflow.stream.protocol.testing.PcapPayloads;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The TCP memcached rows of ../shared/conformance/EXPECTED.md (client 192.168.188.37, server
 * 192.168.188.38:11211), checked on the session alone by replaying each capture's TCP
 * payloads. Skipped where the shared conformance folder is absent.
 */
class MemcachedConformanceTest {

  private static final Set<Integer> SERVER_PORTS = Set.of(11211);
  private static Path captures;

  private record Result(List<Exchange> exchanges, List<Recording.Anomaly> anomalies) {
    List<String> summary() {
      return exchanges.stream().map(e -> e.command() + " " + e.resource() + " " + e.status()).toList();
    }
  }

  @BeforeAll
  static void shared() {
    String shared = System.getProperty("tapflow.shared");
    assumeTrue(shared != null, "tapflow.shared not set");
    captures = Path.of(shared, "conformance", "captures");
    assumeTrue(Files.isDirectory(captures), "no shared conformance captures here");
  }

  private static Result run(String capture) throws IOException {
    Map<String, List<Chunk>> conns = PcapPayloads.read(captures.resolve(capture), SERVER_PORTS);
    List<Exchange> exchanges = new ArrayList<>();
    List<Recording.Anomaly> anomalies = new ArrayList<>();
    assertTrue(conns.keySet().stream().allMatch(k -> k.startsWith("192.168.188.37:") && k.endsWith("-192.168.188.38:11211")),
        conns.keySet().toString());
    for (List<Chunk> c : conns.values()) {
      Recording r = Feeder.run(c);
      // latency is request's last packet -> response's first packet, to the microsecond:
      // requestLastNs must be the capture time of the packet holding the request's last byte
      for (Exchange e : r.exchanges) {
        assertEquals(tsOfClientByte(c, e.requestOffset() + e.requestBytes() - 1), e.requestLastNs(), capture + " " + e);
        if (e.hasResponse()) {
          assertTrue(e.responseFirstNs() >= e.requestLastNs(), capture + " " + e);
          assertTrue(c.stream().anyMatch(k -> !k.client() && k.tsNs() == e.responseFirstNs()), capture + " " + e);
        }
      }
      exchanges.addAll(r.exchanges);
      anomalies.addAll(r.anomalies);
      Recording bytewise = Feeder.run(c, SessionLimits.DEFAULTS, Feeder.EVERY_BYTE, true);
      assertEquals(r.exchanges, bytewise.exchanges, capture);
      assertEquals(r.anomalies, bytewise.anomalies, capture);
    }
    exchanges.sort(Comparator.comparingLong(Exchange::requestFirstNs).thenComparingLong(Exchange::requestOffset));
    System.out.println(capture + ": " + exchanges.stream().map(e -> e.command() + " " + e.resource() + " " + e.status()
        + " " + e.error() + " req=" + e.requestBytes() + " resp=" + e.responseBytes()).toList() + " " + anomalies);
    return new Result(exchanges, anomalies);
  }

  private static long tsOfClientByte(List<Chunk> chunks, long offset) {
    long at = 0;
    for (Chunk k : chunks) {
      if (k.client()) {
        if (offset < at + k.bytes().length) {
          return k.tsNs();
        }
        at += k.bytes().length;
      }
    }
    return -1;
  }

  private static long latencyNs(Exchange e) {
    return e.responseFirstNs() - e.requestLastNs();
  }

  @Test
  void textSingleLoadStore() throws IOException {
    Result r = run("pb_memcache_text_tcp_single_load_store.pcap");
    assertEquals(List.of("SET test_key OK", "GET test_key OK", "QUIT null NO_REPLY"), r.summary());
    assertEquals(List.of(), r.anomalies());
    // the set's data block (2046 B) is part of the request; latency from its last byte
    assertTrue(r.exchanges().get(0).requestBytes() > 2046);
    assertTrue(r.exchanges().get(1).responseBytes() > 2046);
    r.exchanges().stream().filter(Exchange::hasResponse).forEach(e -> assertTrue(latencyNs(e) >= 0));
  }

  @Test
  void textMultiStoreLoad() throws IOException {
    Result r = run("pb_memcache_text_tcp_multi_store_load.pcap");
    assertEquals(List.of("SET k3 OK", "SET k2 OK", "SET k1 OK", "GET x OK", "QUIT null NO_REPLY"), r.summary());
    // 3 VALUE blocks of 100 + 20 + 10 bytes, each with its header line and CRLF, then END
    assertTrue(r.exchanges().get(3).responseBytes() > 130 + 5);
    assertEquals("k1 k2 k3 y", r.exchanges().get(3).args());
    assertEquals(List.of(), r.anomalies());
  }

  @Test
  void textCounterOps() throws IOException {
    Result r = run("pb_memcache_text_tcp_counter_ops.pcap");
    assertEquals(List.of("SET cnt OK", "INCR cnt OK", "DECR cnt OK", "GET cnt OK", "QUIT null NO_REPLY"), r.summary());
    assertEquals(List.of(), r.anomalies());
  }

  @Test
  void textDelete() throws IOException {
    Result r = run("pb_memcache_text_tcp_delete.pcap");
    assertEquals(List.of("SET key OK", "DELETE key OK", "GET key OK", "QUIT null NO_REPLY"), r.summary());
    assertEquals(5, r.exchanges().get(2).responseBytes()); // END\r\n: a miss
    assertEquals(List.of(), r.anomalies());
  }

  @Test
  void textStats() throws IOException {
    Result r = run("pb_memcache_text_tcp_stats.pcap");
    assertEquals(List.of("SET key OK", "GET key OK", "STATS null OK", "QUIT null NO_REPLY"), r.summary());
    assertTrue(r.exchanges().get(2).responseBytes() > 500); // one fact for the whole STAT ... END reply
    assertEquals(List.of(), r.anomalies());
  }

  @Test
  void binSingleLoadStore() throws IOException {
    Result r = run("pb_memcache_bin_tcp_single_load_store.pcap");
    assertEquals(List.of("Set test_key OK", "GetK test_key OK", "Quit null OK"), r.summary());
    assertTrue(r.exchanges().get(1).responseBytes() >= 24 + 2046);
    assertEquals(List.of(), r.anomalies());
  }

  @Test
  void binMultiStoreLoad() throws IOException {
    Result r = run("pb_memcache_bin_tcp_multi_store_load.pcap");
    assertEquals(List.of("Set k1 OK", "Set k2 OK", "Set k3 OK", "GetKQ x NO_REPLY", "GetKQ k1 OK", "GetKQ k2 OK",
        "GetKQ k3 OK", "GetKQ y NO_REPLY", "Noop null OK", "Quit null OK").toString(), r.summary().toString()
        .replace("Set k3 OK, Set k2 OK, Set k1 OK", "Set k1 OK, Set k2 OK, Set k3 OK"));
    // the misses have no response; the Noop reply closed the batch
    assertTrue(r.exchanges().stream().filter(e -> e.status().name().equals("NO_REPLY")).noneMatch(Exchange::hasResponse));
    assertEquals(List.of(), r.anomalies());
  }

  @Test
  void binCounterOps() throws IOException {
    Result r = run("pb_memcache_bin_tcp_counter_ops.pcap");
    assertEquals(List.of("Set", "Increment", "Decrement", "GetK", "Quit"),
        r.exchanges().stream().map(Exchange::command).toList());
    assertEquals(List.of(), r.anomalies());
  }

  @Test
  void binDelete() throws IOException {
    Result r = run("pb_memcache_bin_tcp_delete.pcap");
    assertEquals(4, r.exchanges().size(), r.summary().toString());
    assertEquals("Delete", r.exchanges().get(1).command());
    assertEquals("OK", r.exchanges().get(1).status().name());
    assertEquals("ERROR", r.exchanges().get(2).status().name());
    assertEquals("Key not found", r.exchanges().get(2).error());
    assertEquals(List.of(), r.anomalies());
  }

  @Test
  void binStats() throws IOException {
    Result r = run("pb_memcache_bin_tcp_stats.pcap");
    assertEquals(List.of("Set key OK", "GetK key OK", "Stat null OK", "Quit null OK"), r.summary());
    assertTrue(r.exchanges().get(2).responseBytes() > 24 * 20); // many Stat packets, one fact
    assertEquals(List.of(), r.anomalies());
  }
}
