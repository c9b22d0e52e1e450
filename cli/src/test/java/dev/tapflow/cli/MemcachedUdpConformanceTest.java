package dev.tapflow.cli;

import static dev.tapflow.cli.SharedCaptures.analyze;
import static dev.tapflow.cli.SharedCaptures.anomalyNames;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The memcached UDP rows of {@code ../shared/conformance/EXPECTED.md} (client 192.168.188.37,
 * server 192.168.188.38:11211): "UDP (8-byte frame header); every request is noreply/quiet:
 * 1, 3, 2 and 3 facts with no response, none of them a timeout". The commands and keys are
 * what the captures' datagrams carry (tcpdump -X). Skipped where {@code ../shared} is absent.
 */
class MemcachedUdpConformanceTest {

  @BeforeEach
  void requireConformanceCaptures() {
    SharedCaptures.assumePresent();
  }

  static Stream<Arguments> rows() {
    return Stream.of(
        Arguments.of("pb_memcache_text_udp_single_store.pcap", List.of("SET test_key")),
        Arguments.of("pb_memcache_text_udp_multi_store.pcap", List.of("SET k3", "SET k2", "SET k1")),
        Arguments.of("pb_memcache_text_udp_delete.pcap", List.of("SET key", "DELETE key")),
        Arguments.of("pb_memcache_text_udp_counter_ops.pcap", List.of("SET cnt", "INCR cnt", "DECR cnt")),
        Arguments.of("pb_memcache_bin_udp_single_store.pcap", List.of("SetQ test_key")),
        Arguments.of("pb_memcache_bin_udp_multi_store.pcap", List.of("SetQ k3", "SetQ k2", "SetQ k1")),
        Arguments.of("pb_memcache_bin_udp_delete.pcap", List.of("SetQ key", "DeleteQ key")),
        Arguments.of("pb_memcache_bin_udp_counter_ops.pcap", List.of("SetQ cnt", "IncrementQ cnt", "DecrementQ cnt")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rows")
  void everyRequestIsAFactWithNoResponseAndNoneATimeout(String capture, List<String> requests) {
    Analyzer.Result r = analyze(capture);
    List<LatencyFact> facts = r.facts();
    assertEquals(requests, facts.stream().map(f -> f.getCommand() + " " + f.getResource()).toList());
    for (int i = 0; i < facts.size(); i++) {
      LatencyFact f = facts.get(i);
      String id = SharedCaptures.describe(f);
      assertEquals("memcached", f.getProtocol(), id);
      assertEquals("192.168.188.37", f.getClientIp(), id);
      assertEquals("192.168.188.38", f.getServerIp(), id);
      assertEquals(11211, f.getServerPort(), id);
      assertEquals(Status.NO_REPLY, f.getStatus(), id);
      assertNull(f.getResponseFirstNs(), id);
      assertEquals("none", f.getPairing(), id);
      assertEquals("udp", f.getDetail().get("transport"), id);
      assertEquals(Integer.toString(i + 1), f.getDetail().get("request_id"), "request ids 1, 2, 3 in the frames");
      assertEquals(i + 1, f.getRequestOffset(), "the request datagram's packet number");
    }
    assertEquals(List.of(), anomalyNames(r));
  }
}
