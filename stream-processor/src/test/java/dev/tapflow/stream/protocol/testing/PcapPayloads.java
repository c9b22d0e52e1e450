package dev.tapflow.stream.protocol.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Test-only: the TCP payloads of a clean, in-order pcap or pcapng capture, per connection,
 * as {@link Chunk}s (and the payloads of its unfragmented UDP datagrams, {@link #udpPayloads}) (client = the side that is not on a server port). Handles Ethernet (with
 * VLAN), BSD loopback, Linux SLL and raw IP; IPv4 and IPv6 without extension headers or
 * fragments. Retransmitted bytes (sequence numbers already seen) are dropped. This is not
 * the capture agent: it exists so the conformance captures can be replayed into a session.
 */
public final class PcapPayloads {

  private PcapPayloads() {}

  /** What a packet holds past its IP header: transport protocol, the frame, where the transport header starts and the IP payload ends. */
  private interface IpSink {
    void packet(int proto, byte[] f, int l4, int end, String src, String dst, long ts);
  }

  public static Map<String, List<Chunk>> read(Path file, Set<Integer> serverPorts) throws IOException {
    Map<String, List<Chunk>> out = new LinkedHashMap<>();
    Map<String, Long> nextSeq = new HashMap<>();
    frames(file, (proto, f, o, end, src, dst, ts) -> {
      if (proto == 6) {
        tcp(f, o, end, src, dst, ts, serverPorts, out, nextSeq);
      }
    });
    return out;
  }

  /** The payloads of the UDP datagrams that were not IP fragments, in capture order. */
  public static List<byte[]> udpPayloads(Path file) throws IOException {
    List<byte[]> out = new ArrayList<>();
    frames(file, (proto, f, o, end, src, dst, ts) -> {
      if (proto == 17 && o + 8 <= end) {
        out.add(Arrays.copyOfRange(f, o + 8, end));
      }
    });
    return out;
  }

  private static void frames(Path file, IpSink sink) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file));
    int magic = b.order(ByteOrder.BIG_ENDIAN).getInt(0);
    if (magic == 0x0a0d0d0a) {
      readPcapng(b, sink);
      return;
    }
    boolean le = magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1;
    boolean nano = magic == 0x4d3cb2a1 || magic == 0xa1b23c4d;
    b.order(le ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
    int link = b.getInt(20);
    int p = 24;
    while (p + 16 <= b.limit()) {
      long sec = Integer.toUnsignedLong(b.getInt(p));
      long frac = Integer.toUnsignedLong(b.getInt(p + 4));
      int caplen = b.getInt(p + 8);
      long ts = sec * 1_000_000_000L + (nano ? frac : frac * 1000);
      frame(Arrays.copyOfRange(b.array(), p + 16, p + 16 + caplen), link, ts, sink);
      p += 16 + caplen;
    }
  }

  private static void readPcapng(ByteBuffer b, IpSink sink) {
    List<Integer> links = new ArrayList<>();
    int p = 0;
    while (p + 12 <= b.limit()) {
      int type = b.getInt(p);
      if (type == 0x0a0d0d0a) {
        b.order(b.order(ByteOrder.BIG_ENDIAN).getInt(p + 8) == 0x1a2b3c4d ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        links.clear();
      }
      int len = b.getInt(p + 4);
      if (type == 1) {
        links.add(b.getShort(p + 8) & 0xffff);
      } else if (type == 6) {
        int iface = b.getInt(p + 8);
        long ts = (Integer.toUnsignedLong(b.getInt(p + 12)) << 32 | Integer.toUnsignedLong(b.getInt(p + 16))) * 1000;
        int caplen = b.getInt(p + 20);
        frame(Arrays.copyOfRange(b.array(), p + 28, p + 28 + caplen), links.get(iface), ts, sink);
      }
      p += len;
    }
  }

  private static void frame(byte[] f, int link, long ts, IpSink sink) {
    ByteBuffer b = ByteBuffer.wrap(f);
    int o;
    int ether;
    switch (link) {
      case 1 -> {
        ether = b.getShort(12) & 0xffff;
        o = 14;
        while (ether == 0x8100) {
          ether = b.getShort(o + 2) & 0xffff;
          o += 4;
        }
      }
      case 0, 108 -> {
        o = 4;
        ether = (f[4] >> 4) == 4 ? 0x800 : 0x86dd;
      }
      case 113 -> {
        ether = b.getShort(14) & 0xffff;
        o = 16;
      }
      case 101 -> {
        o = 0;
        ether = (f[0] >> 4) == 4 ? 0x800 : 0x86dd;
      }
      default -> {
        return;
      }
    }
    int proto;
    int end;
    String src;
    String dst;
    if (ether == 0x800) {
      int ihl = (f[o] & 15) * 4;
      proto = (b.getShort(o + 6) & 0x3fff) != 0 ? -1 : f[o + 9] & 0xff; // a fragment: not parsed
      end = Math.min(f.length, o + (b.getShort(o + 2) & 0xffff));
      src = addr(f, o + 12, 4);
      dst = addr(f, o + 16, 4);
      o += ihl;
    } else if (ether == 0x86dd) {
      proto = f[o + 6] & 0xff;
      end = Math.min(f.length, o + 40 + (b.getShort(o + 4) & 0xffff));
      src = addr(f, o + 8, 16);
      dst = addr(f, o + 24, 16);
      o += 40;
    } else {
      return;
    }
    sink.packet(proto, f, o, end, src, dst, ts);
  }

  private static void tcp(byte[] f, int o, int end, String src, String dst, long ts, Set<Integer> serverPorts,
      Map<String, List<Chunk>> out, Map<String, Long> nextSeq) {
    ByteBuffer b = ByteBuffer.wrap(f);
    int sport = b.getShort(o) & 0xffff;
    int dport = b.getShort(o + 2) & 0xffff;
    long seq = Integer.toUnsignedLong(b.getInt(o + 4));
    int flags = f[o + 13] & 0xff;
    int payload = o + ((f[o + 12] >> 4) & 15) * 4;
    boolean client = serverPorts.contains(dport) || !serverPorts.contains(sport);
    String conn = client ? src + ":" + sport + "-" + dst + ":" + dport : dst + ":" + dport + "-" + src + ":" + sport;
    String dirKey = conn + (client ? ">" : "<");
    if ((flags & 0x02) != 0) { // SYN takes one sequence number
      nextSeq.put(dirKey, (seq + 1) & 0xffffffffL);
      return;
    }
    if (payload >= end) {
      return;
    }
    byte[] data = Arrays.copyOfRange(f, payload, end);
    Long expected = nextSeq.get(dirKey);
    if (expected != null) {
      long behind = (expected - seq) & 0xffffffffL;
      if (behind > 0 && behind < (1L << 31)) { // retransmission: drop what was seen
        if (behind >= data.length) {
          return;
        }
        data = Arrays.copyOfRange(data, (int) behind, data.length);
        seq = expected;
      }
    }
    nextSeq.put(dirKey, (seq + data.length) & 0xffffffffL);
    out.computeIfAbsent(conn, k -> new ArrayList<>()).add(new Chunk(conn, client, ts, data));
  }

  private static String addr(byte[] f, int off, int len) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < len; i++) {
      sb.append(i == 0 ? "" : len == 4 ? "." : ":").append(f[off + i] & 0xff);
    }
    return sb.toString();
  }
}
