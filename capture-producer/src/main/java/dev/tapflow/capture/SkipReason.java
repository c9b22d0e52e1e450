package dev.tapflow.capture;

/**
 * Why a captured packet did not become a published {@code Segment}. Every packet read is
 * either a segment or counted under exactly one of these, so
 * {@code packets == segments + skipped} always holds (see {@link CaptureStats}).
 */
public enum SkipReason {
  /** The capture's link type is not one {@link PacketDecoder} parses. */
  UNSUPPORTED_LINK_TYPE,
  /** The frame ends inside its link-layer header (Ethernet, VLAN tag, SLL, loopback family). */
  TRUNCATED_LINK_HEADER,
  /** Not IPv4 or IPv6 (ARP, LLDP, 802.3 LLC, other loopback families...). */
  NOT_IP,
  /** The frame ends inside the IPv4 header, IPv6 header or an IPv6 extension header. */
  TRUNCATED_IP_HEADER,
  /** Inconsistent IP header: wrong version, IHL below 5, total length below the header, too many extension headers. */
  BAD_IP_HEADER,
  /**
   * An IPv4 fragment (MF set or offset non-zero) that did not complete its datagram: held by
   * {@link IpFragmentReassembler}, or dropped by it ({@link FragmentEvent} says why). The
   * fragment that completes a datagram is not counted here: it is the datagram's segment.
   */
  IPV4_FRAGMENT,
  /** The same for IPv6: a packet with a fragment header (other than an atomic fragment). */
  IPV6_FRAGMENT,
  /** IP payload other than TCP or UDP (ICMP, ESP, SCTP, no-next-header...). */
  NOT_TCP_OR_UDP,
  /** The frame ends inside the first 20 bytes of the TCP header. */
  TRUNCATED_TCP_HEADER,
  /** TCP data offset below 5 or beyond the IP payload. */
  BAD_TCP_HEADER,
  /** The frame ends inside the 8-byte UDP header, or the IP payload is shorter than it. */
  TRUNCATED_UDP_HEADER,
  /** A TCP segment without payload and without SYN, FIN or RST: not published by design. */
  PURE_ACK
}
