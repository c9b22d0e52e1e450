package dev.tapflow.capture;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Transport;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Turns decoded packets into {@code SegmentBatch}es, one open batch per connection.
 *
 * <p>A connection's open batch is flushed to the {@link BatchListener}
 * <ul>
 *   <li>when it holds {@link Options#maxBatchBytes} payload bytes or {@link Options#maxBatchSegments} segments;</li>
 *   <li>when capture time reaches its first segment's time + {@link Options#maxBatchDelayNs};</li>
 *   <li>after a segment with FIN or RST;</li>
 *   <li>when the connection is the least recently active one and more than
 *       {@link Options#maxConnections} are tracked;</li>
 *   <li>when it is the oldest open batch and all open batches together hold more than
 *       {@link Options#maxBufferedBytes};</li>
 *   <li>at {@link #finish()}.</li>
 * </ul>
 * Each connection has at most one open batch and everything runs on the caller's thread, so a
 * connection's batches are emitted in capture order.
 *
 * <p>Time bound, cheaply: open batches sit in a FIFO in opening order (≈ first-segment time);
 * each packet only looks at the FIFO's head. Entries of batches flushed early for another
 * reason are recognised by a sequence number and dropped when they reach the head.
 *
 * <p>Pure ACKs (TCP, no payload on the wire, no SYN/FIN/RST) are counted as
 * {@link SkipReason#PURE_ACK}, not published. UDP datagrams become segments with seq, ack,
 * flags and window 0.
 */
public final class SegmentBatcher {
  private static final int FIN = 0x01;
  private static final int SYN = 0x02;
  private static final int RST = 0x04;
  private static final ByteBuffer EMPTY = ByteBuffer.wrap(new byte[0]);

  static {
    // Avro 1.12.2 freezes its trusted packages (ClassSecurityValidator) when the first generated
    // class initialises. AvroSerde adds tapflow's package in its static initialiser, so it must
    // run before this class builds the first ConnectionKey/Segment, or a later AvroSerde fails
    // with "Forbidden dev.tapflow.schemas.ConnectionKey".
    try {
      Class.forName(AvroSerde.class.getName(), true, SegmentBatcher.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** Bounds of the batcher. Immutable; {@code with*} return a copy. */
  public static final class Options {
    /** Payload bytes in one batch that flush it; default 64 KiB. */
    public final int maxBatchBytes;
    /** Segments in one batch that flush it (bounds batches of empty segments); default 4096. */
    public final int maxBatchSegments;
    /** Capture time after a batch's first segment that flushes it, ns; default 5 ms. */
    public final long maxBatchDelayNs;
    /** Connections tracked at once; beyond it the least recently active is flushed and forgotten; default 65536. */
    public final int maxConnections;
    /** Payload bytes held in all open batches; beyond it the oldest batch is flushed; default 64 MiB. */
    public final long maxBufferedBytes;

    private Options(int maxBatchBytes, int maxBatchSegments, long maxBatchDelayNs, int maxConnections, long maxBufferedBytes) {
      if (maxBatchBytes < 1 || maxBatchSegments < 1 || maxBatchDelayNs < 1 || maxConnections < 1 || maxBufferedBytes < 1) {
        throw new IllegalArgumentException("batcher bounds must be positive");
      }
      this.maxBatchBytes = maxBatchBytes;
      this.maxBatchSegments = maxBatchSegments;
      this.maxBatchDelayNs = maxBatchDelayNs;
      this.maxConnections = maxConnections;
      this.maxBufferedBytes = maxBufferedBytes;
    }

    public static Options defaults() {
      return new Options(64 * 1024, 4096, 5_000_000L, 65_536, 64L * 1024 * 1024);
    }

    public Options withMaxBatchBytes(int v) { return new Options(v, maxBatchSegments, maxBatchDelayNs, maxConnections, maxBufferedBytes); }
    public Options withMaxBatchSegments(int v) { return new Options(maxBatchBytes, v, maxBatchDelayNs, maxConnections, maxBufferedBytes); }
    public Options withMaxBatchDelayNs(long v) { return new Options(maxBatchBytes, maxBatchSegments, v, maxConnections, maxBufferedBytes); }
    public Options withMaxConnections(int v) { return new Options(maxBatchBytes, maxBatchSegments, maxBatchDelayNs, v, maxBufferedBytes); }
    public Options withMaxBufferedBytes(long v) { return new Options(maxBatchBytes, maxBatchSegments, maxBatchDelayNs, maxConnections, v); }

    @Override
    public String toString() {
      return "maxBatchBytes=" + maxBatchBytes + " maxBatchSegments=" + maxBatchSegments
          + " maxBatchDelayNs=" + maxBatchDelayNs + " maxConnections=" + maxConnections
          + " maxBufferedBytes=" + maxBufferedBytes;
    }
  }

  /** Per-connection state: its Avro key (built once) and its open batch, if any. */
  private static final class Flow {
    final ConnectionKey key;
    ArrayList<Segment> open; // null: no open batch
    long firstTsNs;
    int bytes;
    long batchSeq;

    Flow(ConnectionKey key) {
      this.key = key;
    }
  }

  private final String agent;
  private final BatchListener listener;
  private final CaptureStats stats;
  private final Options options;
  private final FlowKey probe = new FlowKey();
  private final LinkedHashMap<FlowKey, Flow> flows;

  // FIFO of open batches in opening order: (flow, batch sequence number) pairs in a ring
  private Flow[] fifoFlow = new Flow[256];
  private long[] fifoSeq = new long[256];
  private int fifoHead;
  private int fifoSize;

  private long nextBatchSeq;
  private long bufferedBytes;
  private int openBatches;

  public SegmentBatcher(String agent, BatchListener listener, CaptureStats stats, Options options) {
    this.agent = Objects.requireNonNull(agent, "agent");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.stats = Objects.requireNonNull(stats, "stats");
    this.options = Objects.requireNonNull(options, "options");
    this.flows = new LinkedHashMap<>(1024, 0.75f, true) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<FlowKey, Flow> eldest) {
        if (size() <= SegmentBatcher.this.options.maxConnections) {
          return false;
        }
        flush(eldest.getValue());
        return true;
      }
    };
  }

  /**
   * Capture time moved to {@code tsNs}: flushes open batches whose time bound passed. Called by
   * {@link #accept} for every segment; call it for skipped packets too.
   */
  public void advanceTo(long tsNs) {
    while (fifoSize > 0) {
      Flow f = fifoFlow[fifoHead];
      if (f.open != null && f.batchSeq == fifoSeq[fifoHead]) {
        if (tsNs - f.firstTsNs < options.maxBatchDelayNs) {
          return;
        }
        flush(f);
      }
      fifoPop();
    }
  }

  /**
   * One decoded TCP or UDP packet at capture time {@code tsNs}.
   *
   * @param wireLen the frame's original length
   * @param packetNo the packet's 1-based number in the capture
   */
  public void accept(DecodedPacket p, long tsNs, int wireLen, long packetNo) {
    advanceTo(tsNs);
    if (p.transport == DecodedPacket.TCP && p.payloadLen == 0 && (p.flags & (SYN | FIN | RST)) == 0) {
      stats.skip(SkipReason.PURE_ACK);
      return;
    }
    boolean aToB = probe.fill(p);
    Flow f = flows.get(probe);
    if (f == null) {
      FlowKey k = probe.copy();
      f = new Flow(new ConnectionKey(agent, k.transport == DecodedPacket.TCP ? Transport.TCP : Transport.UDP,
          ByteBuffer.wrap(k.addrA()), k.portA, ByteBuffer.wrap(k.addrB()), k.portB));
      flows.put(k, f); // may flush and forget the least recently active connection
    }

    Segment s = new Segment();
    s.setTsNs(tsNs);
    s.setAToB(aToB);
    s.setSeq(p.seq);
    s.setAck(p.ack);
    s.setFlags(p.flags);
    s.setWindow(p.window);
    int n = p.capturedPayloadLen;
    s.setPayload(n == 0 ? EMPTY : ByteBuffer.wrap(Arrays.copyOfRange(p.frame, p.payloadOff, p.payloadOff + n)));
    s.setPayloadLen(p.payloadLen);
    s.setWireLen(wireLen);
    s.setPacketNo(packetNo);
    stats.segment(n);

    if (f.open == null) {
      f.open = new ArrayList<>(8);
      f.firstTsNs = tsNs;
      f.bytes = 0;
      f.batchSeq = nextBatchSeq++;
      openBatches++;
      fifoPush(f, f.batchSeq);
    }
    f.open.add(s);
    f.bytes += n;
    bufferedBytes += n;

    if ((p.flags & (FIN | RST)) != 0 || f.bytes >= options.maxBatchBytes || f.open.size() >= options.maxBatchSegments) {
      flush(f);
    }
    while (bufferedBytes > options.maxBufferedBytes && fifoSize > 0) {
      Flow oldest = fifoFlow[fifoHead];
      if (oldest.open != null && oldest.batchSeq == fifoSeq[fifoHead]) {
        flush(oldest);
      }
      fifoPop();
    }
  }

  /** End of the capture: flushes every open batch, oldest first, and forgets all connections. */
  public void finish() {
    while (fifoSize > 0) {
      Flow f = fifoFlow[fifoHead];
      if (f.open != null && f.batchSeq == fifoSeq[fifoHead]) {
        flush(f);
      }
      fifoPop();
    }
    flows.clear();
  }

  /** Connections currently tracked. */
  public int connections() {
    return flows.size();
  }

  /** Batches currently open (not yet emitted). */
  public int openBatches() {
    return openBatches;
  }

  /** Payload bytes held in open batches. */
  public long bufferedBytes() {
    return bufferedBytes;
  }

  private void flush(Flow f) {
    ArrayList<Segment> segs = f.open;
    if (segs == null) {
      return;
    }
    f.open = null;
    bufferedBytes -= f.bytes;
    f.bytes = 0;
    openBatches--;
    SegmentBatch batch = new SegmentBatch();
    batch.setSegments(segs);
    batch.setEndOfCapture(false);
    batch.setEndTsNs(0L);
    stats.batch();
    listener.onBatch(f.key, batch);
  }

  private void fifoPush(Flow f, long seq) {
    if (fifoSize == fifoFlow.length) {
      // full: drop the entries of batches already flushed, and grow only if still half full
      // (so the FIFO stays bounded by the open batches even if capture time stands still)
      int cap = fifoFlow.length;
      int newCap = openBatches >= cap / 2 ? cap * 2 : cap;
      Flow[] nf = new Flow[newCap];
      long[] ns = new long[newCap];
      int n = 0;
      for (int i = 0; i < fifoSize; i++) {
        int j = (fifoHead + i) & (cap - 1);
        Flow g = fifoFlow[j];
        if (g.open != null && g.batchSeq == fifoSeq[j]) {
          nf[n] = g;
          ns[n] = fifoSeq[j];
          n++;
        }
      }
      fifoFlow = nf;
      fifoSeq = ns;
      fifoHead = 0;
      fifoSize = n;
    }
    int tail = (fifoHead + fifoSize) & (fifoFlow.length - 1);
    fifoFlow[tail] = f;
    fifoSeq[tail] = seq;
    fifoSize++;
  }

  private void fifoPop() {
    fifoFlow[fifoHead] = null;
    fifoHead = (fifoHead + 1) & (fifoFlow.length - 1);
    fifoSize--;
  }
}
