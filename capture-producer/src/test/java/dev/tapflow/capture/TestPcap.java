package dev.tapflow.capture;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Test-only capture files: a pcap/pcapng writer, and an independent plain-Java pcap reader
 * used as the truth when checking what libpcap (via pcap4j) hands us.
 */
final class TestPcap {
  private TestPcap() {}

  /** One frame: capture time (ns), original length, captured bytes. */
  record Frame(long tsNs, int wireLen, byte[] data) {}

  /** Builds a capture file frame by frame. */
  static final class Writer {
    private final int linkType;
    private final boolean nanos;
    private final boolean pcapng;
    private ByteOrder order = ByteOrder.LITTLE_ENDIAN;
    private int snaplen = 262144;
    private final List<Frame> frames = new ArrayList<>();

    private Writer(int linkType, boolean nanos, boolean pcapng) {
      this.linkType = linkType;
      this.nanos = nanos;
      this.pcapng = pcapng;
    }

    Writer bigEndian() {
      order = ByteOrder.BIG_ENDIAN;
      return this;
    }

    /** Frames longer than this are cut, keeping their original length, as a capture would. */
    Writer snaplen(int n) {
      snaplen = n;
      return this;
    }

    Writer add(long tsNs, byte[] frame) {
      frames.add(new Frame(tsNs, frame.length, frame));
      return this;
    }

    byte[] bytes() {
      return pcapng ? pcapngBytes() : pcapBytes();
    }

    Path write(Path file) throws IOException {
      Files.write(file, bytes());
      return file;
    }

    private byte[] pcapBytes() {
      ByteBuffer b = ByteBuffer.allocate(24 + frames.stream().mapToInt(f -> 16 + f.data.length).sum()).order(order);
      b.putInt(nanos ? 0xA1B23C4D : 0xA1B2C3D4).putShort((short) 2).putShort((short) 4)
          .putInt(0).putInt(0).putInt(snaplen).putInt(linkType);
      for (Frame f : frames) {
        int cap = Math.min(f.data.length, snaplen);
        long sec = Math.floorDiv(f.tsNs, 1_000_000_000L);
        long frac = Math.floorMod(f.tsNs, 1_000_000_000L);
        b.putInt((int) sec).putInt((int) (nanos ? frac : frac / 1000)).putInt(cap).putInt(f.wireLen);
        b.put(f.data, 0, cap);
      }
      return trim(b);
    }

    private byte[] pcapngBytes() {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      // Section Header Block: byte-order magic, version 1.0, section length unknown
      ByteBuffer shb = ByteBuffer.allocate(16).order(order);
      shb.putInt(0x1A2B3C4D).putShort((short) 1).putShort((short) 0).putLong(-1L);
      block(out, 0x0A0D0D0A, shb.array());
      // Interface Description Block: link type, snaplen, if_tsresol (9: ns, 6: us) option
      ByteBuffer idb = ByteBuffer.allocate(8 + 8 + 4).order(order);
      idb.putShort((short) linkType).putShort((short) 0).putInt(snaplen);
      idb.putShort((short) 9).putShort((short) 1).put((byte) (nanos ? 9 : 6)).put(new byte[3]);
      idb.putShort((short) 0).putShort((short) 0);
      block(out, 1, idb.array());
      for (Frame f : frames) {
        int cap = Math.min(f.data.length, snaplen);
        long units = nanos ? f.tsNs : Math.floorDiv(f.tsNs, 1000L);
        ByteBuffer epb = ByteBuffer.allocate(20 + pad4(cap)).order(order);
        epb.putInt(0).putInt((int) (units >>> 32)).putInt((int) units).putInt(cap).putInt(f.wireLen);
        epb.put(f.data, 0, cap);
        block(out, 6, epb.array());
      }
      return out.toByteArray();
    }

    private void block(ByteArrayOutputStream out, int type, byte[] body) {
      int total = 12 + body.length;
      ByteBuffer b = ByteBuffer.allocate(total).order(order);
      b.putInt(type).putInt(total).put(body).putInt(total);
      out.writeBytes(b.array());
    }
  }

  static Writer pcap(int linkType, boolean nanos) {
    return new Writer(linkType, nanos, false);
  }

  static Writer pcapng(int linkType, boolean nanos) {
    return new Writer(linkType, nanos, true);
  }

  /** An independent reader of classic pcap files (either byte order, us or ns), for test truth. */
  static List<Frame> readPcap(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    int magic = b.getInt(0);
    if (magic != 0xA1B2C3D4 && magic != 0xA1B23C4D) {
      b.order(ByteOrder.BIG_ENDIAN);
      magic = b.getInt(0);
    }
    boolean nanos = magic == 0xA1B23C4D;
    b.position(24);
    List<Frame> frames = new ArrayList<>();
    while (b.remaining() >= 16) {
      long sec = b.getInt() & 0xFFFFFFFFL;
      long frac = b.getInt() & 0xFFFFFFFFL;
      int cap = b.getInt();
      int wire = b.getInt();
      byte[] data = new byte[cap];
      b.get(data);
      frames.add(new Frame(sec * 1_000_000_000L + (nanos ? frac : frac * 1000), wire, data));
    }
    return frames;
  }

  /** The link type field of a classic pcap file's header. */
  static int pcapLinkType(Path file) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    if (b.getInt(0) != 0xA1B2C3D4 && b.getInt(0) != 0xA1B23C4D) {
      b.order(ByteOrder.BIG_ENDIAN);
    }
    return b.getInt(20);
  }

  private static int pad4(int n) {
    return (n + 3) & ~3;
  }

  private static byte[] trim(ByteBuffer b) {
    byte[] out = new byte[b.position()];
    b.flip();
    b.get(out);
    return out;
  }
}
