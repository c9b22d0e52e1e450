package dev.tapflow.cli;

import static dev.tapflow.cli.SharedCaptures.analyze;
import static dev.tapflow.cli.SharedCaptures.anomalyNames;
import static dev.tapflow.cli.SharedCaptures.describe;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The DNS rows of {@code ../shared/conformance/EXPECTED.md}, run through {@code tapflow
 * analyze}'s engine with default settings, and the facts checked against Zeek's own dns.log
 * baselines for the same captures. Expected values come from EXPECTED.md (counts, types,
 * rcodes, latencies in µs, read off the packet timestamps) and from Zeek's logs (transaction
 * ids, query names and types, rcodes, round-trip times), never from tapflow's output.
 * Skipped where {@code ../shared} is absent.
 */
class DnsConformanceTest {

  /** One EXPECTED row: the capture and the row's claims. */
  record Case(String file, Consumer<Analyzer.Result> expected) {
    @Override
    public String toString() {
      return file;
    }
  }

  @BeforeEach
  void requireConformanceCaptures() {
    SharedCaptures.assumePresent();
  }

  static Stream<Arguments> rows() {
    return Stream.of(
        new Case("pb_dns_google_com.pcap", r -> {
          // 1: A google.com, 61782 µs, 16 answers, request 28 B, response 284 B
          LatencyFact f = only(r);
          assertFact(f, "A", "google.com", Status.OK, null, 61782);
          assertEquals("16", f.getDetail().get("answers"));
          assertEquals(28, f.getRequestBytes());
          assertEquals(284, f.getResponseBytes());
        }),
        new Case("pb_dns_not_found.pcap", r -> assertFact(only(r), "A", "nothing.elastic.co", Status.ERROR, "NXDOMAIN", -1)),
        // the other flows in these files are TCP on port 80 with no payload: not DNS, no facts
        new Case("pb_dns_mx.pcap", r -> assertFact(only(r), "MX", "elastic.co", Status.OK, null, -1)),
        new Case("pb_dns_ns.pcap", r -> assertFact(only(r), "NS", "elastic.co", Status.OK, null, -1)),
        new Case("pb_dns_txt.pcap", r -> assertFact(only(r), "TXT", "elastic.co", Status.OK, null, -1)),
        new Case("zeek_dns_binds.pcap", r -> {
          LatencyFact f = only(r);
          assertEquals("27571", f.getDetail().get("id"));
          assertFact(f, "TYPE65534", "example.net", Status.OK, null, 2004);
        }),
        new Case("zeek_dnssec_dnskey2.pcap", r -> assertFact(only(r), "DNSKEY", "paypal.com", Status.OK, null, 75138)),
        new Case("zeek_dnssec_dnskey.pcap", r -> assertFact(only(r), "DNSKEY", "upenn.edu", Status.OK, null, 18166)),
        new Case("zeek_dnssec_ds.pcap", r -> assertFact(only(r), "DS", "upenn.edu", Status.OK, null, 17821)),
        new Case("zeek_dnssec_nsec3param.pcap", r -> assertFact(only(r), "NSEC3PARAM", "sshfp.net", Status.OK, null, 522010)),
        new Case("zeek_dns_two-responses.pcap", r -> {
          // 1 pair (214 µs) and one duplicate response that answers nothing
          assertFact(only(r), "A", "www.cmu.edu", Status.OK, null, 214);
          assertEquals(List.of("DNS_DUPLICATE_RESPONSE"), anomalyNames(r));
        }),
        new Case("zeek_dns_dynamic-update.pcap", r -> {
          // 2 UPDATE: REFUSED 104400 µs, NOERROR 1146 µs
          assertEquals(2, r.facts().size(), "facts");
          assertFact(r.facts().get(0), "UPDATE", "StratoLab.org", Status.ERROR, "REFUSED", 104400);
          assertFact(r.facts().get(1), "UPDATE", "StratoLab.org", Status.OK, null, 1146);
        }),
        new Case("zeek_dns53.pcap", r -> {
          // one response-only packet (src and dst port 53): an orphan, no fact
          assertEquals(List.of(), r.facts());
          assertEquals(List.of("DNS_ORPHAN_RESPONSE"), anomalyNames(r));
        }),
        // the query has a bad checksum; it is kept
        new Case("zeek_dns_txt-multiple.pcap", r -> assertFact(only(r), "TXT", "flkr._domainkey.flickr.com", Status.OK, null, 4947)),
        new Case("zeek_dns_spf.pcap", r -> assertFact(only(r), "SPF", "mail.vladg.net", Status.OK, null, 8845)),
        new Case("zeek_dns_tkey.pcap", r -> {
          // DNS over TCP, the query spans 3 segments (1460 + 1460 + 327 bytes): 1 fact
          LatencyFact f = only(r);
          assertFact(f, "TKEY", f.getResource(), Status.OK, null, -1);
          assertEquals("tcp", f.getDetail().get("transport"));
          assertEquals(1460 + 1460 + 327, f.getRequestBytes(), "the whole query with its length prefix");
          assertEquals(0, f.getRequestOffset());
        }),
        new Case("zeek_dns_wks.pcap", r -> assertFact(only(r), "WKS", "zeek.example.net", Status.OK, null, 1993)),
        new Case("zeek_dns_loc-29-trunc.pcap", r -> assertFact(only(r), "ANY", "sunn-pt1.es.net", Status.OK, null, 195)),
        new Case("zeek_dns_sshfp-trunc.pcap", r -> {
          // 200 µs (+1 NXDOMAIN)
          assertEquals(2, r.facts().size(), "facts");
          assertFact(r.facts().get(0), "SSHFP", "mon.lbl.gov", Status.OK, null, 200);
          assertFact(r.facts().get(1), "A", "n0019.savio1.lbl.gov", Status.ERROR, "NXDOMAIN", -1);
        }),
        new Case("zeek_dnssec_rrsig.pcap", r -> {
          // 3 answered (3405, 3363, 3748 µs) + 1 query never answered (a timeout)
          assertEquals(4, r.facts().size(), "facts");
          assertFact(r.facts().get(0), "A", "virgo.SAS.upenn.edu", Status.TIMEOUT, null, -1);
          assertNull(r.facts().get(0).getLatencyNs());
          assertFact(r.facts().get(1), "A", "virgo.SAS.upenn.edu", Status.OK, null, 3405);
          assertFact(r.facts().get(2), "A", "virgo.SAS.upenn.edu", Status.OK, null, 3363);
          assertFact(r.facts().get(3), "A", "workfamily.sas.upenn.edu", Status.OK, null, 3748);
        }),
        new Case("zeek_ipv6-fragmented-dns.pcap", r -> {
          // IPv6 fragments reassembled; the reply to one query is lost and the query is
          // retransmitted 5 s later: one fact for it, timed from the copy that was answered
          assertEquals(2, r.facts().size(), "facts");
          assertFact(r.facts().get(0), "TXT", "txtpadding_323.n1.netalyzr.icsi.berkeley.edu", Status.OK, null, 79300);
          LatencyFact f = r.facts().get(1);
          assertFact(f, "TXT", "txtpadding_3230.n1.netalyzr.icsi.berkeley.edu", Status.OK, null, 83189);
          assertEquals("1", f.getDetail().get("retransmits"));
          assertEquals(5_000_836_000L, f.getRequestLastNs() - f.getRequestFirstNs(), "5 s between the copies");
          assertEquals(3230, f.getResponseBytes(), "the answer reassembled from 3 fragments");
        })
    ).map(Arguments::of);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rows")
  void expectedRow(Case c) {
    Analyzer.Result r = analyze(c.file());
    assertAll(
        () -> c.expected().accept(r),
        () -> {
          for (LatencyFact f : r.facts()) {
            assertEquals("dns", f.getProtocol(), describe(f));
            assertEquals(53, f.getServerPort(), describe(f));
            if (f.getLatencyNs() != null) {
              assertEquals(0, f.getLatencyNs() % 1000, "µs captures, µs latencies: " + describe(f));
            }
          }
        });
  }

  // ---- Zeek baselines -------------------------------------------------------------------

  static Stream<Arguments> baselines() {
    return Stream.of(
        Arguments.of("scripts.base.protocols.dns.binds", "zeek_dns_binds.pcap"),
        Arguments.of("scripts.base.protocols.dns.dns-key", "zeek_dnssec_dnskey2.pcap"),
        Arguments.of("scripts.base.protocols.dns.dnskey", "zeek_dnssec_dnskey.pcap"),
        Arguments.of("scripts.base.protocols.dns.ds", "zeek_dnssec_ds.pcap"),
        Arguments.of("scripts.base.protocols.dns.duplicate-reponses", "zeek_dns_two-responses.pcap"),
        Arguments.of("scripts.base.protocols.dns.dynamic-update", "zeek_dns_dynamic-update.pcap"),
        Arguments.of("scripts.base.protocols.dns.flip", "zeek_dns53.pcap"),
        Arguments.of("scripts.base.protocols.dns.loc", "zeek_dns_loc-29-trunc.pcap"),
        Arguments.of("scripts.base.protocols.dns.multiple-txt-strings", "zeek_dns_txt-multiple.pcap"),
        Arguments.of("scripts.base.protocols.dns.notify", "zeek_dns_notify2.pcap"),
        Arguments.of("scripts.base.protocols.dns.nsec", "zeek_dnssec_nsec.pcap"),
        Arguments.of("scripts.base.protocols.dns.nsec3", "zeek_dnssec_nsec3.pcap"),
        Arguments.of("scripts.base.protocols.dns.nsec3param", "zeek_dnssec_nsec3param.pcap"),
        Arguments.of("scripts.base.protocols.dns.rrsig", "zeek_dnssec_rrsig.pcap"),
        Arguments.of("scripts.base.protocols.dns.spf", "zeek_dns_spf.pcap"),
        Arguments.of("scripts.base.protocols.dns.sshfp", "zeek_dns_sshfp-trunc.pcap"),
        Arguments.of("scripts.base.protocols.dns.tkey", "zeek_dns_tkey.pcap"),
        Arguments.of("scripts.base.protocols.dns.wks", "zeek_dns_wks.pcap"),
        Arguments.of("scripts.base.protocols.dns.zero-responses", "zeek_dns_zero-RRs.pcap"),
        Arguments.of("scripts.policy.protocols.dns.original_case", "zeek_dns_original_case.pcap"),
        Arguments.of("core.ipv6-frag", "zeek_ipv6-fragmented-dns.pcap"));
  }

  /**
   * Per Zeek dns.log row, matched to our fact by client endpoint and transaction id:
   * <ul>
   *   <li>a row with a query type (Zeek saw the query) has a fact, whose command is that type
   *       (Zeek writes {@code query-65534} for an unknown type and {@code *} for ANY; for
   *       NOTIFY and UPDATE our command is the opcode and the type is in the detail) and whose
   *       resource is Zeek's query name up to case (Zeek lower-cases; we keep the case sent);
   *   <li>a row with a round-trip time has a fact with exactly that latency — or, for a
   *       retransmitted query, that time from the first copy (Zeek times from it; we time from
   *       the last copy and keep the first in {@code request_first_ns});
   *   <li>a row with an rcode, on an answered fact, has the same rcode.
   * </ul>
   * Deliberate differences: Zeek logs a row for a response whose query it did not see (flip,
   * multiple-txt-strings and spf, whose queries have bad checksums); for flip we have no fact
   * (an orphan), for the other two we keep the query and have a fact Zeek has no time for.
   * Zeek's mdns-no-assoc (multicast) is not compared: tapflow does not pair multicast flows.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("baselines")
  void agreesWithZeekBaseline(String baseline, String capture) throws Exception {
    ZeekLog log = ZeekLog.read(SharedCaptures.CONFORMANCE.resolve("zeek-baselines/Baseline__" + baseline + "__dns.log"));
    Analyzer.Result r = analyze(capture);
    int compared = 0;
    for (ZeekLog.Row z : log.rows) {
      String id = z.client() + " id " + z.get("trans_id") + " (" + baseline + ")";
      LatencyFact f = r.facts().stream()
          .filter(x -> TcpPackets.endpoint(x.getClientIp(), x.getClientPort()).equals(z.client())
              && z.get("trans_id").equals(x.getDetail().get("id")))
          .findFirst().orElse(null);
      if (z.isSet("qtype_name")) {
        assertNotNull(f, id + ": Zeek saw this query; facts: " + r.facts().stream().map(SharedCaptures::describe).toList());
        String type = z.get("qtype_name").equals("*") ? "ANY" : z.get("qtype_name").replace("query-", "TYPE");
        String ours = f.getCommand().equals("NOTIFY") || f.getCommand().equals("UPDATE") ? f.getDetail().get("qtype")
            : f.getCommand();
        assertEquals(type, ours, id);
        assertTrue(z.get("query").equalsIgnoreCase(Objects.toString(f.getResource())), id + ": " + describe(f));
        compared++;
      }
      if (z.isSet("rtt")) {
        assertNotNull(f, id + ": Zeek timed this query");
        long rttNs = Math.round(Double.parseDouble(z.get("rtt")) * 1e9);
        long ours = f.getDetail().containsKey("retransmits") ? f.getResponseFirstNs() - f.getRequestFirstNs()
            : f.getLatencyNs();
        assertEquals(rttNs, ours, id + ": " + describe(f));
        compared++;
      }
      if (z.isSet("rcode_name") && f != null && f.getLatencyNs() != null) {
        assertEquals(z.get("rcode_name"), f.getDetail().get("rcode"), id);
        compared++;
      }
    }
    assertTrue(compared > 0 || baseline.endsWith("flip") || baseline.endsWith("multiple-txt-strings")
        || baseline.endsWith(".spf"), baseline + ": nothing compared");
  }

  private static LatencyFact only(Analyzer.Result r) {
    assertEquals(1, r.facts().size(), "facts: " + r.facts().stream().map(SharedCaptures::describe).toList());
    return r.facts().get(0);
  }

  /** Command, resource, status, error, and latency in µs as EXPECTED writes it (-1: not given). */
  private static void assertFact(LatencyFact f, String command, String resource, Status status, String error,
      long micros) {
    String id = describe(f);
    assertEquals(command, f.getCommand(), id);
    assertEquals(resource, f.getResource(), id);
    assertEquals(status, f.getStatus(), id);
    assertEquals(error, f.getError(), id);
    if (status != Status.TIMEOUT) {
      assertEquals(error == null ? "NOERROR" : error, f.getDetail().get("rcode"), id);
      assertEquals("id", f.getPairing(), id);
    }
    if (micros >= 0) {
      assertEquals(micros * 1000, (long) f.getLatencyNs(), id + ": latency ns");
    }
  }
}
