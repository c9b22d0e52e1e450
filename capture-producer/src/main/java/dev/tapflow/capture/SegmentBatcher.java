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
 * <p>How an open batch holds its segments, and where a flushed one goes, is a
 * {@link SegmentSink}'s business: {@code Segment} objects handed to a {@link BatchListener}
 * (file import, {@code tapflow analyze}), or Avro bytes written in place for the live agent
 * ({@link SegmentBatchEncoder}). This class decides only when.
 *
 * <p>A connection's open batch is flushed to the sink
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
 * each packet only compares its time with the FIFO head's deadline. Entries of batches flushed early for another
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

  /**
   * Where segments go. The batcher opens a connection's batch, adds its segments in capture
   * order and flushes it; everything runs on the batcher's thread.
   *
   * @param <B> an open batch
   */
  public interface SegmentSink<B> {
    /** A new, empty batch (or a recycled one). */
    B open();

    /**
     * Adds one segment: the decoded packet {@code p} (payload at {@code p.payloadOff()}, its
     * captured length {@code p.capturedPayloadLen()}), valid only during this call.
     */
    void add(B batch, DecodedPacket p, long tsNs, boolean aToB, int wireLen, long packetNo);

    /** The batch of connection {@code key} is complete: {@code segments} segments, at least one. */
    void flush(ConnectionKey key, B batch, int segments);
  }

  /** The sink of {@link #SegmentBatcher(String, BatchListener, CaptureStats, Options)}: Segment objects. */
  private static final class SegmentObjects implements SegmentSink<ArrayList<Segment>> {
    private final BatchListener listener;

    SegmentObjects(BatchListener listener) {
      this.listener = Objects.requireNonNull(listener, "listener");
    }

    @Override
    public ArrayList<Segment> open() {
      return new ArrayList<>(8);
    }

    @Override
    public void add(ArrayList<Segment> batch, DecodedPacket p, long tsNs, boolean aToB, int wireLen, long packetNo) {
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
      batch.add(s);
    }

    @Override
    public void flush(ConnectionKey key, ArrayList<Segment> segments, int count) {
      SegmentBatch batch = new SegmentBatch();
      batch.setSegments(segments);
      batch.setEndOfCapture(false);
      batch.setEndTsNs(0L);
      batch.setVantage(dev.tapflow.schemas.VantageSetting.AUTO);
      batch.setLocalEndpoints(0);
      listener.onBatch(key, batch);
    }
  }

  /** Per-connection state: its Avro key (built once) and its open batch, if any. */
  private static final class Flow {
    final FlowKey flowKey;
    final ConnectionKey key;
    Object open; // null: no open batch
    long firstTsNs;
    int bytes;
    int segments;
    long batchSeq;

    Flow(FlowKey flowKey, ConnectionKey key) {
      this.flowKey = flowKey;
      this.key = key;
    }
  }

  private final String agent;
  private final SegmentSink<Object> sink;
  private final CaptureStats stats;
  private final Options options;
  private final FlowKey probe = new FlowKey();
  private final LinkedHashMap<FlowKey, Flow> flows;
  /** The previous packet's connection (the map's most recently used entry already), or null. */
  private Flow last;

  // FIFO of open batches in opening order: (flow, batch sequence number) pairs in a ring
  private Flow[] fifoFlow = new Flow[256];
  private long[] fifoSeq = new long[256];
  private int fifoHead;
  private int fifoSize;

  private long nextBatchSeq;
  /**
   * No open batch is due before this capture time: the FIFO head's deadline when it was last
   * looked at, lowered by every new batch. A lower bound, so one comparison per packet suffices.
   */
  private long nextDueNs = Long.MAX_VALUE;
  private long bufferedBytes;
  private int openBatches;

  /** A batcher that hands {@code SegmentBatch} objects to {@code listener}. */
  public SegmentBatcher(String agent, BatchListener listener, CaptureStats stats, Options options) {
    this(agent, new SegmentObjects(listener), stats, options);
  }

  /** A batcher whose batches are held and emitted by {@code sink}. */
  @SuppressWarnings("unchecked") // the batcher hands the sink back only batches the sink opened
  public <B> SegmentBatcher(String agent, SegmentSink<B> sink, CaptureStats stats, Options options) {
    this.agent = Objects.requireNonNull(agent, "agent");
    this.sink = (SegmentSink<Object>) Objects.requireNonNull(sink, "sink");
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
        if (eldest.getValue() == last) {
          last = null;
        }
        return true;
      }
    };
  }

  /**
   * Capture time moved to {@code tsNs}: flushes open batches whose time bound passed. Called by
   * {@link #accept} for every segment; call it for skipped packets too.
   */
  public void advanceTo(long tsNs) {
    if (tsNs < nextDueNs) {
      return; // the per-packet case: nothing is due yet
    }
    while (fifoSize > 0) {
      Flow f = fifoFlow[fifoHead];
      if (f.open != null && f.batchSeq == fifoSeq[fifoHead]) {
        if (tsNs - f.firstTsNs < options.maxBatchDelayNs) {
          nextDueNs = f.firstTsNs + options.maxBatchDelayNs;
          return;
        }
        flush(f);
      }
      fifoPop();
    }
    nextDueNs = Long.MAX_VALUE;
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
    Flow f = last;
    if (f == null || !f.flowKey.equals(probe)) { // a reply often follows its request: skip the lookup then
      f = flows.get(probe);
    }
    if (f == null) {
      FlowKey k = probe.copy();
      f = new Flow(k, new ConnectionKey(agent, k.transport == DecodedPacket.TCP ? Transport.TCP : Transport.UDP,
          ByteBuffer.wrap(k.addrA()), k.portA, ByteBuffer.wrap(k.addrB()), k.portB));
      flows.put(k, f); // may flush and forget the least recently active connection
    }
    last = f;

    int n = p.capturedPayloadLen;
    stats.segment(n);

    if (f.open == null) {
      f.open = sink.open();
      f.firstTsNs = tsNs;
      f.bytes = 0;
      f.segments = 0;
      f.batchSeq = nextBatchSeq++;
      openBatches++;
      fifoPush(f, f.batchSeq);
    }
    sink.add(f.open, p, tsNs, aToB, wireLen, packetNo);
    f.segments++;
    f.bytes += n;
    bufferedBytes += n;

    if ((p.flags & (FIN | RST)) != 0 || f.bytes >= options.maxBatchBytes || f.segments >= options.maxBatchSegments) {
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
    last = null;
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
    Object batch = f.open;
    if (batch == null) {
      return;
    }
    f.open = null;
    bufferedBytes -= f.bytes;
    f.bytes = 0;
    openBatches--;
    stats.batch();
    sink.flush(f.key, batch, f.segments);
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
    nextDueNs = Math.min(nextDueNs, f.firstTsNs + options.maxBatchDelayNs);
  }

  private void fifoPop() {
    fifoFlow[fifoHead] = null;
    fifoHead = (fifoHead + 1) & (fifoFlow.length - 1);
    fifoSize--;
  }
}
