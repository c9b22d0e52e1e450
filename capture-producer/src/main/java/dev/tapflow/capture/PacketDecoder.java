package dev.tapflow.capture;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * Parses link, IP and TCP/UDP headers in place from a captured frame: no copies, no objects,
 * a {@link DecodedPacket} flyweight filled with offsets. Pure and stateless: IP fragments are
 * reassembled by the caller ({@link IpFragmentReassembler}), which parses the whole datagram's
 * transport header here too.
 *
 * <p>Decisions:
 * <ul>
 *   <li>Checksums are never checked: with checksum offload, captured outbound packets
 *       routinely carry wrong ones.</li>
 *   <li>Lengths come from the IP header (Ethernet padding is not payload). A frame cut by the
 *       snap length keeps what was captured; {@code payloadLen} still says what was on the wire.
 *       An IP length of 0 (TSO, IPv6 jumbograms) is taken from the frame's original length.</li>
 *   <li>An IP fragment is returned as {@link SkipReason#IPV4_FRAGMENT} or
 *       {@link SkipReason#IPV6_FRAGMENT} with its addresses and its place in the datagram filled
 *       in ({@code DecodedPacket.frag*}), for {@link IpFragmentReassembler}. An IPv6 atomic
 *       fragment (offset 0, no more fragments; RFC 6946) is a whole packet and is parsed.</li>
 * </ul>
 */
public final class PacketDecoder {
  /** Limit on stacked VLAN tags (802.1Q / 802.1ad / 0x9100) before a frame is NOT_IP. */
  public static final int MAX_VLAN_TAGS = 8;
  /** Limit on IPv6 extension headers walked before a packet is BAD_IP_HEADER. */
  public static final int MAX_IPV6_EXTENSION_HEADERS = 16;

  private static final int ETHERTYPE_IPV4 = 0x0800;
  private static final int ETHERTYPE_IPV6 = 0x86DD;
  private static final int ETHERTYPE_VLAN = 0x8100;
  private static final int ETHERTYPE_QINQ = 0x88A8;
  private static final int ETHERTYPE_QINQ_OLD = 0x9100;

  private static final int AF_INET = 2;
  private static final int AF_INET6_BSD = 24;
  private static final int AF_INET6_FREEBSD = 28;
  private static final int AF_INET6_DARWIN = 30;

  private PacketDecoder() {}

  /**
   * Decodes one frame.
   *
   * @param linkType the capture's DLT ({@link LinkType})
   * @param frame the captured bytes
   * @param off where the frame starts in {@code frame}
   * @param capLen captured length
   * @param wireLen original length on the wire
   * @param out filled on success; garbage otherwise
   * @return null when {@code out} holds a TCP or UDP packet, else why it was skipped
   */
  public static SkipReason decode(int linkType, byte[] frame, int off, int capLen, int wireLen, DecodedPacket out) {
    final byte[] b = frame;
    final int end = off + capLen;
    int p;
    int ethertype;
    switch (linkType) {
      case LinkType.EN10MB:
        // dst(6) src(6) type(2)
        if (capLen < 14) return SkipReason.TRUNCATED_LINK_HEADER;
        ethertype = u16(b, off + 12);
        p = off + 14;
        break;
      case LinkType.LINUX_SLL:
        // packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
        if (capLen < 16) return SkipReason.TRUNCATED_LINK_HEADER;
        ethertype = u16(b, off + 14);
        p = off + 16;
        break;
      case LinkType.LINUX_SLL2:
        // protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
        if (capLen < 20) return SkipReason.TRUNCATED_LINK_HEADER;
        ethertype = u16(b, off);
        p = off + 20;
        break;
      case LinkType.NULL: {
        // 4-byte AF_ value in the capturing host's byte order: the zero half tells which
        if (capLen < 4) return SkipReason.TRUNCATED_LINK_HEADER;
        int family = (b[off] == 0 && b[off + 1] == 0)
            ? u16(b, off + 2)
            : ((b[off] & 0xFF) | (b[off + 1] & 0xFF) << 8);
        ethertype = familyToEthertype(family);
        p = off + 4;
        break;
      }
      case LinkType.LOOP: {
        // 4-byte AF_ value, network byte order
        if (capLen < 4) return SkipReason.TRUNCATED_LINK_HEADER;
        int family = (int) u32(b, off);
        ethertype = familyToEthertype(family);
        p = off + 4;
        break;
      }
      case LinkType.RAW:
      case LinkType.RAW_OPENBSD:
      case LinkType.LINKTYPE_RAW:
        if (capLen < 1) return SkipReason.TRUNCATED_IP_HEADER;
        switch ((b[off] >> 4) & 0xF) {
          case 4: ethertype = ETHERTYPE_IPV4; break;
          case 6: ethertype = ETHERTYPE_IPV6; break;
          default: return SkipReason.BAD_IP_HEADER;
        }
        p = off;
        break;
      case LinkType.IPV4:
        ethertype = ETHERTYPE_IPV4;
        p = off;
        break;
      case LinkType.IPV6:
        ethertype = ETHERTYPE_IPV6;
        p = off;
        break;
      default:
        return SkipReason.UNSUPPORTED_LINK_TYPE;
    }

    // VLAN tags (Ethernet and cooked captures): TCI(2) then the next ethertype(2)
    for (int tags = 0; ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ || ethertype == ETHERTYPE_QINQ_OLD; tags++) {
      if (tags == MAX_VLAN_TAGS) return SkipReason.NOT_IP;
      if (end - p < 4) return SkipReason.TRUNCATED_LINK_HEADER;
      ethertype = u16(b, p + 2);
      p += 4;
    }

    out.frame = frame;
    int ipWireLen = wireLen - (p - off); // IP bytes on the wire, for IP lengths of 0
    if (ethertype == ETHERTYPE_IPV4) {
      return decodeIpv4(b, p, end, ipWireLen, out);
    } else if (ethertype == ETHERTYPE_IPV6) {
      return decodeIpv6(b, p, end, ipWireLen, out);
    }
    return SkipReason.NOT_IP;
  }

  private static int familyToEthertype(int family) {
    switch (family) {
      case AF_INET: return ETHERTYPE_IPV4;
      case AF_INET6_BSD: case AF_INET6_FREEBSD: case AF_INET6_DARWIN: return ETHERTYPE_IPV6;
      default: return -1;
    }
  }

  // RFC 791 section 3.1
  private static SkipReason decodeIpv4(byte[] b, int p, int end, int ipWireLen, DecodedPacket out) {
    if (end - p < 20) return SkipReason.TRUNCATED_IP_HEADER;
    int vihl = b[p] & 0xFF;
    if ((vihl >> 4) != 4) return SkipReason.BAD_IP_HEADER;
    int hl = (vihl & 0xF) * 4;
    if (hl < 20) return SkipReason.BAD_IP_HEADER;
    if (end - p < hl) return SkipReason.TRUNCATED_IP_HEADER;
    int total = u16(b, p + 2);
    if (total == 0) total = ipWireLen; // TSO: the NIC fills the length in
    if (total < hl) return SkipReason.BAD_IP_HEADER;
    out.ipVersion = 4;
    out.addrLen = 4;
    out.srcAddrOff = p + 12;
    out.dstAddrOff = p + 16;
    // flags(3) fragment offset(13): MF or a non-zero offset make a fragment
    int frag = u16(b, p + 6);
    if ((frag & 0x3FFF) != 0) {
      // identification at p + 4; offset in 8-byte units
      fragment(out, u16(b, p + 4), b[p + 9] & 0xFF, (frag & 0x1FFF) * 8, (frag & 0x2000) != 0, p + hl, total - hl, end, hl);
      return SkipReason.IPV4_FRAGMENT;
    }
    return decodeTransport(b[p + 9] & 0xFF, b, p + hl, total - hl, end, out);
  }

  // RFC 8200 sections 3 and 4
  private static SkipReason decodeIpv6(byte[] b, int p, int end, int ipWireLen, DecodedPacket out) {
    if (end - p < 40) return SkipReason.TRUNCATED_IP_HEADER;
    if (((b[p] & 0xFF) >> 4) != 6) return SkipReason.BAD_IP_HEADER;
    int remaining = u16(b, p + 4);
    if (remaining == 0) remaining = Math.max(0, ipWireLen - 40); // jumbogram or TSO
    int next = b[p + 6] & 0xFF;
    int q = p + 40;
    for (int n = 0; ; n++) {
      int hlen;
      switch (next) {
        case 0:   // hop-by-hop options
        case 43:  // routing
        case 60:  // destination options
        case 51:  // authentication header (RFC 4302): length in 4-byte units minus 2
          if (n == MAX_IPV6_EXTENSION_HEADERS) return SkipReason.BAD_IP_HEADER;
          if (end - q < 2) return SkipReason.TRUNCATED_IP_HEADER;
          hlen = next == 51 ? ((b[q + 1] & 0xFF) + 2) * 4 : ((b[q + 1] & 0xFF) + 1) * 8;
          break;
        case 44: { // fragment: next(1) reserved(1) offset(13) res(2) M(1) id(4)
          if (n == MAX_IPV6_EXTENSION_HEADERS) return SkipReason.BAD_IP_HEADER;
          if (end - q < 8) return SkipReason.TRUNCATED_IP_HEADER;
          int offM = u16(b, q + 2);
          if ((offM & 0xFFF9) != 0) {
            if (remaining < 8) return SkipReason.BAD_IP_HEADER;
            out.ipVersion = 6;
            out.addrLen = 16;
            out.srcAddrOff = p + 8;
            out.dstAddrOff = p + 24;
            // the offset field is already x 8 in place: its low 3 bits are res(2) M(1)
            fragment(out, (int) u32(b, q + 4), b[q] & 0xFF, offM & 0xFFF8, (offM & 1) != 0, q + 8, remaining - 8, end, q - p - 40);
            return SkipReason.IPV6_FRAGMENT;
          }
          hlen = 8; // atomic fragment: the whole packet
          break;
        }
        default:
          out.ipVersion = 6;
          out.addrLen = 16;
          out.srcAddrOff = p + 8;
          out.dstAddrOff = p + 24;
          return decodeTransport(next, b, q, remaining, end, out);
      }
      if (hlen > remaining) return SkipReason.BAD_IP_HEADER;
      if (end - q < hlen) return SkipReason.TRUNCATED_IP_HEADER;
      next = b[q] & 0xFF;
      q += hlen;
      remaining -= hlen;
    }
  }

  private static void fragment(DecodedPacket out, int id, int proto, int offset, boolean more,
      int dataOff, int dataLen, int end, int headerLen) {
    out.fragId = id;
    out.fragProto = proto;
    out.fragOffset = offset;
    out.fragMore = more;
    out.fragDataOff = dataOff;
    out.fragDataLen = dataLen;
    out.fragCapturedLen = Math.max(0, Math.min(end - dataOff, dataLen));
    out.fragHeaderLen = headerLen;
  }

  /**
   * Parses a TCP or UDP header; also used on reassembled datagrams.
   *
   * @param q start of the transport header
   * @param l4Len transport header + payload length, from the IP header
   * @param end end of the captured bytes
   */
  static SkipReason decodeTransport(int proto, byte[] b, int q, int l4Len, int end, DecodedPacket out) {
    // drops Ethernet padding and trailers; in long: with TSO the length comes from the
    // record's original length, which a hostile file sets near 2^31 (q + l4Len wrapped
    // negative, and the payload's captured length came out near 2^31: an allocation of 2 GB)
    int l4End = (int) Math.min(end, (long) q + l4Len);
    if (proto == DecodedPacket.TCP) {
      // RFC 9293 section 3.1: ports(4) seq(4) ack(4) offset/flags(2) window(2) ...
      if (l4Len < 20) return SkipReason.BAD_TCP_HEADER;
      if (end - q < 20) return SkipReason.TRUNCATED_TCP_HEADER;
      int doff = ((b[q + 12] & 0xFF) >> 4) * 4;
      if (doff < 20 || doff > l4Len) return SkipReason.BAD_TCP_HEADER;
      out.transport = DecodedPacket.TCP;
      out.srcPort = u16(b, q);
      out.dstPort = u16(b, q + 2);
      out.seq = u32(b, q + 4);
      out.ack = u32(b, q + 8);
      out.flags = b[q + 13] & 0xFF;
      out.window = u16(b, q + 14);
      setPayload(out, q + doff, l4End, l4Len - doff);
      return null;
    } else if (proto == DecodedPacket.UDP) {
      // RFC 768: ports(4) length(2) checksum(2)
      if (l4Len < 8 || end - q < 8) return SkipReason.TRUNCATED_UDP_HEADER;
      out.transport = DecodedPacket.UDP;
      out.srcPort = u16(b, q);
      out.dstPort = u16(b, q + 2);
      out.seq = 0;
      out.ack = 0;
      out.flags = 0;
      out.window = 0;
      setPayload(out, q + 8, l4End, l4Len - 8);
      return null;
    }
    return SkipReason.NOT_TCP_OR_UDP;
  }

  private static void setPayload(DecodedPacket out, int payloadOff, int l4End, int payloadLen) {
    // the snap length may cut inside the transport header's options: then nothing was captured
    out.payloadOff = Math.min(payloadOff, l4End);
    out.payloadLen = payloadLen;
    out.capturedPayloadLen = Math.max(0, Math.min(l4End - payloadOff, payloadLen));
  }

  // Network-order loads as one access each (one bounds check, one load) rather than byte by byte.
  private static final VarHandle BE_SHORT = MethodHandles.byteArrayViewVarHandle(short[].class, ByteOrder.BIG_ENDIAN);
  private static final VarHandle BE_INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.BIG_ENDIAN);
  private static final VarHandle BE_LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.BIG_ENDIAN);

  static int u16(byte[] b, int i) {
    return (short) BE_SHORT.get(b, i) & 0xFFFF;
  }

  static long u32(byte[] b, int i) {
    return (int) BE_INT.get(b, i) & 0xFFFFFFFFL;
  }

  static long u64(byte[] b, int i) {
    return (long) BE_LONG.get(b, i);
  }
}
