package dev.tapflow.capture;

import static dev.tapflow.capture.TestFrames.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class CaptureFileImporterTest {
  static final long T0 = 1_700_000_000_123_456_789L;

  @TempDir Path dir;

  record Emitted(ConnectionKey key, SegmentBatch batch) {}

  static final class Collector implements BatchListener {
    final List<Emitted> batches = new ArrayList<>();
    final List<String> ends = new ArrayList<>();

    @Override
    public void onBatch(ConnectionKey key, SegmentBatch batch) {
      batches.add(new Emitted(key, batch));
    }

    @Override
    public void onEndOfCapture(String agent, long lastTsNs) {
      ends.add(agent + "@" + lastTsNs);
    }
  }

  /**
   * A Redis PING over TCP, client (b) -> server (a), plus a pure ACK after each message,
   * closed by both FINs. Times 1.5 us apart (sub-microsecond digits test ns precision).
   */
  static List<byte[]> session(boolean v6) {
    String server = v6 ? "2001:db8::1" : "10.0.0.1";
    String client = v6 ? "2001:db8::2" : "10.0.0.2";
    int ip = v6 ? 6 : 4;
    UnaryOperator<byte[]> c2s = seg -> v6 ? ipv6(client, server, 6, seg) : ipv4(client, server, 6, seg);
    UnaryOperator<byte[]> s2c = seg -> v6 ? ipv6(server, client, 6, seg) : ipv4(server, client, 6, seg);
    assertTrue(ip > 0);
    return List.of(
        c2s.apply(tcp(40000, 6379, 1000, 0, SYN, 64240, new byte[0])),
        s2c.apply(tcp(6379, 40000, 5000, 1001, SYN | ACK, 65160, new byte[0])),
        c2s.apply(tcp(40000, 6379, 1001, 5001, ACK, 502, new byte[0])),
        c2s.apply(tcp(40000, 6379, 1001, 5001, PSH | ACK, 502, ascii("*1\r\n$4\r\nPING\r\n"))),
        s2c.apply(tcp(6379, 40000, 5001, 1015, ACK, 509, new byte[0])),
        s2c.apply(tcp(6379, 40000, 5001, 1015, PSH | ACK, 509, ascii("+PONG\r\n"))),
        c2s.apply(tcp(40000, 6379, 1015, 5008, FIN | ACK, 502, new byte[0])),
        s2c.apply(tcp(6379, 40000, 5008, 1016, FIN | ACK, 509, new byte[0])),
        c2s.apply(tcp(40000, 6379, 1016, 5009, ACK, 502, new byte[0])));
  }

  static long ts(int i) {
    return T0 + i * 1500L;
  }

  static Stream<Arguments> linkTypes() {
    return Stream.of(
        Arguments.of("ethernet", LinkType.EN10MB, false, (UnaryOperator<byte[]>) TestFrames::ethernet),
        Arguments.of("ethernet-ipv6", LinkType.EN10MB, true, (UnaryOperator<byte[]>) TestFrames::ethernet),
        Arguments.of("ethernet-802.1Q", LinkType.EN10MB, false, (UnaryOperator<byte[]>) b -> ethernet(b, 0x8100)),
        Arguments.of("ethernet-802.1ad-stacked", LinkType.EN10MB, true, (UnaryOperator<byte[]>) b -> ethernet(b, 0x88A8, 0x8100)),
        Arguments.of("linux-sll", LinkType.LINUX_SLL, false, (UnaryOperator<byte[]>) TestFrames::sll),
        Arguments.of("linux-sll-ipv6", LinkType.LINUX_SLL, true, (UnaryOperator<byte[]>) TestFrames::sll),
        Arguments.of("linux-sll2", LinkType.LINUX_SLL2, false, (UnaryOperator<byte[]>) TestFrames::sll2),
        Arguments.of("linux-sll2-ipv6", LinkType.LINUX_SLL2, true, (UnaryOperator<byte[]>) TestFrames::sll2),
        Arguments.of("null-little-endian", LinkType.NULL, false, (UnaryOperator<byte[]>) b -> nullLe(2, b)),
        Arguments.of("null-big-endian", LinkType.NULL, false, (UnaryOperator<byte[]>) b -> nullBe(2, b)),
        Arguments.of("null-ipv6-24", LinkType.NULL, true, (UnaryOperator<byte[]>) b -> nullLe(24, b)),
        Arguments.of("null-ipv6-28-big-endian", LinkType.NULL, true, (UnaryOperator<byte[]>) b -> nullBe(28, b)),
        Arguments.of("null-ipv6-30", LinkType.NULL, true, (UnaryOperator<byte[]>) b -> nullLe(30, b)),
        Arguments.of("loop", LinkType.LOOP, false, (UnaryOperator<byte[]>) b -> nullBe(2, b)),
        Arguments.of("raw-101", LinkType.LINKTYPE_RAW, false, UnaryOperator.<byte[]>identity()),
        Arguments.of("raw-101-ipv6", LinkType.LINKTYPE_RAW, true, UnaryOperator.<byte[]>identity()),
        Arguments.of("ipv4-228", LinkType.IPV4, false, UnaryOperator.<byte[]>identity()),
        Arguments.of("ipv6-229", LinkType.IPV6, true, UnaryOperator.<byte[]>identity()));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("linkTypes")
  void everyLinkTypeEveryFileFormat(String name, int linkType, boolean v6, UnaryOperator<byte[]> wrap) throws Exception {
    List<byte[]> frames = session(v6).stream().map(wrap).toList();
    for (String format : List.of("pcap-ns", "pcap-us", "pcap-ns-big-endian", "pcapng-ns", "pcapng-us")) {
      boolean nanos = format.contains("ns");
      TestPcap.Writer w = format.startsWith("pcapng") ? TestPcap.pcapng(linkType, nanos) : TestPcap.pcap(linkType, nanos);
      if (format.endsWith("big-endian")) {
        w.bigEndian();
      }
      for (int i = 0; i < frames.size(); i++) {
        w.add(ts(i), frames.get(i));
      }
      Path file = w.write(dir.resolve(name + "." + format));
      Collector c = new Collector();
      CaptureStats stats = new CaptureFileImporter().importFile(file, "agent-x", c);
      String what = name + " " + format;
      assertTrue(LinkType.isSupported(stats.linkType()), what);

      assertEquals(9, stats.packets(), what);
      assertEquals(6, stats.segments(), what);
      assertEquals(3, stats.skipped(SkipReason.PURE_ACK), what);
      assertEquals(3, stats.skippedTotal(), what);
      assertEquals(2, stats.batches(), what);
      assertEquals(21, stats.payloadBytes(), what);
      assertEquals(List.of("agent-x@" + trunc(ts(8), nanos)), c.ends, what);
      assertEquals(trunc(ts(0), nanos), stats.firstTsNs(), what);
      assertEquals(trunc(ts(8), nanos), stats.lastTsNs(), what);

      assertEquals(2, c.batches.size(), what);
      ConnectionKey k = c.batches.get(0).key();
      assertEquals("agent-x", k.getAgent());
      assertEquals(ByteBuffer.wrap(addr(v6 ? "2001:db8::1" : "10.0.0.1")), k.getIpA(), what);
      assertEquals(6379, k.getPortA());
      assertEquals(ByteBuffer.wrap(addr(v6 ? "2001:db8::2" : "10.0.0.2")), k.getIpB(), what);
      assertEquals(40000, k.getPortB());
      assertSame(k, c.batches.get(1).key());

      List<Segment> first = c.batches.get(0).batch().getSegments();
      assertEquals(List.of(1L, 2L, 4L, 6L, 7L), first.stream().map(Segment::getPacketNo).toList(), what);
      assertEquals(List.of(8L), c.batches.get(1).batch().getSegments().stream().map(Segment::getPacketNo).toList());
      int[] rows = {0, 1, 3, 5, 6};
      boolean[] aToB = {false, true, false, true, false};
      long[] seq = {1000, 5000, 1001, 5001, 1015};
      long[] ack = {0, 1001, 5001, 1015, 5008};
      int[] flags = {SYN, SYN | ACK, PSH | ACK, PSH | ACK, FIN | ACK};
      int[] window = {64240, 65160, 502, 509, 502};
      String[] payload = {"", "", "*1\r\n$4\r\nPING\r\n", "+PONG\r\n", ""};
      for (int i = 0; i < rows.length; i++) {
        Segment s = first.get(i);
        assertEquals(trunc(ts(rows[i]), nanos), s.getTsNs(), what + " ts " + i);
        assertEquals(aToB[i], s.getAToB(), what);
        assertEquals(seq[i], s.getSeq(), what);
        assertEquals(ack[i], s.getAck(), what);
        assertEquals(flags[i], s.getFlags(), what);
        assertEquals(window[i], s.getWindow(), what);
        assertEquals(ByteBuffer.wrap(ascii(payload[i])), s.getPayload(), what);
        assertEquals(payload[i].length(), s.getPayloadLen(), what);
        assertEquals(frames.get(rows[i]).length, s.getWireLen(), what);
      }
    }
  }

  private static long trunc(long tsNs, boolean nanos) {
    return nanos ? tsNs : tsNs - tsNs % 1000;
  }

  @Test
  void snapLengthTruncatedPacketsKeepWhatWasCaptured() throws Exception {
    byte[] big = new byte[1000];
    java.util.Arrays.fill(big, (byte) 'v');
    Path file = TestPcap.pcap(LinkType.EN10MB, true).snaplen(96)
        .add(ts(0), ethernet(ipv4("10.0.0.1", "10.0.0.2", 6, tcp(6379, 40000, 1, 2, PSH | ACK, 9, big))))
        .add(ts(1), ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, udp(53, 1053, big))))
        .write(dir.resolve("snap.pcap"));
    Collector c = new Collector();
    CaptureStats stats = new CaptureFileImporter().importFile(file, "a", c);
    assertEquals(2, stats.segments());
    assertEquals(2 * 96, stats.capturedBytes());
    assertEquals(1054 + 1042, stats.wireBytes());
    Segment tcp = c.batches.get(0).batch().getSegments().get(0);
    assertEquals(1000, tcp.getPayloadLen());
    assertEquals(96 - 54, tcp.getPayload().remaining());
    assertEquals(1054, tcp.getWireLen());
    Segment udp = c.batches.get(1).batch().getSegments().get(0);
    assertEquals(1000, udp.getPayloadLen());
    assertEquals(96 - 42, udp.getPayload().remaining());
    assertEquals(1042, udp.getWireLen());
  }

  @Test
  void skippedPacketsAreCountedPerReason() throws Exception {
    byte[] l4 = udp(53, 1053, ascii("answer"));
    Path file = TestPcap.pcap(LinkType.EN10MB, false)
        .add(ts(0), ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, l4, 0, 0x2000)))          // first fragment
        .add(ts(1), ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, l4, 0, 0x0005)))          // last fragment
        .add(ts(2), ethernet(ipv6("::1", "::2", 44, concat(fragment(17, 0, true), l4)))) // IPv6 fragment
        .add(ts(3), ethernetType(0x0806, new byte[28]))                                   // ARP
        .add(ts(4), ethernet(ipv4("10.0.0.1", "10.0.0.2", 1, new byte[16])))               // ICMP
        .add(ts(5), ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, l4)))                         // a datagram
        .add(ts(6), new byte[10])                                                         // runt
        .write(dir.resolve("skips.pcap"));
    Collector c = new Collector();
    CaptureStats stats = new CaptureFileImporter().importFile(file, "a", c);
    assertEquals(7, stats.packets());
    assertEquals(1, stats.segments());
    assertEquals(2, stats.skipped(SkipReason.IPV4_FRAGMENT));
    assertEquals(1, stats.skipped(SkipReason.IPV6_FRAGMENT));
    assertEquals(1, stats.skipped(SkipReason.NOT_IP));
    assertEquals(1, stats.skipped(SkipReason.NOT_TCP_OR_UDP));
    assertEquals(1, stats.skipped(SkipReason.TRUNCATED_LINK_HEADER));
    assertEquals(stats.packets(), stats.segments() + stats.skippedTotal());
    assertEquals(5, stats.skippedByReason().size());
    assertTrue(stats.toString().contains("IPV4_FRAGMENT=2"), stats.toString());
    // the two with MF carry 14 bytes (not a multiple of 8); the last IPv4 one is never completed
    assertEquals(3, stats.fragmentEvents(FragmentEvent.FRAGMENTS));
    assertEquals(2, stats.fragmentEvents(FragmentEvent.MALFORMED));
    assertEquals(1, stats.fragmentEvents(FragmentEvent.INCOMPLETE_AT_END));
    assertTrue(stats.toString().contains("fragments={FRAGMENTS=3, MALFORMED=2, INCOMPLETE_AT_END=1}"), stats.toString());
  }

  @Test
  void aFragmentedDatagramIsOneSegmentAtItsLastFragment() throws Exception {
    byte[] answer = new byte[3000];
    for (int i = 0; i < answer.length; i++) {
      answer[i] = (byte) ('a' + i % 26);
    }
    byte[] l4 = udp(53, 33000, answer);
    byte[] f1 = ethernet(ipv4Fragment("10.0.0.53", "10.0.0.2", 17, 0x4242, 0, true, java.util.Arrays.copyOfRange(l4, 0, 1480)));
    byte[] f2 = ethernet(ipv4Fragment("10.0.0.53", "10.0.0.2", 17, 0x4242, 1480, true, java.util.Arrays.copyOfRange(l4, 1480, 2960)));
    byte[] f3 = ethernet(ipv4Fragment("10.0.0.53", "10.0.0.2", 17, 0x4242, 2960, false, java.util.Arrays.copyOfRange(l4, 2960, l4.length)));
    byte[] query = ethernet(ipv4("10.0.0.2", "10.0.0.53", 17, udp(33000, 53, ascii("query"))));
    Path file = TestPcap.pcap(LinkType.EN10MB, true)
        .add(ts(0), query)
        .add(ts(1), f3)                                                      // last fragment first
        .add(ts(2), ethernet(ipv4("10.0.0.9", "10.0.0.8", 6, tcp(1, 2, 3, 4, SYN, 5, new byte[0]))))
        .add(ts(3), f1)
        .add(ts(4), f2)                                                      // completes it
        .write(dir.resolve("frag.pcap"));
    Collector c = new Collector();
    CaptureStats stats = new CaptureFileImporter().importFile(file, "a", c);
    assertEquals(5, stats.packets());
    assertEquals(3, stats.segments());
    assertEquals(2, stats.skipped(SkipReason.IPV4_FRAGMENT));
    assertEquals(stats.packets(), stats.segments() + stats.skippedTotal());
    assertEquals(3, stats.fragmentEvents(FragmentEvent.FRAGMENTS));
    assertEquals(1, stats.fragmentEvents(FragmentEvent.REASSEMBLED));
    List<Segment> dns = c.batches.stream().filter(e -> e.key().getPortB() == 53)
        .flatMap(e -> e.batch().getSegments().stream()).toList();
    assertEquals(2, dns.size(), "query and answer on one connection");
    Segment a = dns.get(1);
    assertFalse(a.getAToB(), "from 10.0.0.53 (b) to 10.0.0.2 (a)");
    assertEquals(ts(4), a.getTsNs(), "the time of the fragment that completed it");
    assertEquals(5, a.getPacketNo());
    assertEquals(f1.length + f2.length + f3.length, a.getWireLen());
    assertEquals(3000, a.getPayloadLen());
    byte[] got = new byte[a.getPayload().remaining()];
    a.getPayload().duplicate().get(got);
    assertArrayEquals(answer, got);
  }

  @Test
  void emptyCaptureStillEndsTheCapture() throws Exception {
    Path file = TestPcap.pcap(LinkType.EN10MB, true).write(dir.resolve("empty.pcap"));
    Collector c = new Collector();
    CaptureStats stats = new CaptureFileImporter().importFile(file, "quiet", c);
    assertEquals(0, stats.packets());
    assertEquals(List.of("quiet@0"), c.ends);
  }

  @Test
  void endOfCaptureCanBeLeftToTheCaller() throws Exception {
    Path file = TestPcap.pcap(LinkType.RAW, true).add(ts(0), session(false).get(0)).write(dir.resolve("one.pcap"));
    Collector c = new Collector();
    new CaptureFileImporter(SegmentBatcher.Options.defaults(), false).importFile(file, "a", c);
    assertEquals(1, c.batches.size());
    assertTrue(c.ends.isEmpty());
  }

  @Test
  void unsupportedLinkTypeIsAClearError() throws Exception {
    Path file = TestPcap.pcap(105, true).add(ts(0), new byte[40]).write(dir.resolve("wifi.pcap")); // 802.11
    CaptureFileException e = assertThrows(CaptureFileException.class,
        () -> new CaptureFileImporter().importFile(file, "a", new Collector()));
    assertTrue(e.getMessage().startsWith(file.toString() + ": unsupported link type"), e.getMessage());
  }

  @Test
  void listenerFailureStopsTheImportAndPropagates() throws Exception {
    TestPcap.Writer w = TestPcap.pcap(LinkType.RAW, true);
    for (int i = 0; i < 1000; i++) {
      w.add(ts(i), ipv4("10.0.0.1", "10.0.0.2", 17, udp(53, 1000 + i, ascii("r"))));
    }
    Path file = w.write(dir.resolve("many.pcap"));
    int[] calls = {0};
    IllegalStateException e = assertThrows(IllegalStateException.class,
        () -> new CaptureFileImporter(SegmentBatcher.Options.defaults().withMaxConnections(1), true)
            .importFile(file, "a", (k, b) -> {
              if (++calls[0] == 3) {
                throw new IllegalStateException("broker gone");
              }
            }));
    assertEquals("broker gone", e.getMessage());
    assertEquals(3, calls[0], "nothing more after the failure");
  }

  @Test
  void defaultAgentIdIsTheFileNameWithoutExtension() {
    assertEquals("redis-bench", CaptureFileImporter.defaultAgentId(Path.of("/x/redis-bench.pcap")));
    assertEquals("host1.eth0", CaptureFileImporter.defaultAgentId(Path.of("host1.eth0.pcapng")));
    assertEquals("capture", CaptureFileImporter.defaultAgentId(Path.of("capture")));
    assertEquals(".hidden", CaptureFileImporter.defaultAgentId(Path.of(".hidden")));
  }
}
