package dev.tapflow.capture;

import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Test-only frame builder: link, IP and TCP/UDP headers around a payload. Checksums stay 0. */
final class TestFrames {
  static final int FIN = 0x01;
  static final int SYN = 0x02;
  static final int RST = 0x04;
  static final int PSH = 0x08;
  static final int ACK = 0x10;

  private TestFrames() {}

  static byte[] addr(String literal) {
    try {
      return InetAddress.getByName(literal).getAddress();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  static byte[] tcp(int sport, int dport, long seq, long ack, int flags, int window, byte[] payload) {
    return tcp(sport, dport, seq, ack, flags, window, new byte[0], payload);
  }

  /** TCP with options (padded to 4 bytes with NOPs) before the payload. */
  static byte[] tcp(int sport, int dport, long seq, long ack, int flags, int window, byte[] options, byte[] payload) {
    int optLen = (options.length + 3) & ~3;
    ByteBuffer b = ByteBuffer.allocate(20 + optLen + payload.length);
    b.putShort((short) sport).putShort((short) dport).putInt((int) seq).putInt((int) ack);
    b.put((byte) (((20 + optLen) / 4) << 4)).put((byte) flags).putShort((short) window);
    b.putShort((short) 0xBEEF).putShort((short) 0); // wrong checksum on purpose: never checked
    b.put(options);
    for (int i = options.length; i < optLen; i++) {
      b.put((byte) 1);
    }
    b.put(payload);
    return b.array();
  }

  static byte[] udp(int sport, int dport, byte[] payload) {
    ByteBuffer b = ByteBuffer.allocate(8 + payload.length);
    b.putShort((short) sport).putShort((short) dport).putShort((short) (8 + payload.length)).putShort((short) 0xBEEF);
    b.put(payload);
    return b.array();
  }

  static byte[] ipv4(String src, String dst, int proto, byte[] l4) {
    return ipv4(src, dst, proto, l4, 0, 0x4000);
  }

  /**
   * @param optionBytes IPv4 options (NOPs), a multiple of 4
   * @param fragField the flags + fragment offset field (0x4000: DF; 0x2000: MF)
   */
  static byte[] ipv4(String src, String dst, int proto, byte[] l4, int optionBytes, int fragField) {
    int hl = 20 + optionBytes;
    ByteBuffer b = ByteBuffer.allocate(hl + l4.length);
    b.put((byte) (0x40 | hl / 4)).put((byte) 0).putShort((short) (hl + l4.length));
    b.putShort((short) 0x1234).putShort((short) fragField);
    b.put((byte) 64).put((byte) proto).putShort((short) 0xBEEF);
    b.put(addr(src)).put(addr(dst));
    for (int i = 0; i < optionBytes; i++) {
      b.put((byte) 1);
    }
    b.put(l4);
    return b.array();
  }

  /** IPv6; {@code rest} is the extension headers (if any) and the transport segment. */
  static byte[] ipv6(String src, String dst, int nextHeader, byte[] rest) {
    ByteBuffer b = ByteBuffer.allocate(40 + rest.length);
    b.putInt(0x60000000).putShort((short) rest.length).put((byte) nextHeader).put((byte) 64);
    b.put(addr(src)).put(addr(dst)).put(rest);
    return b.array();
  }

  /** A generic IPv6 extension header (hop-by-hop, routing, destination options) of 8*(len8+1) bytes. */
  static byte[] ext(int next, int len8) {
    byte[] h = new byte[8 * (len8 + 1)];
    h[0] = (byte) next;
    h[1] = (byte) len8;
    h[2] = 1; // PadN
    h[3] = (byte) (h.length - 4);
    return h;
  }

  /** An IPv6 fragment header. */
  static byte[] fragment(int next, int offset8, boolean more) {
    ByteBuffer b = ByteBuffer.allocate(8);
    b.put((byte) next).put((byte) 0).putShort((short) (offset8 << 3 | (more ? 1 : 0))).putInt(0xCAFE);
    return b.array();
  }

  /** An IPv4 fragment: {@code data} at byte {@code offset} (a multiple of 8) of datagram {@code id}'s payload. */
  static byte[] ipv4Fragment(String src, String dst, int proto, int id, int offset, boolean more, byte[] data) {
    byte[] f = ipv4(src, dst, proto, data, 0, (more ? 0x2000 : 0) | (offset >> 3 & 0x1FFF));
    f[4] = (byte) (id >> 8);
    f[5] = (byte) id;
    return f;
  }

  /**
   * An IPv6 fragment: {@code data} at byte {@code offset} (a multiple of 8) of datagram {@code id}'s
   * fragmentable part; {@code next} is the fragment header's next header.
   */
  static byte[] ipv6Fragment(String src, String dst, int next, int id, int offset, boolean more, byte[] data) {
    ByteBuffer h = ByteBuffer.allocate(8);
    h.put((byte) next).put((byte) 0).putShort((short) (offset & 0xFFF8 | (more ? 1 : 0))).putInt(id);
    return ipv6(src, dst, 44, concat(h.array(), data));
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  static int ethertypeOf(byte[] l3) {
    return (l3[0] >> 4 & 0xF) == 6 ? 0x86DD : 0x0800;
  }

  static byte[] ethernet(byte[] l3, int... vlanTpids) {
    ByteBuffer b = ByteBuffer.allocate(14 + 4 * vlanTpids.length + l3.length);
    b.put(new byte[] {0, 0x11, 0x22, 0x33, 0x44, 0x55}).put(new byte[] {0, 0x66, 0x77, (byte) 0x88, (byte) 0x99, (byte) 0xAA});
    for (int i = 0; i < vlanTpids.length; i++) {
      b.putShort((short) vlanTpids[i]).putShort((short) (100 + i)); // TPID, then the tag's TCI
    }
    b.putShort((short) ethertypeOf(l3)).put(l3);
    return b.array();
  }

  static byte[] ethernetType(int ethertype, byte[] body) {
    ByteBuffer b = ByteBuffer.allocate(14 + body.length);
    b.put(new byte[12]).putShort((short) ethertype).put(body);
    return b.array();
  }

  static byte[] sll(byte[] l3) {
    ByteBuffer b = ByteBuffer.allocate(16 + l3.length);
    b.putShort((short) 0).putShort((short) 1).putShort((short) 6).put(new byte[] {0, 1, 2, 3, 4, 5, 0, 0});
    b.putShort((short) ethertypeOf(l3)).put(l3);
    return b.array();
  }

  static byte[] sll2(byte[] l3) {
    ByteBuffer b = ByteBuffer.allocate(20 + l3.length);
    b.putShort((short) ethertypeOf(l3)).putShort((short) 0).putInt(2).putShort((short) 1).put((byte) 4).put((byte) 6);
    b.put(new byte[] {0, 1, 2, 3, 4, 5, 0, 0}).put(l3);
    return b.array();
  }

  /** BSD loopback header, family in little-endian (as written on x86). */
  static byte[] nullLe(int family, byte[] l3) {
    ByteBuffer b = ByteBuffer.allocate(4 + l3.length);
    b.put((byte) family).put((byte) 0).put((byte) 0).put((byte) 0).put(l3);
    return b.array();
  }

  /** BSD loopback header, family in big-endian (as written on a big-endian host, and DLT_LOOP). */
  static byte[] nullBe(int family, byte[] l3) {
    ByteBuffer b = ByteBuffer.allocate(4 + l3.length);
    b.putInt(family).put(l3);
    return b.array();
  }
}
