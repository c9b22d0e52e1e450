package dev.tapflow.cli;

import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The TCP packets of a pcap or pcapng file, read by a small reader written for tests only,
 * sharing no code with the capture-producer: the tests' independent view of the wire (packet
 * times, payload bytes, endpoints). It reads what the conformance captures and fixtures use:
 * pcap (µs and ns magic, both byte orders), pcapng (SHB/IDB/EPB, if_tsresol), link types
 * Ethernet (+802.1Q), BSD loopback (NULL, LOOP), raw IP, Linux SLL and SLL2; IPv4 and IPv6.
 * Non-TCP packets are skipped.
 */
final class TcpPackets {

  /** One TCP packet. {@code src}/{@code dst} are {@link #endpoint} strings. */
  record Packet(long tsNs, String src, String dst, long seq, int flags, byte[] payload) {
    static final int FIN = 0x01;
    static final int SYN = 0x02;
    static final int RST = 0x04;

    boolean hasPayload() {
      return payload.length > 0;
    }

    String payloadText() {
      return new String(payload, java.nio.charset.StandardCharsets.ISO_8859_1);
    }
  }

  /** All packets of a capture in capture order. */
  final List<Packet> packets;
  /** True when every timestamp in the file has microsecond resolution (pcap µs magic, or tsresol 6). */
  final boolean microsecondResolution;

  private TcpPackets(List<Packet> packets, boolean microsecondResolution) {
    this.packets = packets;
    this.microsecondResolution = microsecondResolution;
  }

  /** Canonical "ip:port" text: the address as {@link InetAddress#getHostAddress()} prints it. */
  static String endpoint(String ip, int port) {
    try {
      return InetAddress.getByName(ip).getHostAddress() + ":" + port; // a literal: no DNS lookup
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(ip, e);
    }
  }

  /** The packets with payload from {@code src} to {@code dst}, in capture order. */
  List<Packet> data(String src, String dst) {
    List<Packet> out = new ArrayList<>();
    for (Packet p : packets) {
      if (p.hasPayload() && p.src.equals(src) && p.dst.equals(dst)) {
        out.add(p);
      }
    }
    return out;
  }

  static TcpPackets read(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file));
    int magic = b.order(ByteOrder.BIG_ENDIAN).getInt(0);
    if (magic == 0x0A0D0D0A) {
      return readPcapng(b);
    }
    return readPcap(b);
  }

  private static TcpPackets readPcap(ByteBuffer b) {
    int magicBe = b.order(ByteOrder.BIG_ENDIAN).getInt(0);
    ByteOrder order;
    boolean nanos;
    switch (magicBe) {
      case 0xa1b2c3d4 -> { order = ByteOrder.BIG_ENDIAN; nanos = false; }
      case 0xa1b23c4d -> { order = ByteOrder.BIG_ENDIAN; nanos = true; }
      case 0xd4c3b2a1 -> { order = ByteOrder.LITTLE_ENDIAN; nanos = false; }
      case 0x4d3cb2a1 -> { order = ByteOrder.LITTLE_ENDIAN; nanos = true; }
      default -> throw new IllegalArgumentException("not a pcap file: magic " + Integer.toHexString(magicBe));
    }
    b.order(order);
    int linkType = b.getInt(20) & 0xffff;
    List<Packet> out = new ArrayList<>();
    int pos = 24;
    while (pos + 16 <= b.limit()) {
      b.order(order); // decodeLink leaves the buffer big-endian
      long sec = b.getInt(pos) & 0xffffffffL;
      long frac = b.getInt(pos + 4) & 0xffffffffL;
      int incl = b.getInt(pos + 8);
      long ts = sec * 1_000_000_000L + (nanos ? frac : frac * 1000);
      decodeLink(linkType, b, pos + 16, incl, ts, out);
      pos += 16 + incl;
    }
    return new TcpPackets(out, !nanos);
  }

  private static TcpPackets readPcapng(ByteBuffer b) {
    List<Packet> out = new ArrayList<>();
    List<int[]> ifaces = new ArrayList<>(); // {linkType, tsresol byte}
    boolean allMicros = true;
    int pos = 0;
    ByteOrder order = ByteOrder.LITTLE_ENDIAN;
    while (pos + 12 <= b.limit()) {
      int type = b.order(order).getInt(pos);
      if (type == 0x0A0D0D0A) {
        int bom = b.order(ByteOrder.LITTLE_ENDIAN).getInt(pos + 8);
        order = bom == 0x1A2B3C4D ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN;
        ifaces.clear();
      }
      b.order(order);
      int len = b.getInt(pos + 4);
      if (type == 1) { // IDB: linktype u16, reserved u16, snaplen u32, options
        int linkType = b.getShort(pos + 8) & 0xffff;
        int tsresol = 6;
        int opt = pos + 16;
        while (opt + 4 <= pos + len - 4) {
          int code = b.getShort(opt) & 0xffff;
          int olen = b.getShort(opt + 2) & 0xffff;
          if (code == 0) {
            break;
          }
          if (code == 9 && olen == 1) {
            tsresol = b.get(opt + 4) & 0xff;
          }
          opt += 4 + ((olen + 3) & ~3);
        }
        ifaces.add(new int[] {linkType, tsresol});
      } else if (type == 6) { // EPB: iface, ts high, ts low, caplen, origlen, data
        int[] iface = ifaces.get(b.getInt(pos + 8));
        long raw = ((b.getInt(pos + 12) & 0xffffffffL) << 32) | (b.getInt(pos + 16) & 0xffffffffL);
        int res = iface[1];
        if (res != 6) {
          allMicros = false;
        }
        long ts;
        if ((res & 0x80) != 0) {
          throw new IllegalArgumentException("binary tsresol not supported");
        } else {
          long unitsPerSec = (long) Math.pow(10, res);
          ts = raw / unitsPerSec * 1_000_000_000L + (raw % unitsPerSec) * (1_000_000_000L / unitsPerSec);
        }
        int capLen = b.getInt(pos + 20);
        decodeLink(iface[0], b, pos + 28, capLen, ts, out);
      }
      pos += len;
    }
    return new TcpPackets(out, allMicros);
  }

  private static void decodeLink(int linkType, ByteBuffer b, int off, int len, long ts, List<Packet> out) {
    int end = off + len;
    int etherType;
    int ip;
    switch (linkType) {
      case 1 -> { // Ethernet
        int p = off + 12;
        etherType = b.order(ByteOrder.BIG_ENDIAN).getShort(p) & 0xffff;
        while (etherType == 0x8100 || etherType == 0x88a8) {
          p += 4;
          etherType = b.getShort(p) & 0xffff;
        }
        ip = p + 2;
      }
      case 0 -> { // BSD loopback: address family in host byte order
        etherType = 0;
        ip = off + 4;
      }
      case 108 -> { // OpenBSD loopback: family in network order
        etherType = 0;
        ip = off + 4;
      }
      case 12, 14, 101 -> { // raw IP
        etherType = 0;
        ip = off;
      }
      case 113 -> { // Linux SLL
        etherType = b.order(ByteOrder.BIG_ENDIAN).getShort(off + 14) & 0xffff;
        ip = off + 16;
      }
      case 276 -> { // Linux SLL2
        etherType = b.order(ByteOrder.BIG_ENDIAN).getShort(off) & 0xffff;
        ip = off + 20;
      }
      default -> throw new IllegalArgumentException("link type " + linkType);
    }
    b.order(ByteOrder.BIG_ENDIAN);
    if (ip >= end) {
      return;
    }
    int version = (b.get(ip) & 0xff) >> 4;
    if (etherType != 0 && etherType != 0x0800 && etherType != 0x86dd) {
      return;
    }
    byte[] srcIp;
    byte[] dstIp;
    int tcp;
    int ipEnd;
    if (version == 4) {
      int ihl = (b.get(ip) & 0x0f) * 4;
      int total = b.getShort(ip + 2) & 0xffff;
      if ((b.get(ip + 9) & 0xff) != 6) {
        return;
      }
      srcIp = bytes(b, ip + 12, 4);
      dstIp = bytes(b, ip + 16, 4);
      tcp = ip + ihl;
      ipEnd = total == 0 ? end : Math.min(end, ip + total); // 0: TSO, trust the capture
    } else if (version == 6) {
      int next = b.get(ip + 6) & 0xff;
      int payloadLen = b.getShort(ip + 4) & 0xffff;
      srcIp = bytes(b, ip + 8, 16);
      dstIp = bytes(b, ip + 24, 16);
      tcp = ip + 40;
      ipEnd = payloadLen == 0 ? end : Math.min(end, tcp + payloadLen);
      while (next == 0 || next == 43 || next == 60) { // hop-by-hop, routing, destination options
        next = b.get(tcp) & 0xff;
        tcp += ((b.get(tcp + 1) & 0xff) + 1) * 8;
      }
      if (next != 6) {
        return;
      }
    } else {
      return;
    }
    int srcPort = b.getShort(tcp) & 0xffff;
    int dstPort = b.getShort(tcp + 2) & 0xffff;
    long seq = b.getInt(tcp + 4) & 0xffffffffL;
    int dataOff = ((b.get(tcp + 12) & 0xff) >> 4) * 4;
    int flags = b.get(tcp + 13) & 0xff;
    int from = Math.min(tcp + dataOff, ipEnd);
    byte[] payload = Arrays.copyOfRange(b.array(), from, ipEnd);
    out.add(new Packet(ts, text(srcIp, srcPort), text(dstIp, dstPort), seq, flags, payload));
  }

  private static final Map<String, String> ADDRESS_TEXT = new ConcurrentHashMap<>();

  private static String text(byte[] ip, int port) {
    try {
      String key = Arrays.toString(ip);
      String t = ADDRESS_TEXT.get(key);
      if (t == null) {
        t = InetAddress.getByAddress(ip).getHostAddress();
        ADDRESS_TEXT.put(key, t);
      }
      return t + ":" + port;
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e);
    }
  }

  private static byte[] bytes(ByteBuffer b, int off, int len) {
    return Arrays.copyOfRange(b.array(), off, off + len);
  }
}
