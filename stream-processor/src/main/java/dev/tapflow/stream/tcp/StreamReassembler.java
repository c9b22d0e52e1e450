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
 * <p>Invariants:
 * <ul>
 *   <li>Stream offsets count from the first byte after the SYN (or from the first byte seen
 *       when the capture started mid-connection). Sequence numbers are unsigned 32-bit and
 *       mapped to offsets by their signed distance from the next expected byte, so
 *       wraparound is invisible above this class.
 *   <li>{@code delivered} is the offset of the next byte the reader expects; bytes before it
 *       are never delivered twice (retransmits, keep-alives and overlaps are trimmed).
 *   <li>Bytes after it wait in a reorder buffer of disjoint pieces: a new segment only adds
 *       the ranges no earlier segment covered (first arrival wins, as the receiver's own
 *       out-of-order queue keeps it); differing bytes in an overlap are an
 *       {@link #OVERLAP_CONFLICT}.
 *   <li>A hole is declared a gap, and delivery moves on, when the peer acknowledged bytes the
 *       capture never saw ({@link GapCause#ACKED_NOT_CAPTURED}: they will not be
 *       retransmitted), when the buffer bounds of {@link ReassemblyLimits} are hit
 *       ({@link GapCause#BUFFER_LIMIT}, also raised as {@link #BUFFER_LIMIT}), when it stayed
 *       open longer than the reorder timeout ({@link GapCause#REORDER_TIMEOUT}), when the
 *       snap length cut a segment ({@link GapCause#SNAPLEN}), or when the stream ends
 *       ({@link GapCause#STREAM_END}).
 *   <li>Time: bytes are complete when the hole before them was filled, so a buffered piece
 *       is delivered at the later of its own capture time and the filling segment's. After a
 *       declared gap nothing was filled: pieces keep their own capture times.
 * </ul>
 */
public final class StreamReassembler {

  /** Anomaly: retransmitted bytes differ from the bytes first captured for that range. */
  public static final String OVERLAP_CONFLICT = "TCP_OVERLAP_CONFLICT";
  /** Anomaly: the reorder buffer bound was hit and a hole was declared a gap early. */
  public static final String BUFFER_LIMIT = "TCP_BUFFER_LIMIT";
  /** Anomaly: a segment claimed a position implausibly far ahead of the stream; dropped. */
  public static final String SEQ_OUT_OF_WINDOW = "TCP_SEQ_OUT_OF_WINDOW";

  /** Why bytes are missing from the stream. */
  public enum GapCause {
    /** the peer acknowledged them: they crossed the wire, but the capture lost them */
    ACKED_NOT_CAPTURED,
    /** the reorder buffer was full */
    BUFFER_LIMIT,
    /** the hole stayed open longer than the reorder timeout */
    REORDER_TIMEOUT,
    /** the capture's snap length cut the segment */
    SNAPLEN,
    /** the connection or the capture ended with the hole open */
    STREAM_END
  }

  /** Receives what the reassembler delivers, in stream order. */
  public interface Receiver {
    /** Bytes {@code [streamOffset, streamOffset + len)} of this direction; tsNs is when they were complete. */
    void bytes(byte[] buf, int off, int len, long streamOffset, long tsNs);

    /** Bytes {@code [streamOffset, streamOffset + length)} were never captured. */
    void gap(long streamOffset, long length, long tsNs, GapCause cause);

    /** A named anomaly of the byte stream itself (see the constants of this class). */
    default void anomaly(String name, long streamOffset, String detail) {}
  }

  private static final long SEQ_MOD = 1L << 32;
  /** A segment further ahead than this is not a plausible part of this stream. */
  private static final long MAX_SEQ_JUMP = 1L << 30;

  private boolean started;
  /** sequence number of stream offset 0 */
  private long baseSeq;
  /** offset of the next byte to deliver */
  private long delivered;
  /** offset of the FIN, or -1 */
  private long finOffset = -1;
  private long retransmittedBytes;
  private long gapBytes;
  /** out-of-order pieces: offset -> piece; pieces are disjoint and start after {@code delivered} */
  private final TreeMap<Long, Piece> reorder = new TreeMap<>();
  private long bufferedBytes;

  /** Part of the stream waiting for a hole: captured bytes, or (data == null) bytes the snap length cut. */
  private record Piece(byte[] data, int length, long tsNs) {}

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

  /** Captured bytes held in the reorder buffer. */
  public long bufferedBytes() {
    return bufferedBytes;
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

  /** As {@link #segment(long, boolean, boolean, byte[], int, long, ReassemblyLimits, Receiver)} with nothing cut by the snap length. */
  public void segment(long seq, boolean syn, boolean fin, byte[] payload, long tsNs,
      ReassemblyLimits limits, Receiver out) {
    segment(seq, syn, fin, payload, payload == null ? 0 : payload.length, tsNs, limits, out);
  }

  /**
   * Takes one captured segment of this direction.
   *
   * @param seq     the segment's sequence number (unsigned 32-bit)
   * @param syn     SYN flag: the first payload byte is at seq + 1
   * @param fin     FIN flag: the stream ends after this segment's payload
   * @param payload the payload as captured
   * @param wireLen the payload's length on the wire (from the IP header); when the snap
   *                length cut the segment the missing tail becomes a {@link GapCause#SNAPLEN} gap
   */
  public void segment(long seq, boolean syn, boolean fin, byte[] payload, int wireLen, long tsNs,
      ReassemblyLimits limits, Receiver out) {
    int captured = payload == null ? 0 : payload.length;
    int len = Math.max(captured, wireLen);
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
    if (offset - delivered > MAX_SEQ_JUMP) {
      out.anomaly(SEQ_OUT_OF_WINDOW, delivered, "segment " + (offset - delivered) + " bytes ahead of the stream");
      return;
    }
    if (fin) {
      finOffset = offset + len;
    }
    if (len > 0) {
      take(offset, payload, captured, len, tsNs, out);
    }
    release(tsNs, limits, out);
  }

  /**
   * The other direction acknowledged everything before {@code ackSeq}: bytes of this
   * direction up to there crossed the wire and will not be retransmitted, so holes before
   * it are capture loss, declared now rather than after the reorder timeout.
   */
  public void acked(long ackSeq, long tsNs, Receiver out) {
    if (!started) {
      return;
    }
    long ackOffset = offsetOf(ackSeq);
    if (finOffset >= 0) {
      ackOffset = Math.min(ackOffset, finOffset); // the FIN takes one sequence number, not a byte
    }
    if (ackOffset <= delivered || ackOffset - delivered > MAX_SEQ_JUMP) {
      return;
    }
    while (delivered < ackOffset) {
      Map.Entry<Long, Piece> first = reorder.firstEntry();
      long holeEnd = first == null ? ackOffset : Math.min(first.getKey(), ackOffset);
      if (holeEnd > delivered) {
        declareGap(holeEnd - delivered, tsNs, GapCause.ACKED_NOT_CAPTURED, out);
      }
      drain(Long.MIN_VALUE, out);
    }
  }

  /** Delivers everything still buffered, declaring gaps for the holes (the connection or capture ended). */
  public void flush(long tsNs, Receiver out) {
    while (!reorder.isEmpty()) {
      forceNext(tsNs, GapCause.STREAM_END, out);
    }
    if (finOffset > delivered) {
      declareGap(finOffset - delivered, tsNs, GapCause.STREAM_END, out); // lost before the FIN
    }
  }

  /** Maps a sequence number to a stream offset near {@code delivered}, across wraparound. */
  private long offsetOf(long seq) {
    long expected = seqOf(delivered);
    int diff = (int) (seq - expected); // signed 32-bit distance
    return delivered + diff;
  }

  /** A segment of {@code len} bytes at {@code offset}, of which the first {@code captured} were captured. */
  private void take(long offset, byte[] payload, int captured, int len, long tsNs, Receiver out) {
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
    if (offset > delivered) {
      insert(offset, payload, skip, captured - skip, len - skip, tsNs, out);
      return;
    }
    // in order: deliver now, then whatever the hole was holding back
    if (captured > skip) {
      int n = captured - skip;
      trimBufferedUpTo(offset + n, payload, skip, offset, out);
      out.bytes(payload, skip, n, offset, tsNs);
      delivered = offset + n;
    }
    if (delivered < end) {
      trimBufferedUpTo(end, null, 0, delivered, out);
      declareGap(end - delivered, tsNs, GapCause.SNAPLEN, out);
    }
    drain(tsNs, out);
  }

  /**
   * Before in-order bytes {@code [from, to)} are delivered, buffered pieces inside that range
   * are retired (compared with the new bytes when both were captured).
   */
  private void trimBufferedUpTo(long to, byte[] src, int srcOff, long from, Receiver out) {
    while (!reorder.isEmpty() && reorder.firstKey() < to) {
      Map.Entry<Long, Piece> e = reorder.pollFirstEntry();
      Piece p = e.getValue();
      long start = e.getKey();
      long pEnd = start + p.length;
      bufferedBytes -= p.data == null ? 0 : p.data.length;
      long overlapEnd = Math.min(pEnd, to);
      if (src != null && p.data != null) {
        checkConflict(p.data, 0, src, srcOff + (int) (start - from), (int) (overlapEnd - start), start, out);
      }
      retransmittedBytes += overlapEnd - start;
      if (pEnd > to) {
        // the tail of the piece lies beyond the new bytes: keep it
        int cut = (int) (to - start);
        reorder.put(to, new Piece(p.data == null ? null : copy(p.data, cut, p.length - cut), p.length - cut, p.tsNs));
        bufferedBytes += p.data == null ? 0 : p.length - cut;
      }
    }
  }

  /**
   * Buffers the parts of {@code [offset, offset + len)} no buffered piece covers yet; the
   * first {@code captured} bytes (from {@code payload[from]}) were captured, the rest cut.
   */
  private void insert(long offset, byte[] payload, int from, int captured, int len, long tsNs, Receiver out) {
    long end = offset + len;
    long capturedEnd = offset + Math.max(0, captured);
    long cur = offset;
    Map.Entry<Long, Piece> before = reorder.lowerEntry(cur);
    if (before != null) {
      long bEnd = before.getKey() + before.getValue().length;
      if (bEnd > cur) {
        long ovEnd = Math.min(end, bEnd);
        overlap(before.getKey(), before.getValue(), cur, ovEnd, payload, from, offset, capturedEnd, out);
        cur = ovEnd;
      }
    }
    while (cur < end) {
      Map.Entry<Long, Piece> next = reorder.ceilingEntry(cur);
      long pieceEnd = next == null ? end : Math.min(end, next.getKey());
      if (pieceEnd > cur) {
        addPiece(cur, pieceEnd, payload, from, offset, capturedEnd, tsNs);
        cur = pieceEnd;
      }
      if (next != null && next.getKey() < end) {
        long ovEnd = Math.min(end, next.getKey() + next.getValue().length);
        overlap(next.getKey(), next.getValue(), cur, ovEnd, payload, from, offset, capturedEnd, out);
        cur = ovEnd;
      }
    }
  }

  /** {@code [start, end)} of the new segment is already buffered in {@code p} (at {@code pStart}). */
  private void overlap(long pStart, Piece p, long start, long end, byte[] payload, int from, long segOffset,
      long capturedEnd, Receiver out) {
    retransmittedBytes += end - start;
    long cmpEnd = Math.min(end, capturedEnd);
    if (p.data != null && cmpEnd > start) {
      checkConflict(p.data, (int) (start - pStart), payload, from + (int) (start - segOffset),
          (int) (cmpEnd - start), start, out);
    }
  }

  private void addPiece(long start, long end, byte[] payload, int from, long segOffset, long capturedEnd, long tsNs) {
    // a piece is either all captured or all cut: split at the captured end
    if (start < capturedEnd && end > capturedEnd) {
      addPiece(start, capturedEnd, payload, from, segOffset, capturedEnd, tsNs);
      addPiece(capturedEnd, end, payload, from, segOffset, capturedEnd, tsNs);
      return;
    }
    int length = (int) (end - start);
    byte[] data = start < capturedEnd ? copy(payload, from + (int) (start - segOffset), length) : null;
    reorder.put(start, new Piece(data, length, tsNs));
    bufferedBytes += data == null ? 0 : length;
  }

  private void checkConflict(byte[] a, int aOff, byte[] b, int bOff, int len, long streamOffset, Receiver out) {
    for (int i = 0; i < len; i++) {
      if (a[aOff + i] != b[bOff + i]) {
        out.anomaly(OVERLAP_CONFLICT, streamOffset + i,
            "retransmitted bytes differ from the first capture of " + len + " bytes; the first capture is kept");
        return;
      }
    }
  }

  private static byte[] copy(byte[] src, int off, int len) {
    byte[] c = new byte[len];
    System.arraycopy(src, off, c, 0, len);
    return c;
  }

  /**
   * Delivers buffered pieces that are now contiguous. {@code fillTs} is when the hole before
   * them was filled (Long.MIN_VALUE after a declared gap: nothing was filled).
   */
  private void drain(long fillTs, Receiver out) {
    long ts = fillTs;
    while (!reorder.isEmpty()) {
      Map.Entry<Long, Piece> first = reorder.firstEntry();
      long offset = first.getKey();
      if (offset > delivered) {
        return;
      }
      reorder.pollFirstEntry();
      Piece p = first.getValue();
      bufferedBytes -= p.data == null ? 0 : p.data.length;
      ts = Math.max(ts, p.tsNs); // bytes are complete no earlier than the bytes before them
      // pieces are disjoint and never start before delivered (trimmed on the way in)
      if (p.data == null) {
        declareGap(p.length, ts, GapCause.SNAPLEN, out);
      } else {
        out.bytes(p.data, 0, p.length, offset, ts);
        delivered = offset + p.length;
      }
    }
  }

  private void declareGap(long length, long tsNs, GapCause cause, Receiver out) {
    gapBytes += length;
    out.gap(delivered, length, tsNs, cause);
    delivered += length;
  }

  /** Gives up on holes that waited too long or when the buffer is too full. */
  private void release(long nowNs, ReassemblyLimits limits, Receiver out) {
    while (!reorder.isEmpty()) {
      if (bufferedBytes > limits.maxBufferedBytes() || reorder.size() > limits.maxBufferedSegments()) {
        out.anomaly(BUFFER_LIMIT, delivered, bufferedBytes + " bytes in " + reorder.size()
            + " pieces buffered behind a hole (limits " + limits.maxBufferedBytes() + " bytes, "
            + limits.maxBufferedSegments() + " pieces)");
        forceNext(nowNs, GapCause.BUFFER_LIMIT, out);
      } else if (nowNs - reorder.firstEntry().getValue().tsNs > limits.reorderTimeoutNs()) {
        forceNext(nowNs, GapCause.REORDER_TIMEOUT, out);
      } else {
        return;
      }
    }
  }

  private void forceNext(long nowNs, GapCause cause, Receiver out) {
    long next = reorder.firstKey();
    if (next > delivered) {
      declareGap(next - delivered, nowNs, cause, out);
    }
    drain(Long.MIN_VALUE, out);
  }

  public void writeTo(DataOutput out) throws IOException {
    out.writeBoolean(started);
    if (!started) {
      return;
    }
    out.writeInt((int) baseSeq);
    out.writeLong(delivered);
    out.writeLong(finOffset);
    out.writeLong(retransmittedBytes);
    out.writeLong(gapBytes);
    out.writeInt(reorder.size());
    for (Map.Entry<Long, Piece> e : reorder.entrySet()) {
      Piece p = e.getValue();
      out.writeLong(e.getKey());
      out.writeLong(p.tsNs);
      out.writeInt(p.length);
      out.writeBoolean(p.data != null);
      if (p.data != null) {
        out.write(p.data);
      }
    }
  }

  /**
   * Reads a state written by {@link #writeTo}.
   *
   * @throws IOException when the bytes are not a reassembler state (a piece claims more than
   *                     a segment can hold, or pieces overlap)
   */
  public static StreamReassembler readFrom(DataInput in) throws IOException {
    StreamReassembler r = new StreamReassembler();
    r.started = in.readBoolean();
    if (!r.started) {
      return r;
    }
    r.baseSeq = in.readInt() & 0xffffffffL;
    r.delivered = in.readLong();
    r.finOffset = in.readLong();
    r.retransmittedBytes = in.readLong();
    r.gapBytes = in.readLong();
    int n = in.readInt();
    long end = r.delivered;
    for (int i = 0; i < n; i++) {
      long offset = in.readLong();
      long ts = in.readLong();
      int length = in.readInt();
      if (length <= 0 || length > 1 << 20 || offset < end) {
        throw new IOException("corrupt reorder buffer entry at " + offset + " (" + length + " bytes)");
      }
      byte[] data = null;
      if (in.readBoolean()) {
        data = new byte[length];
        in.readFully(data);
        r.bufferedBytes += length;
      }
      r.reorder.put(offset, new Piece(data, length, ts));
      end = offset + length;
    }
    return r;
  }
}
