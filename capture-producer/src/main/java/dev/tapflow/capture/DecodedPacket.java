package dev.tapflow.capture;

import java.util.Arrays;

/**
 * The parsed headers of one packet, as offsets into the captured frame plus the few numbers
 * a {@code Segment} needs. One instance is reused for every packet (a flyweight, filled by
 * {@link PacketDecoder#decode}): nothing here is valid after the next decode, and nothing is
 * copied out of the frame until a segment is built.
 */
public final class DecodedPacket {
  /** IP protocol number of TCP. */
  public static final int TCP = 6;
  /** IP protocol number of UDP. */
  public static final int UDP = 17;

  byte[] frame;
  int ipVersion;
  int addrLen;
  int srcAddrOff;
  int dstAddrOff;
  int transport;
  int srcPort;
  int dstPort;
  long seq;
  long ack;
  int flags;
  int window;
  int payloadOff;
  int capturedPayloadLen;
  int payloadLen;

  // Set by PacketDecoder.decode only when it returns IPV4_FRAGMENT or IPV6_FRAGMENT (with the
  // addresses above): the fragment's place in its datagram, read by IpFragmentReassembler.
  /** Identification: 16 bits (IPv4) or 32 bits (IPv6). */
  int fragId;
  /** IPv4 protocol, or the next header in the IPv6 fragment header. */
  int fragProto;
  /** Where the fragment's data goes in the datagram, bytes (the header field x 8). */
  int fragOffset;
  /** More fragments follow (MF / M). */
  boolean fragMore;
  /** Offset of the fragment's data in {@link #frame}. */
  int fragDataOff;
  /** Length of the fragment's data, from the IP header. */
  int fragDataLen;
  /** Of {@link #fragDataLen}, the bytes present in the frame (fewer when the snap length cut it). */
  int fragCapturedLen;
  /**
   * Bytes before the data that the reassembled datagram's IP length field counts: the IPv4
   * header, or the IPv6 extension headers before the fragment header.
   */
  int fragHeaderLen;

  /** The frame the offsets refer to. */
  public byte[] frame() { return frame; }

  /** 4 or 6. */
  public int ipVersion() { return ipVersion; }

  /** 4 (IPv4) or 16 (IPv6). */
  public int addrLen() { return addrLen; }

  /** Offset of the source address in {@link #frame()}. */
  public int srcAddrOff() { return srcAddrOff; }

  /** Offset of the destination address in {@link #frame()}. */
  public int dstAddrOff() { return dstAddrOff; }

  /** {@link #TCP} or {@link #UDP}. */
  public int transport() { return transport; }

  public int srcPort() { return srcPort; }

  public int dstPort() { return dstPort; }

  /** TCP sequence number, unsigned 32-bit; 0 for UDP. */
  public long seq() { return seq; }

  /** TCP acknowledgement number, unsigned 32-bit; 0 for UDP. */
  public long ack() { return ack; }

  /** TCP flags byte (FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ECE=64 CWR=128); 0 for UDP. */
  public int flags() { return flags; }

  /** TCP window, unscaled; 0 for UDP. */
  public int window() { return window; }

  /** Offset of the transport payload in {@link #frame()}. */
  public int payloadOff() { return payloadOff; }

  /** Payload bytes present in the frame (fewer than {@link #payloadLen()} when the snap length cut it). */
  public int capturedPayloadLen() { return capturedPayloadLen; }

  /** Payload length on the wire, from the IP header. */
  public int payloadLen() { return payloadLen; }

  /** A copy of the source address bytes. For tests and reports, not the per-packet path. */
  public byte[] srcAddr() { return Arrays.copyOfRange(frame, srcAddrOff, srcAddrOff + addrLen); }

  /** A copy of the destination address bytes. For tests and reports, not the per-packet path. */
  public byte[] dstAddr() { return Arrays.copyOfRange(frame, dstAddrOff, dstAddrOff + addrLen); }

  /** A copy of the captured payload. For tests and reports, not the per-packet path. */
  public byte[] payload() { return Arrays.copyOfRange(frame, payloadOff, payloadOff + capturedPayloadLen); }
}
