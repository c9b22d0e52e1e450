package dev.tapflow.capture;

/**
 * The data link types tapflow parses, as libpcap reports them ({@code pcap_datalink}, DLT_*
 * values; a file's LINKTYPE_* is mapped to DLT_* by libpcap, but the LINKTYPE_* numbers are
 * accepted too). See https://www.tcpdump.org/linktypes.html.
 */
public final class LinkType {
  /** BSD loopback: 4-byte address family in the capturing host's byte order. */
  public static final int NULL = 0;
  /** Ethernet II / 802.3, with 802.1Q and 802.1ad VLAN tags, possibly stacked. */
  public static final int EN10MB = 1;
  /** Raw IP on Linux and most systems (DLT_RAW). */
  public static final int RAW = 12;
  /** Raw IP as DLT_RAW on OpenBSD. */
  public static final int RAW_OPENBSD = 14;
  /** LINKTYPE_RAW, the file-format number for raw IP. */
  public static final int LINKTYPE_RAW = 101;
  /** OpenBSD loopback: 4-byte address family in network byte order. */
  public static final int LOOP = 108;
  /** Linux "cooked" capture v1 (16-byte header). */
  public static final int LINUX_SLL = 113;
  /** Raw IPv4 only. */
  public static final int IPV4 = 228;
  /** Raw IPv6 only. */
  public static final int IPV6 = 229;
  /** Linux "cooked" capture v2 (20-byte header). */
  public static final int LINUX_SLL2 = 276;

  private LinkType() {}

  /** Whether {@link PacketDecoder} can parse frames of this link type. */
  public static boolean isSupported(int linkType) {
    switch (linkType) {
      case NULL: case EN10MB: case RAW: case RAW_OPENBSD: case LINKTYPE_RAW: case LOOP:
      case LINUX_SLL: case IPV4: case IPV6: case LINUX_SLL2:
        return true;
      default:
        return false;
    }
  }

  /** A short name for reports, e.g. {@code EN10MB}, or {@code DLT_<n>} for others. */
  public static String name(int linkType) {
    switch (linkType) {
      case NULL: return "NULL";
      case EN10MB: return "EN10MB";
      case RAW: case RAW_OPENBSD: case LINKTYPE_RAW: return "RAW";
      case LOOP: return "LOOP";
      case LINUX_SLL: return "LINUX_SLL";
      case IPV4: return "IPV4";
      case IPV6: return "IPV6";
      case LINUX_SLL2: return "LINUX_SLL2";
      default: return "DLT_" + linkType;
    }
  }
}
