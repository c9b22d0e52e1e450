package dev.tapflow.stream.tcp;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.Map;
import java.util.TreeMap;

/**
 * One direction of a TCP connection: turns segments, in whatever order they were captured,
 * into the byte stream the receiving application read, with explicit gaps where bytes were
 * never captured.
 *
 * <p>Invariants: stream offsets count from the first byte after the SYN (or from the first
 * byte seen when the capture started mid-connection); {@code delivered} is the offset of the
 * next byte the reader expects; bytes before it are never delivered twice (retransmits and
 * overlaps are trimmed); bytes after it wait in a reorder buffer bounded by
 * {@link ReassemblyLimits#maxBufferedBytes()} and {@link ReassemblyLimits#reorderTimeoutNs()};
 * when either bound is hit the missing range is declared a gap and delivery moves on.
 * Sequence numbers are unsigned 32-bit and compared with wraparound.
 */
public final class StreamReassembler {

  /** Receives what the reassembler delivers, in stream order. */
  public interface Receiver {
    /** Bytes {@code [streamOffset, streamOffset + len)} of this direction; tsNs is when they were complete. */
    void bytes(byte[] buf, int off, int len, long streamOffset, long tsNs);

    /** Bytes {@code [streamOffset, streamOffset + length)} were never captured. */
    void gap(long streamOffset, long length, long tsNs);
  }

  private static final long SEQ_MOD = 1L << 32;

  private boolean started;
  /** sequence number of stream offset 0 */
  private long baseSeq;
  /** offset of the next byte to deliver */
  private long delivered;
  /** offset of the FIN, or -1 */
  private long finOffset = -1;
  private long retransmittedBytes;
  private long gapBytes;
  /** out-of-order segments: offset -> payload (trimmed to start at or after {@code delivered}) */
  private final TreeMap<Long, Pending> reorder = new TreeMap<>();
  private long bufferedBytes;

  private record Pending(byte[] data, long tsNs) {}

  public boolean started() {
    return started;
  }

  /** Sequence number of stream offset 0 (meaningful once started). */
  public long baseSeq() {
    return baseSeq;
  }

  /** Offset of the next byte the reader expects. */
  public long deliveredOffset() {
    return delivered;
  }

  public long retransmittedBytes() {
    return retransmittedBytes;
  }

  public long gapBytes() {
    return gapBytes;
  }

  /** True while out-of-order bytes wait for a hole to fill. */
  public boolean hasBuffered() {
    return !reorder.isEmpty();
  }

  public boolean finished() {
    return finOffset >= 0 && delivered >= finOffset && reorder.isEmpty();
  }

  /** Absolute sequence number of a stream offset. */
  public long seqOf(long streamOffset) {
    return (baseSeq + streamOffset) & (SEQ_MOD - 1);
  }

  /**
   * Takes one captured segment of this direction.
   *
   * @param seq     the segment's sequence number (unsigned 32-bit)
   * @param syn     SYN flag: the first payload byte is at seq + 1
   * @param fin     FIN flag: the stream ends after this segment's payload
   */
  public void segment(long seq, boolean syn, boolean fin, byte[] payload, long tsNs,
      ReassemblyLimits limits, Receiver out) {
    int len = payload == null ? 0 : payload.length;
    long dataSeq = syn ? (seq + 1) & (SEQ_MOD - 1) : seq;
    if (!started) {
      if (!syn && len == 0) {
        return; // a lone FIN/RST of a connection we never saw: nothing to anchor on
      }
      started = true;
      baseSeq = dataSeq;
      delivered = 0;
    }
    long offset = offsetOf(dataSeq);
    if (fin) {
      finOffset = offset + len;
    }
    if (len == 0) {
      release(tsNs, limits, out);
      return;
    }
    long end = offset + len;
    if (end <= delivered) {
      retransmittedBytes += len;
      return;
    }
    int skip = 0;
    if (offset < delivered) {
      skip = (int) (delivered - offset);
      retransmittedBytes += skip;
      offset = delivered;
    }
    if (offset == delivered) {
      out.bytes(payload, skip, len - skip, offset, tsNs);
      delivered = end;
      drain(tsNs, out);
    } else {
      buffer(offset, payload, skip, tsNs);
    }
    release(tsNs, limits, out);
  }

  /** Delivers everything still buffered, declaring gaps for the holes (the connection or capture ended). */
  public void flush(long tsNs, Receiver out) {
    while (!reorder.isEmpty()) {
      forceNext(tsNs, out);
    }
  }

  /** Maps a sequence number to a stream offset near {@code delivered}, across wraparound. */
  private long offsetOf(long seq) {
    long expected = seqOf(delivered);
    int diff = (int) (seq - expected); // signed 32-bit distance
    return delivered + diff;
  }

  private void buffer(long offset, byte[] payload, int skip, long tsNs) {
    Pending existing = reorder.get(offset);
    int len = payload.length - skip;
    if (existing != null && existing.data.length >= len) {
      retransmittedBytes += len;
      return;
    }
    byte[] copy = new byte[len];
    System.arraycopy(payload, skip, copy, 0, len);
    if (existing != null) {
      bufferedBytes -= existing.data.length;
      retransmittedBytes += existing.data.length;
    }
    reorder.put(offset, new Pending(copy, tsNs));
    bufferedBytes += len;
  }

  /** Delivers buffered segments that are now contiguous. */
  private void drain(long nowNs, Receiver out) {
    while (!reorder.isEmpty()) {
      Map.Entry<Long, Pending> first = reorder.firstEntry();
      long offset = first.getKey();
      if (offset > delivered) {
        return;
      }
      reorder.pollFirstEntry();
      Pending p = first.getValue();
      bufferedBytes -= p.data.length;
      long end = offset + p.data.length;
      if (end <= delivered) {
        retransmittedBytes += p.data.length;
        continue;
      }
      int skip = (int) (delivered - offset);
      retransmittedBytes += skip;
      // the bytes were complete only when the hole before them was filled
      out.bytes(p.data, skip, p.data.length - skip, delivered, Math.max(p.tsNs, nowNs));
      delivered = end;
    }
  }

  /** Gives up on holes that waited too long or when the buffer is too full. */
  private void release(long nowNs, ReassemblyLimits limits, Receiver out) {
    while (!reorder.isEmpty()
        && (bufferedBytes > limits.maxBufferedBytes()
            || reorder.size() > limits.maxBufferedSegments()
            || nowNs - reorder.firstEntry().getValue().tsNs > limits.reorderTimeoutNs())) {
      forceNext(nowNs, out);
    }
  }

  private void forceNext(long nowNs, Receiver out) {
    long next = reorder.firstKey();
    if (next > delivered) {
      long missing = next - delivered;
      gapBytes += missing;
      out.gap(delivered, missing, nowNs);
      delivered = next;
    }
    drain(nowNs, out);
  }

  public void writeTo(DataOutput out) throws IOException {
    out.writeBoolean(started);
    out.writeLong(baseSeq);
    out.writeLong(delivered);
    out.writeLong(finOffset);
    out.writeLong(retransmittedBytes);
    out.writeLong(gapBytes);
    out.writeInt(reorder.size());
    for (Map.Entry<Long, Pending> e : reorder.entrySet()) {
      out.writeLong(e.getKey());
      out.writeLong(e.getValue().tsNs);
      out.writeInt(e.getValue().data.length);
      out.write(e.getValue().data);
    }
  }

  public static StreamReassembler readFrom(DataInput in) throws IOException {
    StreamReassembler r = new StreamReassembler();
    r.started = in.readBoolean();
    r.baseSeq = in.readLong();
    r.delivered = in.readLong();
    r.finOffset = in.readLong();
    r.retransmittedBytes = in.readLong();
    r.gapBytes = in.readLong();
    int n = in.readInt();
    for (int i = 0; i < n; i++) {
      long offset = in.readLong();
      long ts = in.readLong();
      byte[] data = new byte[in.readInt()];
      in.readFully(data);
      r.reorder.put(offset, new Pending(data, ts));
      r.bufferedBytes += data.length;
    }
    return r;
  }
}
