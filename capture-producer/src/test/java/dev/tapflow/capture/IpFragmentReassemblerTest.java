package dev.tapflow.capture;

import static dev.tapflow.capture.TestFrames.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.function.IntUnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * Hand-built fragment sequences through {@link PacketDecoder} and {@link IpFragmentReassembler},
 * as the importer runs them: orders, duplicates, overlaps, holes and every bound.
 */
class IpFragmentReassemblerTest {
  private static final long SEC = 1_000_000_000L;
  private static final long T0 = 1_700_000_000L * SEC;

  private final DecodedPacket p = new DecodedPacket();
  private CaptureStats stats = new CaptureStats();
  private IpFragmentReassembler r = new IpFragmentReassembler(stats, IpFragmentReassembler.Options.defaults());

  private void withOptions(IpFragmentReassembler.Options o) {
    stats = new CaptureStats();
    r = new IpFragmentReassembler(stats, o);
  }

  /** Decodes a raw IP fragment and hands it to the reassembler, as the importer does. */
  private SkipReason feed(byte[] frame, long tsNs) {
    SkipReason d = PacketDecoder.decode(LinkType.RAW, frame, 0, frame.length, frame.length, p);
    assertTrue(d == SkipReason.IPV4_FRAGMENT || d == SkipReason.IPV6_FRAGMENT, "not a fragment: " + d);
    return r.accept(p, tsNs, frame.length);
  }

  private long events(FragmentEvent e) {
    return stats.fragmentEvents(e);
  }

  /** A recognisable payload of n bytes. */
  private static byte[] payload(int n, int seed) {
    byte[] b = new byte[n];
    for (int i = 0; i < n; i++) {
      b[i] = (byte) (i * 31 + seed + (i >> 8));
    }
    return b;
  }

  /** Builds the frame of one fragment: {@code data} at byte {@code offset}. */
  interface FragmentFrame {
    byte[] build(int offset, boolean more, byte[] data);
  }

  /** The datagram {@code l4} cut into fragments of {@code size} bytes (a multiple of 8). */
  private static List<byte[]> split(byte[] l4, int size, FragmentFrame frame) {
    List<byte[]> out = new ArrayList<>();
    for (int off = 0; off < l4.length; off += size) {
      int end = Math.min(l4.length, off + size);
      out.add(frame.build(off, end < l4.length, Arrays.copyOfRange(l4, off, end)));
    }
    return out;
  }

  private static List<byte[]> fragments4(int id, int proto, byte[] l4, int size) {
    return split(l4, size, (off, more, data) -> ipv4Fragment("10.0.0.1", "10.0.0.2", proto, id, off, more, data));
  }

  private static List<byte[]> fragments6(int id, int next, byte[] l4, int size) {
    return split(l4, size, (off, more, data) -> ipv6Fragment("2001:db8::1", "2001:db8::2", next, id, off, more, data));
  }

  /** IPv6 fragments of 1440 bytes after a hop-by-hop and a destination options header (24 bytes). */
  private static List<byte[]> fragments6AfterTwoHeaders(int id, IntUnaryOperator nextAt, byte[] l4) {
    return split(l4, 1440, (off, more, data) -> {
      byte[] frag = ipv6Fragment("::1", "::2", nextAt.applyAsInt(off), id, off, more, data);
      return ipv6("::1", "::2", 0, concat(ext(60, 0), ext(44, 1), Arrays.copyOfRange(frag, 40, frag.length)));
    });
  }

  /** Feeds all but the last frame (each must be held), then the last, which must complete a UDP datagram. */
  private void feedAllExpectingUdp(List<byte[]> frames, byte[] payload, long t) {
    for (int i = 0; i < frames.size() - 1; i++) {
      assertNotNull(feed(frames.get(i), t + i), "fragment " + i + " completed early");
    }
    assertNull(feed(frames.get(frames.size() - 1), t + frames.size()));
    assertEquals(DecodedPacket.UDP, p.transport());
    assertEquals(5353, p.srcPort());
    assertEquals(40000, p.dstPort());
    assertEquals(payload.length, p.payloadLen());
    assertArrayEquals(payload, p.payload());
    assertEquals(frames.stream().mapToInt(f -> f.length).sum(), r.reassembledWireLen());
  }

  private void assertNothingHeld() {
    assertEquals(0, r.pendingDatagrams());
    assertEquals(0, r.bufferedBytes());
  }

  @Test
  void ipv4InOrderAndInReverse() {
    byte[] data = payload(4000, 1);
    byte[] l4 = udp(5353, 40000, data);
    List<byte[]> frames = fragments4(7, 17, l4, 1480);
    assertEquals(3, frames.size());
    feedAllExpectingUdp(frames, data, T0);
    assertEquals(4, p.ipVersion());
    assertArrayEquals(addr("10.0.0.1"), p.srcAddr());
    assertArrayEquals(addr("10.0.0.2"), p.dstAddr());

    List<byte[]> reversed = new ArrayList<>(fragments4(8, 17, l4, 1480));
    Collections.reverse(reversed);
    feedAllExpectingUdp(reversed, data, T0);
    assertEquals(3 + 3, events(FragmentEvent.FRAGMENTS));
    assertEquals(2, events(FragmentEvent.REASSEMBLED));
    assertNothingHeld();
  }

  @Test
  void ipv6InOrderAndInReverse() {
    byte[] data = payload(9000, 2);
    byte[] l4 = udp(5353, 40000, data);
    List<byte[]> frames = fragments6(0xCAFEBABE, 17, l4, 1448);
    feedAllExpectingUdp(frames, data, T0);
    assertEquals(6, p.ipVersion());
    assertArrayEquals(addr("2001:db8::1"), p.srcAddr());
    assertArrayEquals(addr("2001:db8::2"), p.dstAddr());
    List<byte[]> reversed = new ArrayList<>(frames);
    Collections.reverse(reversed);
    feedAllExpectingUdp(reversed, data, T0);
    assertEquals(2, events(FragmentEvent.REASSEMBLED));
    assertNothingHeld();
  }

  @Test
  void anyOrderWithExactDuplicatesGivesTheSameDatagram() {
    Random rnd = new Random(7);
    for (int round = 0; round < 200; round++) {
      boolean v6 = round % 2 == 1;
      int size = 8 * (1 + rnd.nextInt(400));
      byte[] data = payload(size + rnd.nextInt(20_000), round); // two fragments at least
      byte[] l4 = udp(5353, 40000, data);
      List<byte[]> frames = v6 ? fragments6(round, 17, l4, size) : fragments4(round, 17, l4, size);
      List<byte[]> order = new ArrayList<>(frames);
      Collections.shuffle(order, rnd);
      int dups = rnd.nextInt(3);
      for (int i = 0; i < dups && order.size() > 1; i++) {
        order.add(rnd.nextInt(order.size() - 1), order.get(rnd.nextInt(order.size())).clone());
      }
      long dupsBefore = events(FragmentEvent.DUPLICATES);
      // feed until one completes; whatever comes after it starts a new datagram
      int completed = -1;
      for (int i = 0; i < order.size() && completed < 0; i++) {
        if (feed(order.get(i), T0 + i) == null) {
          completed = i;
        }
      }
      assertTrue(completed >= 0, "round " + round + ": never completed");
      assertArrayEquals(data, p.payload(), "round " + round);
      assertEquals(completed + 1 - frames.size(), events(FragmentEvent.DUPLICATES) - dupsBefore, "round " + round);
      r.finish(T0 + order.size());
    }
    assertEquals(200, events(FragmentEvent.REASSEMBLED));
    assertEquals(0, events(FragmentEvent.OVERLAPS) + events(FragmentEvent.MALFORMED));
    assertNothingHeld();
  }

  @Test
  void duplicatesAreNotCountedInTheWireLength() {
    byte[] data = payload(3000, 3);
    List<byte[]> frames = fragments4(1, 17, udp(5353, 40000, data), 1480);
    assertEquals(SkipReason.IPV4_FRAGMENT, feed(frames.get(0), T0));
    assertEquals(SkipReason.IPV4_FRAGMENT, feed(frames.get(0), T0 + 1));
    assertEquals(SkipReason.IPV4_FRAGMENT, feed(frames.get(1), T0 + 2));
    assertNull(feed(frames.get(2), T0 + 3));
    assertEquals(frames.stream().mapToInt(f -> f.length).sum(), r.reassembledWireLen());
    assertEquals(1, events(FragmentEvent.DUPLICATES));
  }

  @Test
  void overlapsDropTheDatagramIpv4AndIpv6() {
    byte[] l4 = udp(5353, 40000, payload(3000, 4));
    // partial overlap: [0, 1480) then [1472, 2960)
    assertNotNull(feed(ipv4Fragment("10.0.0.1", "10.0.0.2", 17, 1, 0, true, Arrays.copyOfRange(l4, 0, 1480)), T0));
    assertNotNull(feed(ipv4Fragment("10.0.0.1", "10.0.0.2", 17, 1, 1472, true, Arrays.copyOfRange(l4, 1472, 2960)), T0));
    assertEquals(1, events(FragmentEvent.OVERLAPS));
    assertNothingHeld();

    // same place, different bytes: a conflict, not a duplicate
    List<byte[]> frames = fragments6(2, 17, l4, 1448);
    assertNotNull(feed(frames.get(1), T0));
    byte[] forged = frames.get(1).clone();
    forged[forged.length - 1] ^= 1;
    assertEquals(SkipReason.IPV6_FRAGMENT, feed(forged, T0));
    assertEquals(2, events(FragmentEvent.OVERLAPS));
    assertNothingHeld();
    // the rest of the dropped datagram starts a new one that cannot complete (RFC 5722: discarded)
    assertNotNull(feed(frames.get(0), T0));
    assertNotNull(feed(frames.get(2), T0));
    assertEquals(1, r.pendingDatagrams());
    r.finish(T0);
    assertEquals(1, events(FragmentEvent.INCOMPLETE_AT_END));
    assertEquals(0, events(FragmentEvent.REASSEMBLED));

    // a small fragment inside a large one with other bytes
    withOptions(IpFragmentReassembler.Options.defaults());
    assertNotNull(feed(ipv4Fragment("10.0.0.1", "10.0.0.2", 17, 3, 0, true, Arrays.copyOfRange(l4, 0, 1480)), T0));
    assertNotNull(feed(ipv4Fragment("10.0.0.1", "10.0.0.2", 17, 3, 8, true, new byte[8]), T0));
    assertEquals(1, events(FragmentEvent.OVERLAPS));
  }

  @Test
  void missingMiddleTimesOutInCaptureTime() {
    byte[] l4 = udp(5353, 40000, payload(4000, 5));
    List<byte[]> frames = fragments4(9, 17, l4, 1480);
    assertNotNull(feed(frames.get(0), T0));
    assertNotNull(feed(frames.get(2), T0 + SEC));
    assertEquals(1, r.pendingDatagrams());
    // another datagram's fragment 29.9 s after the first: not yet
    assertNotNull(feed(fragments4(10, 17, l4, 1480).get(0), T0 + 29 * SEC + 900_000_000L));
    assertEquals(2, r.pendingDatagrams());
    assertEquals(0, events(FragmentEvent.TIMED_OUT));
    // the middle one, 30 s after the first (the timer is not renewed by later fragments): too late
    assertNotNull(feed(frames.get(1), T0 + 30 * SEC));
    assertEquals(1, events(FragmentEvent.TIMED_OUT));
    assertEquals(0, events(FragmentEvent.REASSEMBLED));
    // at the end: datagram 10 is past its timeout by the last packet's time, the late middle one not
    r.finish(T0 + 59 * SEC + 950_000_000L);
    assertEquals(2, events(FragmentEvent.TIMED_OUT));
    assertEquals(1, events(FragmentEvent.INCOMPLETE_AT_END));
    assertNothingHeld();
  }

  @Test
  void timeoutIsAnOption() {
    withOptions(IpFragmentReassembler.Options.defaults().withTimeoutNs(1_000_000L));
    List<byte[]> frames = fragments6(1, 17, udp(5353, 40000, payload(2000, 6)), 1448);
    assertNotNull(feed(frames.get(0), T0));
    assertNotNull(feed(frames.get(1), T0 + 1_000_000L));
    assertEquals(1, events(FragmentEvent.TIMED_OUT));
  }

  @Test
  void maxDatagramsEvictsTheOldest() {
    withOptions(IpFragmentReassembler.Options.defaults().withMaxDatagrams(4));
    byte[] data = payload(2000, 7);
    byte[] l4 = udp(5353, 40000, data);
    for (int id = 0; id < 10; id++) {
      assertNotNull(feed(fragments4(id, 17, l4, 1480).get(0), T0 + id));
      assertTrue(r.pendingDatagrams() <= 4);
    }
    assertEquals(6, events(FragmentEvent.DATAGRAM_LIMIT));
    assertNotNull(feed(fragments4(0, 17, l4, 1480).get(1), T0 + 20), "datagram 0 was evicted");
    assertNull(feed(fragments4(9, 17, l4, 1480).get(1), T0 + 21), "datagram 9 is held");
    assertArrayEquals(data, p.payload());
  }

  @Test
  void thousandsOfDistinctIdsStayWithinTheDefaults() {
    IpFragmentReassembler.Options o = IpFragmentReassembler.Options.defaults();
    byte[] first = udp(5353, 40000, payload(1472, 8)); // a 1480-byte first fragment each
    for (int id = 0; id < 20_000; id++) {
      byte[] f = id % 2 == 0
          ? ipv4Fragment("10.0.0.1", "10.0.0.2", 17, id, 0, true, first)
          : ipv6Fragment("2001:db8::1", "2001:db8::2", 17, id, 0, true, first);
      assertNotNull(feed(f, T0 + id));
      assertTrue(r.pendingDatagrams() <= o.maxDatagrams);
      assertTrue(r.bufferedBytes() <= o.maxBufferedBytes);
    }
    assertEquals(20_000 - o.maxDatagrams, events(FragmentEvent.DATAGRAM_LIMIT) + events(FragmentEvent.BUFFER_LIMIT));
    r.finish(T0 + 20_000);
    assertNothingHeld();
  }

  @Test
  void maxBufferedBytesEvictsTheOldestAndRefusesWhatCannotFit() {
    withOptions(IpFragmentReassembler.Options.defaults().withMaxBufferedBytes(6_000));
    byte[] l4 = udp(5353, 40000, payload(4000, 9));
    assertNotNull(feed(fragments4(1, 17, l4, 1480).get(0), T0));
    assertNotNull(feed(fragments4(2, 17, l4, 1480).get(0), T0));
    long two = r.bufferedBytes();
    assertTrue(two > 2 * 1480 && two <= 6_000, "held " + two);
    // datagram 3 arrives by its last fragment: 4008 bytes of buffer; something must go
    List<byte[]> third = new ArrayList<>(fragments4(3, 17, l4, 1480));
    Collections.reverse(third);
    for (byte[] f : third) {
      feed(f, T0 + 1);
      assertTrue(r.bufferedBytes() <= 6_000);
    }
    assertEquals(1, events(FragmentEvent.BUFFER_LIMIT), "the oldest made room");
    assertEquals(1, events(FragmentEvent.REASSEMBLED), "the newest datagram completes");
    assertArrayEquals(Arrays.copyOfRange(l4, 8, l4.length), p.payload());

    // a datagram that alone is larger than the bound is dropped as it grows
    withOptions(IpFragmentReassembler.Options.defaults().withMaxBufferedBytes(3_000));
    List<byte[]> big = fragments4(4, 17, udp(5353, 40000, payload(8000, 10)), 1480);
    for (byte[] f : big) {
      assertNotNull(feed(f, T0));
      assertTrue(r.bufferedBytes() <= 3_000);
    }
    assertTrue(events(FragmentEvent.BUFFER_LIMIT) >= 1);
    assertEquals(0, events(FragmentEvent.REASSEMBLED));
  }

  @Test
  void largestDatagramsAndOneByteMore() {
    // IPv4: total length 65535 = 20-byte header + 65515 bytes; the UDP payload is 65507 (the largest)
    byte[] data = payload(65507, 11);
    feedAllExpectingUdp(fragments4(1, 17, udp(5353, 40000, data), 1480), data, T0);
    byte[] oneMore = udp(5353, 40000, payload(65508, 11));
    List<byte[]> frames = fragments4(2, 17, oneMore, 1480);
    for (byte[] f : frames) {
      assertNotNull(feed(f, T0));
    }
    assertEquals(1, events(FragmentEvent.TOO_LARGE));

    // IPv6: payload length 65535 = 8-byte UDP header + 65527 (no extension headers left after reassembly)
    byte[] data6 = payload(65527, 12);
    feedAllExpectingUdp(fragments6(3, 17, udp(5353, 40000, data6), 1448), data6, T0);
    List<byte[]> frames6 = fragments6(4, 17, udp(5353, 40000, payload(65528, 12)), 1448);
    for (byte[] f : frames6) {
      assertNotNull(feed(f, T0));
    }
    assertEquals(2, events(FragmentEvent.TOO_LARGE));

    // the largest offset the field can carry, with a little data: beyond 65535
    assertNotNull(feed(ipv4Fragment("10.0.0.1", "10.0.0.2", 17, 5, 8191 * 8, false, new byte[16]), T0));
    assertNotNull(feed(ipv6Fragment("::1", "::2", 17, 5, 8191 * 8, true, new byte[8]), T0));
    assertEquals(4, events(FragmentEvent.TOO_LARGE));
    r.finish(T0);
    assertEquals(2, events(FragmentEvent.REASSEMBLED));
    assertNothingHeld();
  }

  @Test
  void maxDatagramBytesIsAnOption() {
    withOptions(IpFragmentReassembler.Options.defaults().withMaxDatagramBytes(1500));
    byte[] data = payload(1000, 13);
    feedAllExpectingUdp(fragments4(1, 17, udp(5353, 40000, data), 512), data, T0);
    for (byte[] f : fragments4(2, 17, udp(5353, 40000, payload(1500, 13)), 512)) {
      feed(f, T0);
    }
    assertEquals(1, events(FragmentEvent.TOO_LARGE));
    assertThrows(IllegalArgumentException.class, () -> IpFragmentReassembler.Options.defaults().withMaxDatagramBytes(65536));
    assertThrows(IllegalArgumentException.class, () -> IpFragmentReassembler.Options.defaults().withMaxDatagrams(0));
  }

  @Test
  void malformedFragmentsDropTheirDatagram() {
    byte[] l4 = udp(5353, 40000, payload(4000, 14));
    String a = "10.0.0.1";
    String b = "10.0.0.2";
    // a zero-length middle fragment
    assertNotNull(feed(ipv4Fragment(a, b, 17, 1, 0, true, Arrays.copyOfRange(l4, 0, 1480)), T0));
    assertNotNull(feed(ipv4Fragment(a, b, 17, 1, 1480, true, new byte[0]), T0));
    assertEquals(1, events(FragmentEvent.MALFORMED));
    assertNothingHeld();
    // a non-last fragment whose length is not a multiple of 8
    assertNotNull(feed(ipv4Fragment(a, b, 17, 2, 0, true, Arrays.copyOfRange(l4, 0, 1001)), T0));
    assertEquals(2, events(FragmentEvent.MALFORMED));
    // a last fragment shorter than data already received beyond it
    assertNotNull(feed(ipv4Fragment(a, b, 17, 3, 1480, true, Arrays.copyOfRange(l4, 1480, 2960)), T0));
    assertNotNull(feed(ipv4Fragment(a, b, 17, 3, 8, false, Arrays.copyOfRange(l4, 8, 1008)), T0));
    assertEquals(3, events(FragmentEvent.MALFORMED));
    assertNothingHeld();
    // two last fragments that disagree on the end
    assertNotNull(feed(ipv6Fragment("::1", "::2", 17, 4, 1448, false, Arrays.copyOfRange(l4, 1448, 2000)), T0));
    assertNotNull(feed(ipv6Fragment("::1", "::2", 17, 4, 1448, false, Arrays.copyOfRange(l4, 1448, 2008)), T0));
    assertEquals(4, events(FragmentEvent.MALFORMED));
    // a non-last fragment beyond the end a last one set
    assertNotNull(feed(ipv6Fragment("::1", "::2", 17, 5, 1448, false, Arrays.copyOfRange(l4, 1448, 2000)), T0));
    assertNotNull(feed(ipv6Fragment("::1", "::2", 17, 5, 2896, true, Arrays.copyOfRange(l4, 0, 8)), T0));
    assertEquals(5, events(FragmentEvent.MALFORMED));
    assertNothingHeld();
    assertEquals(0, events(FragmentEvent.OVERLAPS));
  }

  @Test
  void aFragmentCutByTheSnapLengthDropsItsDatagram() {
    List<byte[]> frames = fragments4(1, 17, udp(5353, 40000, payload(4000, 15)), 1480);
    assertNotNull(feed(frames.get(0), T0));
    byte[] cut = frames.get(1);
    SkipReason d = PacketDecoder.decode(LinkType.RAW, cut, 0, 200, cut.length, p);
    assertEquals(SkipReason.IPV4_FRAGMENT, d);
    assertEquals(SkipReason.IPV4_FRAGMENT, r.accept(p, T0, cut.length));
    assertEquals(1, events(FragmentEvent.SNAP_TRUNCATED));
    assertNothingHeld();
  }

  @Test
  void tcpFragmentsAreReassembledToo() {
    byte[] data = payload(3000, 16);
    byte[] seg = tcp(6379, 50000, 1000, 2000, PSH | ACK, 512, data);
    List<byte[]> frames = fragments4(1, 6, seg, 1480);
    for (int i = 0; i < frames.size() - 1; i++) {
      assertNotNull(feed(frames.get(i), T0));
    }
    assertNull(feed(frames.get(frames.size() - 1), T0));
    assertEquals(DecodedPacket.TCP, p.transport());
    assertEquals(1000, p.seq());
    assertEquals(PSH | ACK, p.flags());
    assertArrayEquals(data, p.payload());
  }

  @Test
  void otherProtocolsAreReassembledThenSkipped() {
    byte[] icmp = payload(4000, 17);
    icmp[0] = 8; // echo request
    List<byte[]> frames = fragments4(1, 1, icmp, 1480);
    feed(frames.get(0), T0);
    feed(frames.get(1), T0);
    assertEquals(SkipReason.NOT_TCP_OR_UDP, feed(frames.get(2), T0));
    assertEquals(1, events(FragmentEvent.REASSEMBLED));
    assertNothingHeld();
  }

  @Test
  void ipv6FragmentAfterOtherExtensionHeadersAndOnlyTheFirstNextHeaderCounts() {
    byte[] data = payload(3000, 18);
    // hop-by-hop -> destination options -> fragment; non-first fragments say TCP (RFC 8200: only offset 0 counts)
    List<byte[]> frames = new ArrayList<>(fragments6AfterTwoHeaders(77, off -> off == 0 ? 17 : 6, udp(5353, 40000, data)));
    Collections.reverse(frames);
    feedAllExpectingUdp(frames, data, T0);

    // the unfragmentable headers count toward the 65535 payload length
    withOptions(IpFragmentReassembler.Options.defaults());
    for (byte[] f : fragments6AfterTwoHeaders(78, off -> 17, udp(5353, 40000, payload(65527 - 24, 19)))) {
      feed(f, T0);
    }
    assertEquals(1, events(FragmentEvent.REASSEMBLED), stats.toString());
    for (byte[] f : fragments6AfterTwoHeaders(79, off -> 17, udp(5353, 40000, payload(65527 - 23, 19)))) {
      feed(f, T0);
    }
    assertEquals(1, events(FragmentEvent.TOO_LARGE));
  }

  @Test
  void v4KeyHasTheProtocolV6KeyDoesNot() {
    byte[] l4 = udp(5353, 40000, payload(2000, 20));
    List<byte[]> udpFrags = fragments4(5, 17, l4, 1480);
    assertNotNull(feed(udpFrags.get(0), T0));
    assertNotNull(feed(fragments4(5, 6, l4, 1480).get(1), T0)); // same id, TCP: another datagram
    assertEquals(2, r.pendingDatagrams());
    assertNull(feed(udpFrags.get(1), T0));
  }

  @Test
  void hostileFragmentsNeverThrowAndStayBounded() {
    IpFragmentReassembler.Options o = IpFragmentReassembler.Options.defaults()
        .withMaxDatagrams(64).withMaxBufferedBytes(256 * 1024).withTimeoutNs(5_000_000L);
    withOptions(o);
    Random rnd = new Random(1234);
    byte[] junk = new byte[3000];
    rnd.nextBytes(junk);
    long t = T0;
    for (int i = 0; i < 100_000; i++) {
      t += (i / 10_000) % 2 == 0 ? rnd.nextInt(200_000) : rnd.nextInt(100); // slow, then floods
      int id = rnd.nextInt(rnd.nextBoolean() ? 8 : 100_000);
      int off = rnd.nextInt(16) == 0 ? 8 * rnd.nextInt(8192) : 8 * rnd.nextInt(64);
      int len = rnd.nextInt(5) == 0 ? rnd.nextInt(20) : 8 * rnd.nextInt(200);
      byte[] data = Arrays.copyOfRange(junk, 0, Math.min(len, junk.length));
      boolean more = rnd.nextInt(3) != 0;
      byte[] f = rnd.nextBoolean()
          ? ipv4Fragment("10.0.0.1", "10.0.0.2", 17, id, off, more || off == 0, data)
          : ipv6Fragment("::1", "::2", rnd.nextBoolean() ? 17 : 6, id, off, more || off == 0, data);
      SkipReason d = PacketDecoder.decode(LinkType.RAW, f, 0, f.length, f.length, p);
      if (d == SkipReason.IPV4_FRAGMENT || d == SkipReason.IPV6_FRAGMENT) {
        if (r.accept(p, t, f.length) == null) {
          assertTrue(p.payloadOff() + p.capturedPayloadLen() <= p.frame().length);
        }
      }
      assertTrue(r.pendingDatagrams() <= o.maxDatagrams);
      assertTrue(r.bufferedBytes() <= o.maxBufferedBytes);
      assertTrue(r.bufferedBytes() >= 0);
    }
    r.finish(t);
    assertNothingHeld();
    for (FragmentEvent e : new FragmentEvent[] {FragmentEvent.OVERLAPS, FragmentEvent.MALFORMED, FragmentEvent.TOO_LARGE,
        FragmentEvent.TIMED_OUT, FragmentEvent.DATAGRAM_LIMIT, FragmentEvent.BUFFER_LIMIT, FragmentEvent.DUPLICATES}) {
      assertTrue(events(e) > 0, e + " never hit: " + stats);
    }
  }

  @Test
  void bitmapRanges() {
    long[] bits = new long[3];
    IpFragmentReassembler.setRange(bits, 3, 130);
    assertEquals(127, IpFragmentReassembler.countSet(bits, 0, 192));
    assertEquals(0, IpFragmentReassembler.countSet(bits, 0, 3));
    assertEquals(1, IpFragmentReassembler.countSet(bits, 129, 500));
    assertEquals(64, IpFragmentReassembler.countSet(bits, 64, 128));
    assertEquals(0, IpFragmentReassembler.countSet(null, 0, 10));
    assertEquals(0, IpFragmentReassembler.countSet(bits, 300, 400));
  }
}
