package dev.tapflow.capture;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * The records of a classic pcap file read in Java, in large chunks, each frame handed over as a
 * slice of one reused buffer: no JNA call, no timestamp object and no copy per packet (libpcap's
 * callback through pcap4j cost ~1 µs a packet, most of {@code tapflow analyze}'s reading).
 *
 * <p>Only for files whose framing is sound from end to end ({@link #check}): anything else
 * (pcapng, a cut or damaged record, a length beyond the snap length, a sub-second field out of
 * range, another format version) is read by libpcap as before, so errors keep libpcap's words
 * and the byte offset {@link CaptureFileOffsets} finds.
 *
 * <p>File header (24 bytes): magic a1b2c3d4 (µs) or a1b23c4d (ns), in the writer's byte order;
 * version 2.4; snap length at +16. Record: seconds, sub-seconds, {@code incl_len}, {@code
 * orig_len} (4 bytes each), then {@code incl_len} bytes.
 */
final class PcapRecords {

  /** One frame: valid only during the call. */
  @FunctionalInterface
  interface SliceListener {
    void onFrame(long tsNs, int wireLen, byte[] buf, int off, int len);
  }

  /** libpcap's own bound on a record's captured length for the link types tapflow reads. */
  static final int MAX_RECORD = 262_144;
  private static final int HEADER = 24;
  private static final int RECORD_HEADER = 16;
  /** Read size; the unread tail (up to a record) moves to the front before each refill. */
  private static final int CHUNK = 4 << 20;

  private final Path file;
  private final ByteOrder order;
  private final long subSecondNs;

  private PcapRecords(Path file, ByteOrder order, long subSecondNs) {
    this.file = file;
    this.order = order;
    this.subSecondNs = subSecondNs;
  }

  /**
   * This file as a classic pcap whose every record is complete and within bounds, or null
   * (then libpcap reads it). Walks the record headers once (a few ms for a million packets).
   */
  static PcapRecords check(Path file) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ByteBuffer h = ByteBuffer.allocate(HEADER);
      if (readFully(ch, h, 0) < HEADER) {
        return null;
      }
      h.flip();
      int magic = h.order(ByteOrder.BIG_ENDIAN).getInt(0);
      ByteOrder order;
      long unit;
      switch (magic) {
        case 0xa1b2c3d4 -> { order = ByteOrder.BIG_ENDIAN; unit = 1000; }
        case 0xa1b23c4d -> { order = ByteOrder.BIG_ENDIAN; unit = 1; }
        case 0xd4c3b2a1 -> { order = ByteOrder.LITTLE_ENDIAN; unit = 1000; }
        case 0x4d3cb2a1 -> { order = ByteOrder.LITTLE_ENDIAN; unit = 1; }
        default -> { return null; }
      }
      h.order(order);
      if (h.getShort(4) != 2 || h.getShort(6) != 4) {
        return null;
      }
      long snap = h.getInt(16) & 0xffffffffL;
      long limit = snap == 0 ? MAX_RECORD : Math.min(snap, MAX_RECORD);
      PcapRecords records = new PcapRecords(file, order, unit);
      boolean sound = records.walk(ch, (sec, sub, incl, orig) -> {
        if (incl > limit || sub * unit >= 1_000_000_000L) {
          return false;
        }
        return true;
      }, null);
      return sound ? records : null;
    } catch (IOException e) {
      return null;
    }
  }

  /** Passes every frame to {@code listener}, in file order; the number of frames. */
  long read(SliceListener listener) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long[] frames = {0};
      walk(ch, null, (sec, sub, buf, off, incl, orig) -> {
        frames[0]++;
        listener.onFrame(sec * 1_000_000_000L + sub * subSecondNs, orig, buf, off, incl);
      });
      return frames[0];
    }
  }

  private interface HeaderCheck {
    boolean ok(long sec, long sub, long incl, long orig);
  }

  private interface RecordSink {
    void record(long sec, long sub, byte[] buf, int off, int incl, int orig);
  }

  /**
   * Walks the records after the file header: with {@code check}, headers only, false at the
   * first that fails it or when the file ends inside a record; with {@code sink}, every record.
   */
  private boolean walk(FileChannel ch, HeaderCheck check, RecordSink sink) throws IOException {
    // no bigger than the file: a small file (or a fuzzer's) does not pay for zeroing 4 MiB;
    // below CHUNK the whole file is in b and the refill below never runs
    ByteBuffer b = ByteBuffer.allocate((int) Math.min(CHUNK, Math.max(0, ch.size() - HEADER))).order(order);
    byte[] a = b.array();
    boolean little = order == ByteOrder.LITTLE_ENDIAN;
    long pos = HEADER;
    int n = readFully(ch, b, pos); // bytes in b, from index 0
    int p = 0;
    while (true) {
      if (n - p < RECORD_HEADER + MAX_RECORD && n == CHUNK) { // refill: keep the unread tail
        System.arraycopy(a, p, a, 0, n - p);
        pos += p;
        b.clear().position(n - p);
        n = readFully(ch, b, pos);
        p = 0;
      }
      if (p == n) {
        return true; // the file ends between records
      }
      if (n - p < RECORD_HEADER) {
        return false;
      }
      long sec = u32(a, p, little);
      long sub = u32(a, p + 4, little);
      long incl = u32(a, p + 8, little);
      long orig = u32(a, p + 12, little);
      if (check != null && !check.ok(sec, sub, incl, orig)) {
        return false;
      }
      if (incl > MAX_RECORD || n - p - RECORD_HEADER < incl) {
        return false;
      }
      if (sink != null) {
        sink.record(sec, sub, a, p + RECORD_HEADER, (int) incl, (int) Math.min(orig, Integer.MAX_VALUE));
      }
      p += RECORD_HEADER + (int) incl;
    }
  }

  /**
   * An unsigned 32-bit field assembled from bytes: ByteBuffer.getInt was a fifth of the reading
   * thread's time under C1 ({@code tapflow analyze} runs C1 only), byte-order swap and bounds
   * checks not inlined.
   */
  private static long u32(byte[] a, int i, boolean little) {
    int v = little
        ? (a[i] & 0xff) | (a[i + 1] & 0xff) << 8 | (a[i + 2] & 0xff) << 16 | (a[i + 3] & 0xff) << 24
        : (a[i] & 0xff) << 24 | (a[i + 1] & 0xff) << 16 | (a[i + 2] & 0xff) << 8 | (a[i + 3] & 0xff);
    return v & 0xffffffffL;
  }

  /** Reads from {@code position} until {@code b} is full or the file ends; the bytes now in b (its position). */
  private static int readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
    long at = position + b.position();
    while (b.hasRemaining()) {
      int r = ch.read(b, at);
      if (r < 0) {
        break;
      }
      at += r;
    }
    return b.position();
  }
}
