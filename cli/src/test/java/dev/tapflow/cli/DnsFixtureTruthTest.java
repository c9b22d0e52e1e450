package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The DNS fixture recorded from real traffic ({@code stream-processor/src/test/resources/pcap/
 * dns/}, made by {@code scripts/capture-dns.sh}, see its README) against its truths: what dig
 * printed for each question (id, rcode, answer count, flags, query time), dnsmasq's log of the
 * questions it received, and tcpdump's reading of every packet. Nothing expected here comes
 * from tapflow's output.
 */
class DnsFixtureTruthTest {

  private static final Path FIXTURE = Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "dns");

  /** Granularity of dig's "Query time" on this machine (a coarse clock). */
  private static final long DIG_TICK_MS = 4;

  private static List<Map<String, String>> queries;
  private static List<Map<String, String>> packets;
  private static Analyzer.Result result;

  @BeforeAll
  static void analyse() throws Exception {
    queries = TsvRows.read(FIXTURE.resolve("dns.queries.tsv"));
    packets = TsvRows.read(FIXTURE.resolve("dns.packets.tsv"));
    result = new Analyzer(ProcessorConfig.defaults()).analyze(List.of(FIXTURE.resolve("dns.pcap")), null);
  }

  /** The fact whose transaction id and transport are the question's. */
  private static LatencyFact factOf(Map<String, String> q) {
    List<LatencyFact> found = result.facts().stream()
        .filter(f -> q.get("id").equals(f.getDetail().get("id")) && q.get("transport").equals(f.getDetail().get("transport")))
        .toList();
    assertEquals(1, found.size(), "one fact for question " + q);
    return found.get(0);
  }

  @Test
  void oneFactPerQuestionWithWhatDigSaw() {
    assertEquals(queries.size(), result.facts().size(), "facts vs dig's questions");
    for (Map<String, String> q : queries) {
      LatencyFact f = factOf(q);
      String id = q + " vs " + SharedCaptures.describe(f);
      assertEquals("dns", f.getProtocol(), id);
      assertEquals(q.get("qtype"), f.getCommand(), id);
      assertEquals(q.get("qname"), f.getResource(), id);
      assertEquals(Integer.parseInt(q.get("server_port")), f.getServerPort(), id);
      if (q.get("rcode").equals("-")) {
        assertEquals(Status.TIMEOUT, f.getStatus(), id + ": dig got no answer");
        assertNull(f.getLatencyNs(), id);
        continue;
      }
      boolean ok = q.get("rcode").equals("NOERROR");
      assertEquals(ok ? Status.OK : Status.ERROR, f.getStatus(), id);
      assertEquals(ok ? null : q.get("rcode"), f.getError(), id);
      assertEquals(q.get("rcode"), f.getDetail().get("rcode"), id);
      assertEquals(q.get("answers"), f.getDetail().get("answers"), id);
      assertEquals(List.of(q.get("flags").split(",")).contains("tc"), f.getDetail().containsKey("truncated"), id);
      // dig timed the question from its own send to its own receive, on a coarse clock (its
      // times here are all multiples of 4 ms: the kernel's tick): within one tick of ours
      assertTrue(f.getLatencyNs() < (Long.parseLong(q.get("query_time_ms")) + DIG_TICK_MS) * 1_000_000L, id);
    }
    assertEquals(Map.of(), result.anomalies(), "no anomalies on clean traffic");
  }

  /**
   * Latency = capture time of the answer's first packet − capture time of the question's last
   * packet, both as tcpdump read them. Over UDP the question and the answer are one datagram
   * each; an IP-fragmented answer is whole, and readable, at its last fragment. Over TCP the
   * question's last packet is the one holding its last byte (tcpdump's relative sequence
   * numbers: 1 is the first byte after the SYN), and since dig waits for each answer before
   * asking again, the answer starts in the first server packet with data after it.
   */
  @Test
  void latencyIsTcpdumpsAnswerTimeMinusQuestionTime() {
    int udp = 0;
    int tcp = 0;
    int fragmented = 0;
    for (Map<String, String> q : queries) {
      if (q.get("rcode").equals("-")) {
        continue;
      }
      LatencyFact f = factOf(q);
      String client = f.getClientIp() + ":" + f.getClientPort();
      String server = f.getServerIp() + ":" + f.getServerPort();
      long questionLast;
      long answerFirst;
      if (q.get("transport").equals("udp")) {
        Map<String, String> question = packet(client, server, q.get("id"), "q");
        Map<String, String> answer = packet(server, client, q.get("id"), "r");
        questionLast = ts(question);
        answerFirst = ts(answer);
        if (answer.get("more_fragments").equals("1")) {
          answerFirst = lastFragment(answer);
          fragmented++;
        }
        udp++;
      } else {
        Map<String, String> question = packet(client, server, q.get("id"), "q");
        long start = Long.parseLong(question.get("seq"));
        assertEquals(start - 1, f.getRequestOffset(), "the question's first byte in the client's stream");
        Map<String, String> last = holding(client, server, start + f.getRequestBytes() - 1);
        questionLast = ts(last);
        answerFirst = ts(nextData(server, client, packets.indexOf(last)));
        tcp++;
      }
      String id = q + " vs " + SharedCaptures.describe(f);
      assertEquals(questionLast, f.getRequestLastNs(), id);
      assertEquals(answerFirst, f.getResponseFirstNs(), id);
      assertEquals(answerFirst - questionLast, (long) f.getLatencyNs(), id);
    }
    assertEquals(7, udp, "UDP questions answered");
    assertEquals(8, tcp, "TCP questions answered");
    assertEquals(1, fragmented, "the large TXT answer over UDP came in IP fragments");
  }

  /** Facts per query type on port 53 == the questions dnsmasq logged per type. */
  @Test
  void factsPerTypeAreTheQuestionsDnsmasqReceived() throws IOException {
    Pattern line = Pattern.compile(" query\\[(\\w+)\\] (\\S+) from ");
    Map<String, Integer> logged = new TreeMap<>();
    for (String l : Files.readAllLines(FIXTURE.resolve("dns.dnsmasq-queries.txt"))) {
      Matcher m = line.matcher(l);
      assertTrue(m.find(), l);
      logged.merge(m.group(1) + " " + m.group(2), 1, Integer::sum);
    }
    Map<String, Integer> ours = new TreeMap<>();
    for (LatencyFact f : result.facts()) {
      if (f.getServerPort() == 53) {
        ours.merge(f.getCommand() + " " + f.getResource(), 1, Integer::sum);
      }
    }
    assertEquals(logged, ours);
  }

  private static long ts(Map<String, String> p) {
    return Long.parseLong(p.get("ts_ns"));
  }

  /** The packet src→dst where tcpdump decoded the start of DNS message {@code id} as a query or response. */
  private static Map<String, String> packet(String src, String dst, String id, String qr) {
    List<Map<String, String>> found = new ArrayList<>();
    for (Map<String, String> p : packets) {
      boolean toDeadPort = !dst.endsWith(":53") && qr.equals("q") && p.get("dns_id").equals("-");
      if (p.get("src").equals(src) && p.get("dst").equals(dst) && (toDeadPort || p.get("dns_id").equals(id)
          && p.get("qr").equals(qr))) {
        found.add(p);
      }
    }
    assertEquals(1, found.size(), src + " > " + dst + " id " + id + " " + qr + ": " + found);
    return found.get(0);
  }

  /** The first packet src→dst with payload after index {@code after}. */
  private static Map<String, String> nextData(String src, String dst, int after) {
    for (Map<String, String> p : packets.subList(after + 1, packets.size())) {
      if (p.get("src").equals(src) && p.get("dst").equals(dst) && !p.get("len").equals("0")) {
        return p;
      }
    }
    throw new AssertionError(src + " > " + dst + ": no data after packet " + after);
  }

  /** The capture time of the last fragment of the datagram {@code first} starts. */
  private static long lastFragment(Map<String, String> first) {
    String srcIp = first.get("src").substring(0, first.get("src").lastIndexOf(':'));
    Map<String, String> last = null;
    for (Map<String, String> p : packets) {
      if (p.get("ip_id").equals(first.get("ip_id")) && p.get("src").startsWith(srcIp) && p.get("proto").equals("udp")) {
        last = p;
      }
    }
    assertNotNull(last);
    assertEquals("0", last.get("more_fragments"), "the datagram's last fragment");
    return ts(last);
  }

  /** The TCP packet src→dst holding relative sequence number {@code seq}. */
  private static Map<String, String> holding(String src, String dst, long seq) {
    for (Map<String, String> p : packets) {
      if (p.get("src").equals(src) && p.get("dst").equals(dst) && !p.get("seq").equals("-")) {
        long start = Long.parseLong(p.get("seq"));
        if (start <= seq && seq < start + Long.parseLong(p.get("len"))) {
          return p;
        }
      }
    }
    throw new AssertionError(src + " > " + dst + ": no packet holds byte " + seq);
  }
}
