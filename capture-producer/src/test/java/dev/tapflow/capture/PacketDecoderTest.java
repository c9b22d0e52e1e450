package dev.tapflow.capture;

import static dev.tapflow.capture.TestFrames.*;
import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class PacketDecoderTest {
  private final DecodedPacket p = new DecodedPacket();

  private SkipReason decode(int linkType, byte[] frame) {
    return PacketDecoder.decode(linkType, frame, 0, frame.length, frame.length, p);
  }

  private static byte[] tcp4(byte[] payload) {
    return ipv4("192.168.1.10", "10.1.2.3", 6, tcp(51000, 6379, 0xFFFFFFF0L, 0x80000001L, PSH | ACK, 512, payload));
  }

  @Test
  void ethernetIpv4TcpFieldsExactly() {
    byte[] f = ethernet(tcp4(ascii("*1\r\n$4\r\nPING\r\n")));
    assertNull(decode(LinkType.EN10MB, f));
    assertEquals(4, p.ipVersion());
    assertArrayEquals(addr("192.168.1.10"), p.srcAddr());
    assertArrayEquals(addr("10.1.2.3"), p.dstAddr());
    assertEquals(DecodedPacket.TCP, p.transport());
    assertEquals(51000, p.srcPort());
    assertEquals(6379, p.dstPort());
    assertEquals(0xFFFFFFF0L, p.seq(), "seq is unsigned 32-bit");
    assertEquals(0x80000001L, p.ack(), "ack is unsigned 32-bit");
    assertEquals(PSH | ACK, p.flags());
    assertEquals(512, p.window());
    assertEquals(14, p.payloadLen());
    assertEquals(14, p.capturedPayloadLen());
    assertArrayEquals(ascii("*1\r\n$4\r\nPING\r\n"), p.payload());
    assertEquals(14 + 20 + 20, p.payloadOff());
  }

  @Test
  void frameAtAnOffsetInALargerBuffer() {
    byte[] f = ethernet(tcp4(ascii("abc")));
    byte[] buf = concat(new byte[7], f, new byte[5]);
    assertNull(PacketDecoder.decode(LinkType.EN10MB, buf, 7, f.length, f.length, p));
    assertEquals(7 + 54, p.payloadOff());
    assertArrayEquals(ascii("abc"), p.payload());
  }

  @Test
  void vlanTagsStackedOfEveryKind() {
    byte[] l3 = tcp4(ascii("x"));
    assertNull(decode(LinkType.EN10MB, ethernet(l3, 0x8100)));
    assertArrayEquals(ascii("x"), p.payload());
    assertNull(decode(LinkType.EN10MB, ethernet(l3, 0x88A8, 0x8100)));
    assertArrayEquals(ascii("x"), p.payload());
    assertNull(decode(LinkType.EN10MB, ethernet(l3, 0x9100, 0x88A8, 0x8100)));
    assertEquals(51000, p.srcPort());
    int[] tooMany = new int[PacketDecoder.MAX_VLAN_TAGS + 1];
    java.util.Arrays.fill(tooMany, 0x8100);
    assertEquals(SkipReason.NOT_IP, decode(LinkType.EN10MB, ethernet(l3, tooMany)));
    // a VLAN tag in a Linux cooked capture
    byte[] sllVlan = sll(concat(new byte[] {0, 100, 0x08, 0x00}, l3));
    sllVlan[14] = (byte) 0x81;
    sllVlan[15] = 0x00;
    assertNull(decode(LinkType.LINUX_SLL, sllVlan));
    assertArrayEquals(ascii("x"), p.payload());
  }

  @Test
  void nonIpFramesAreNotIp() {
    assertEquals(SkipReason.NOT_IP, decode(LinkType.EN10MB, ethernetType(0x0806, new byte[28]))); // ARP
    assertEquals(SkipReason.NOT_IP, decode(LinkType.EN10MB, ethernetType(0x0026, new byte[38]))); // 802.3 length
    assertEquals(SkipReason.NOT_IP, decode(LinkType.NULL, nullLe(7, tcp4(new byte[0]))));
    assertEquals(SkipReason.NOT_IP, decode(LinkType.LOOP, nullBe(17, tcp4(new byte[0]))));
  }

  @Test
  void everyLinkTypeFindsTheSamePacket() {
    byte[] v4 = tcp4(ascii("hello"));
    byte[] v6 = ipv6("2001:db8::1", "2001:db8::2", 6, tcp(1, 2, 3, 4, PSH | ACK, 5, ascii("hello")));
    int[][] cases = {
        {LinkType.EN10MB}, {LinkType.LINUX_SLL}, {LinkType.LINUX_SLL2}, {LinkType.RAW}, {LinkType.RAW_OPENBSD},
        {LinkType.LINKTYPE_RAW}, {LinkType.IPV4}, {LinkType.IPV6}, {LinkType.NULL}, {LinkType.LOOP}};
    for (int[] c : cases) {
      int lt = c[0];
      for (byte[] l3 : new byte[][] {v4, v6}) {
        boolean isV6 = l3 == v6;
        if ((lt == LinkType.IPV4 && isV6) || (lt == LinkType.IPV6 && !isV6)) {
          continue;
        }
        UnaryOperator<byte[]> wrap;
        switch (lt) {
          case LinkType.EN10MB: wrap = TestFrames::ethernet; break;
          case LinkType.LINUX_SLL: wrap = TestFrames::sll; break;
          case LinkType.LINUX_SLL2: wrap = TestFrames::sll2; break;
          case LinkType.NULL: wrap = b -> nullLe(isV6 ? 30 : 2, b); break;
          case LinkType.LOOP: wrap = b -> nullBe(isV6 ? 24 : 2, b); break;
          default: wrap = b -> b;
        }
        assertNull(decode(lt, wrap.apply(l3)), LinkType.name(lt));
        assertEquals(isV6 ? 6 : 4, p.ipVersion(), LinkType.name(lt));
        assertArrayEquals(ascii("hello"), p.payload(), LinkType.name(lt));
      }
    }
  }

  @Test
  void bsdLoopbackFamilyInEitherByteOrderAndEveryIpv6Value() {
    byte[] v4 = tcp4(ascii("a"));
    assertNull(decode(LinkType.NULL, nullLe(2, v4)));
    assertNull(decode(LinkType.NULL, nullBe(2, v4)));
    byte[] v6 = ipv6("::1", "::1", 17, udp(53, 5353, ascii("q")));
    for (int family : new int[] {24, 28, 30}) {
      assertNull(decode(LinkType.NULL, nullLe(family, v6)), "LE " + family);
      assertEquals(6, p.ipVersion());
      assertNull(decode(LinkType.NULL, nullBe(family, v6)), "BE " + family);
      assertNull(decode(LinkType.LOOP, nullBe(family, v6)), "LOOP " + family);
      assertEquals(DecodedPacket.UDP, p.transport());
    }
    // DLT_LOOP is always network order: a little-endian family is not IP there
    assertEquals(SkipReason.NOT_IP, decode(LinkType.LOOP, nullLe(2, v4)));
  }

  @Test
  void ipv4OptionsAndEthernetPadding() {
    byte[] withOptions = ipv4("1.2.3.4", "5.6.7.8", 6, tcp(1000, 2000, 1, 2, ACK | PSH, 9, ascii("data")), 8, 0);
    assertNull(decode(LinkType.EN10MB, ethernet(withOptions)));
    assertArrayEquals(ascii("data"), p.payload());
    assertEquals(14 + 28 + 20, p.payloadOff());

    // 2-byte UDP payload padded by Ethernet to 60 bytes: padding is not payload
    byte[] small = ethernet(ipv4("1.2.3.4", "5.6.7.8", 17, udp(53, 999, ascii("hi"))));
    byte[] padded = concat(small, new byte[60 - small.length]);
    padded[padded.length - 1] = 0x55;
    assertNull(decode(LinkType.EN10MB, padded));
    assertEquals(2, p.payloadLen());
    assertArrayEquals(ascii("hi"), p.payload());
    assertEquals(0, p.seq());
    assertEquals(0, p.flags());
  }

  @Test
  void ipv4FragmentsAreSkippedButDontFragmentIsNot() {
    byte[] l4 = udp(53, 999, ascii("x"));
    assertEquals(SkipReason.IPV4_FRAGMENT, decode(LinkType.RAW, ipv4("1.1.1.1", "2.2.2.2", 17, l4, 0, 0x2000)));
    assertEquals(SkipReason.IPV4_FRAGMENT, decode(LinkType.RAW, ipv4("1.1.1.1", "2.2.2.2", 17, l4, 0, 0x00B9)));
    assertEquals(SkipReason.IPV4_FRAGMENT, decode(LinkType.RAW, ipv4("1.1.1.1", "2.2.2.2", 17, l4, 0, 0x20B9)));
    assertNull(decode(LinkType.RAW, ipv4("1.1.1.1", "2.2.2.2", 17, l4, 0, 0x4000)));
    assertNull(decode(LinkType.RAW, ipv4("1.1.1.1", "2.2.2.2", 17, l4, 0, 0x8000))); // reserved bit alone
  }

  @Test
  void fragmentsCarryTheirPlaceInTheDatagram() {
    byte[] data = new byte[1480];
    byte[] v4 = ethernet(ipv4Fragment("1.1.1.1", "2.2.2.2", 17, 0xBEEF, 2960, true, data));
    assertEquals(SkipReason.IPV4_FRAGMENT, decode(LinkType.EN10MB, v4));
    assertEquals(4, p.ipVersion());
    assertArrayEquals(addr("1.1.1.1"), p.srcAddr());
    assertArrayEquals(addr("2.2.2.2"), p.dstAddr());
    assertEquals(0xBEEF, p.fragId);
    assertEquals(17, p.fragProto);
    assertEquals(2960, p.fragOffset);
    assertTrue(p.fragMore);
    assertEquals(14 + 20, p.fragDataOff);
    assertEquals(1480, p.fragDataLen);
    assertEquals(1480, p.fragCapturedLen);
    assertEquals(20, p.fragHeaderLen);
    // cut by the snap length
    assertEquals(SkipReason.IPV4_FRAGMENT, PacketDecoder.decode(LinkType.EN10MB, v4, 0, 100, v4.length, p));
    assertEquals(1480, p.fragDataLen);
    assertEquals(100 - 34, p.fragCapturedLen);

    // IPv6 after a hop-by-hop header; a 32-bit identification; the M flag clear
    byte[] frag = ipv6Fragment("::1", "::2", 17, 0xCAFEBABE, 65528, false, new byte[7]);
    byte[] v6 = ipv6("::1", "::2", 0, concat(ext(44, 0), java.util.Arrays.copyOfRange(frag, 40, frag.length)));
    assertEquals(SkipReason.IPV6_FRAGMENT, decode(LinkType.RAW, v6));
    assertEquals(6, p.ipVersion());
    assertArrayEquals(addr("::2"), p.dstAddr());
    assertEquals(0xCAFEBABE, p.fragId);
    assertEquals(65528, p.fragOffset);
    assertFalse(p.fragMore);
    assertEquals(40 + 8 + 8, p.fragDataOff);
    assertEquals(7, p.fragDataLen);
    assertEquals(8, p.fragHeaderLen, "the hop-by-hop header counts in the payload length");
  }

  @Test
  void badIpv4Headers() {
    byte[] ok = tcp4(ascii("x"));
    byte[] ihl4 = ok.clone();
    ihl4[0] = 0x44;
    assertEquals(SkipReason.BAD_IP_HEADER, decode(LinkType.RAW, ihl4));
    byte[] v6nibble = ok.clone();
    v6nibble[0] = 0x65;
    assertEquals(SkipReason.BAD_IP_HEADER, decode(LinkType.IPV4, v6nibble));
    assertEquals(SkipReason.BAD_IP_HEADER, decode(LinkType.EN10MB, ethernetType(0x0800, v6nibble)));
    byte[] shortTotal = ok.clone();
    shortTotal[2] = 0;
    shortTotal[3] = 12;
    assertEquals(SkipReason.BAD_IP_HEADER, decode(LinkType.RAW, shortTotal));
    byte[] nibble5 = ok.clone();
    nibble5[0] = 0x55;
    assertEquals(SkipReason.BAD_IP_HEADER, decode(LinkType.RAW, nibble5));
    assertEquals(SkipReason.NOT_TCP_OR_UDP, decode(LinkType.RAW, ipv4("1.1.1.1", "2.2.2.2", 1, new byte[8])));
  }

  @Test
  void ipLengthZeroIsTakenFromTheWire() {
    // TSO: the NIC fills in the IPv4 total length; the capture shows 0
    byte[] f = ethernet(tcp4(ascii("0123456789")));
    f[14 + 2] = 0;
    f[14 + 3] = 0;
    assertNull(decode(LinkType.EN10MB, f));
    assertEquals(10, p.payloadLen());
    assertArrayEquals(ascii("0123456789"), p.payload());
  }

  /**
   * A hostile original length (up to 2^31 - 1 as read) with a TSO zero length: the payload's
   * length is what the header says, its captured part never more than the frame holds (Jazzer
   * found the transport's end wrapping negative, and a 2 GB allocation).
   */
  @Test
  void aHugeWireLengthWithTsoCapturesOnlyTheFrame() {
    byte[] frame = ethernet(tcp4(ascii("0123456789")));
    frame[14 + 2] = 0;
    frame[14 + 3] = 0;
    // as the file reader passes it: the frame somewhere inside a read buffer
    for (int at : new int[] {0, 16, 4096, 1 << 20}) {
      byte[] buf = new byte[at + frame.length + 100];
      System.arraycopy(frame, 0, buf, at, frame.length);
      for (int wire : new int[] {Integer.MAX_VALUE, Integer.MAX_VALUE - 20, 1 << 30, 70_000}) {
        String where = "at " + at + " wire " + wire;
        assertNull(PacketDecoder.decode(LinkType.EN10MB, buf, at, frame.length, wire, p), where);
        assertEquals(10, p.capturedPayloadLen(), where);
        assertArrayEquals(ascii("0123456789"), p.payload(), where);
        assertEquals(wire - 14 - 20 - 20, p.payloadLen(), where);
      }
    }
  }

  @Test
  void ipv6ExtensionHeadersAreWalked() {
    byte[] seg = tcp(443, 50000, 7, 8, ACK | PSH, 100, ascii("tls"));
    byte[] rest = concat(ext(43, 0), ext(60, 2), ext(6, 0), seg); // hop-by-hop -> routing -> dest opts -> TCP
    assertNull(decode(LinkType.RAW, ipv6("fe80::1", "fe80::2", 0, rest)));
    assertEquals(6, p.ipVersion());
    assertEquals(443, p.srcPort());
    assertArrayEquals(ascii("tls"), p.payload());
    assertEquals(3, p.payloadLen());
    assertArrayEquals(addr("fe80::1"), p.srcAddr());

    // authentication header: length in 4-byte units minus 2 (here 24 bytes)
    byte[] ah = new byte[24];
    ah[0] = 17;
    ah[1] = 4;
    assertNull(decode(LinkType.RAW, ipv6("::1", "::2", 51, concat(ah, udp(1, 2, ascii("u"))))));
    assertArrayEquals(ascii("u"), p.payload());

    // atomic fragment (offset 0, no more): a whole packet
    assertNull(decode(LinkType.RAW, ipv6("::1", "::2", 44, concat(fragment(6, 0, false), seg))));
    assertArrayEquals(ascii("tls"), p.payload());
    assertEquals(SkipReason.IPV6_FRAGMENT, decode(LinkType.RAW, ipv6("::1", "::2", 44, concat(fragment(6, 0, true), seg))));
    assertEquals(SkipReason.IPV6_FRAGMENT, decode(LinkType.RAW, ipv6("::1", "::2", 0, concat(ext(44, 0), fragment(6, 185, false), seg))));

    assertEquals(SkipReason.NOT_TCP_OR_UDP, decode(LinkType.RAW, ipv6("::1", "::2", 58, new byte[8]))); // ICMPv6
    assertEquals(SkipReason.NOT_TCP_OR_UDP, decode(LinkType.RAW, ipv6("::1", "::2", 59, new byte[0]))); // no next header

    // an extension header longer than the payload length says
    byte[] lying = ipv6("::1", "::2", 0, concat(ext(6, 3), seg));
    lying[4] = 0;
    lying[5] = 16;
    assertEquals(SkipReason.BAD_IP_HEADER, decode(LinkType.RAW, lying));

    // a chain longer than the limit
    byte[] chain = seg;
    for (int i = 0; i <= PacketDecoder.MAX_IPV6_EXTENSION_HEADERS; i++) {
      chain = concat(ext(i == 0 ? 6 : 60, 0), chain);
    }
    assertEquals(SkipReason.BAD_IP_HEADER, decode(LinkType.RAW, ipv6("::1", "::2", 60, chain)));
  }

  @Test
  void tcpHeaderChecks() {
    byte[] ok = tcp4(ascii("x"));
    byte[] doff4 = ok.clone();
    doff4[20 + 12] = 0x40;
    assertEquals(SkipReason.BAD_TCP_HEADER, decode(LinkType.RAW, doff4));
    byte[] doffTooBig = ok.clone();
    doffTooBig[20 + 12] = (byte) 0xF0;
    assertEquals(SkipReason.BAD_TCP_HEADER, decode(LinkType.RAW, doffTooBig));
    byte[] withOptions = ipv4("1.1.1.1", "2.2.2.2", 6, tcp(1, 2, 3, 4, SYN, 5, new byte[] {2, 4, 5, (byte) 0xB4, 4, 2}, new byte[0]));
    assertNull(decode(LinkType.RAW, withOptions));
    assertEquals(SYN, p.flags());
    assertEquals(0, p.payloadLen());
    assertEquals(SkipReason.BAD_TCP_HEADER, decode(LinkType.RAW, ipv4("1.1.1.1", "2.2.2.2", 6, new byte[12])));
    assertEquals(SkipReason.TRUNCATED_UDP_HEADER, decode(LinkType.RAW, ipv4("1.1.1.1", "2.2.2.2", 17, new byte[6])));
  }

  @Test
  void snapLengthCutsKeepWhatWasCaptured() {
    byte[] payload = new byte[100];
    for (int i = 0; i < payload.length; i++) {
      payload[i] = (byte) i;
    }
    byte[] f = ethernet(tcp4(payload));
    // 54 bytes of headers + 6 of payload captured, 154 on the wire
    assertNull(PacketDecoder.decode(LinkType.EN10MB, f, 0, 60, f.length, p));
    assertEquals(100, p.payloadLen());
    assertEquals(6, p.capturedPayloadLen());
    assertArrayEquals(new byte[] {0, 1, 2, 3, 4, 5}, p.payload());
    // cut inside TCP options: header fields known, no payload captured
    byte[] opts = ethernet(ipv4("1.1.1.1", "2.2.2.2", 6, tcp(1, 2, 3, 4, ACK | PSH, 5, new byte[12], payload)));
    assertNull(PacketDecoder.decode(LinkType.EN10MB, opts, 0, 14 + 20 + 24, opts.length, p));
    assertEquals(100, p.payloadLen());
    assertEquals(0, p.capturedPayloadLen());
    assertEquals(SkipReason.TRUNCATED_TCP_HEADER, PacketDecoder.decode(LinkType.EN10MB, f, 0, 40, f.length, p));
    assertEquals(SkipReason.TRUNCATED_IP_HEADER, PacketDecoder.decode(LinkType.EN10MB, f, 0, 30, f.length, p));
    assertEquals(SkipReason.TRUNCATED_LINK_HEADER, PacketDecoder.decode(LinkType.EN10MB, f, 0, 13, f.length, p));
  }

  @Test
  void everyPrefixOfEveryFrameDecodesOrIsSkippedAsTruncated() {
    byte[] v4 = tcp4(ascii("payload!"));
    byte[] v6 = ipv6("2001:db8::1", "2001:db8::2", 0, concat(ext(60, 1), ext(17, 0), udp(1, 2, ascii("dgram"))));
    byte[][] frames = {
        ethernet(v4, 0x88A8, 0x8100), sll(v4), sll2(v6), nullLe(2, v4), nullBe(28, v6), v4, v6, ethernet(v6)};
    int[] lts = {LinkType.EN10MB, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL, LinkType.NULL,
        LinkType.RAW, LinkType.RAW, LinkType.EN10MB};
    for (int i = 0; i < frames.length; i++) {
      byte[] f = frames[i];
      assertNull(PacketDecoder.decode(lts[i], f, 0, f.length, f.length, p));
      int fullPayload = p.payloadLen();
      int payloadOff = p.payloadOff();
      for (int cap = 0; cap < f.length; cap++) {
        SkipReason r = PacketDecoder.decode(lts[i], f, 0, cap, f.length, p);
        if (r == null) {
          assertTrue(cap >= payloadOff, "frame " + i + " cap " + cap);
          assertEquals(fullPayload, p.payloadLen());
          assertEquals(cap - payloadOff, p.capturedPayloadLen());
        } else {
          assertTrue(r.name().startsWith("TRUNCATED_"), "frame " + i + " cap " + cap + ": " + r);
        }
      }
    }
  }

  @Test
  void randomBytesNeverThrow() {
    Random rnd = new Random(42);
    int[] lts = {LinkType.EN10MB, LinkType.LINUX_SLL, LinkType.LINUX_SLL2, LinkType.NULL, LinkType.LOOP,
        LinkType.RAW, LinkType.IPV4, LinkType.IPV6, 105};
    byte[] v4 = ethernet(tcp4(ascii("abc")));
    for (int i = 0; i < 200_000; i++) {
      byte[] f;
      if (i % 2 == 0) {
        f = new byte[rnd.nextInt(120)];
        rnd.nextBytes(f);
        if (f.length > 0 && rnd.nextBoolean()) {
          f[0] = (byte) (rnd.nextBoolean() ? 0x45 : 0x60);
        }
      } else {
        f = v4.clone(); // mutate a valid frame
        for (int k = 0; k < 3; k++) {
          f[rnd.nextInt(f.length)] = (byte) rnd.nextInt(256);
        }
      }
      int lt = lts[rnd.nextInt(lts.length)];
      SkipReason r = PacketDecoder.decode(lt, f, 0, f.length, f.length + rnd.nextInt(3), p);
      if (r == null) {
        assertTrue(p.payloadOff() + p.capturedPayloadLen() <= f.length);
        assertTrue(p.capturedPayloadLen() <= p.payloadLen());
        assertTrue(p.payloadLen() >= 0);
      }
    }
  }

  @Test
  void unsupportedLinkType() {
    assertEquals(SkipReason.UNSUPPORTED_LINK_TYPE, decode(105, new byte[64]));
    assertEquals(SkipReason.BAD_IP_HEADER, decode(LinkType.RAW, new byte[] {0x10, 0, 0}));
  }
}
