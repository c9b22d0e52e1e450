package dev.tapflow.capture;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.VantageSetting;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * A {@link SegmentBatcher.SegmentSink} that writes each segment straight into its batch's Avro
 * bytes, so the live agent makes no {@code Segment} object per packet and runs no generic Avro
 * writer: a flushed batch is a finished Kafka record value and key, byte for byte what
 * {@link AvroSerde} writes for the same {@code SegmentBatch} and {@code ConnectionKey} (a test
 * compares them on every fixture).
 *
 * <p>Layout (Avro single-object encoding, then the binary datum):
 * <pre>
 *   C3 01, schema fingerprint (8 bytes)        copied from AvroSerde's own output
 *   segments: count (long), the segments, 0    one array block
 *   end_of_capture false (1 byte 00), end_ts_ns 0 (1 byte 00),
 *   vantage (the agent's setting, 1 byte), local_endpoints (which endpoints are this host's, 1 byte)
 * each segment: ts_ns, a_to_b, seq, ack, flags, window, payload (length + bytes), payload_len, wire_len, packet_no
 * </pre>
 * An open batch holds only the segments' bytes; the count is known at the flush, when the
 * record value is assembled in one array of its exact size.
 *
 * <p>Open batches' buffers are recycled (at most {@link #POOLED_BUFFERS} of at most
 * {@link #POOLED_BUFFER_BYTES} each are kept), so steady capture allocates little besides the
 * record values themselves. Not thread-safe: the batcher's thread only.
 */
public final class SegmentBatchEncoder implements SegmentBatcher.SegmentSink<SegmentBatchEncoder.OpenBatch> {
  /** Buffers of flushed batches kept for reuse. */
  public static final int POOLED_BUFFERS = 256;
  /** Larger buffers are left to the garbage collector rather than kept. */
  public static final int POOLED_BUFFER_BYTES = 128 * 1024;
  /** The most a segment adds besides its payload: 4 longs and 5 ints as varints, a boolean. */
  private static final int MAX_SEGMENT_OVERHEAD = 4 * 10 + 5 * 5 + 1;

  private static final byte[] VALUE_HEADER = singleObjectHeader(AvroSerde.segmentBatch().encode(emptyBatch()));
  private static final byte[] KEY_HEADER = singleObjectHeader(AvroSerde.connectionKey().encode(
      KafkaSegmentPublisher.endOfCaptureKey("")));

  /** Receives finished records on the batcher's thread. */
  @FunctionalInterface
  public interface Listener {
    /**
     * @param key the ConnectionKey, Avro single-object encoded
     * @param value the SegmentBatch, Avro single-object encoded
     * @param timestampMs the first segment's capture time, ms
     */
    void onBatch(byte[] key, byte[] value, long timestampMs, int segments, int payloadBytes);
  }

  /** A connection's open batch: its segments' Avro bytes so far. */
  public static final class OpenBatch {
    private byte[] buf = new byte[512];
    private int len;
    private long firstTsNs;
    private int payloadBytes;

    private void ensure(int more) {
      if (len + more > buf.length) {
        buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + more));
      }
    }

    private void writeLong(long v) {
      len = putLong(buf, len, v);
    }
  }

  private final Listener listener;
  private final int vantage;
  private final LocalAddresses local;
  private final ArrayDeque<OpenBatch> pool = new ArrayDeque<>();
  private String agent;
  private byte[] agentUtf8;

  public SegmentBatchEncoder(Listener listener) {
    this(listener, VantageSetting.AUTO, LocalAddresses.none());
  }

  /**
   * @param vantage the agent's --vantage, written on every batch
   * @param local the capturing host's addresses: each batch says which of its connection's endpoints are local
   */
  public SegmentBatchEncoder(Listener listener, VantageSetting vantage, LocalAddresses local) {
    this.listener = Objects.requireNonNull(listener, "listener");
    this.vantage = vantage.ordinal();
    this.local = Objects.requireNonNull(local, "local");
  }

  @Override
  public OpenBatch open() {
    OpenBatch b = pool.pollFirst();
    return b != null ? b : new OpenBatch();
  }

  @Override
  public void add(OpenBatch b, DecodedPacket p, long tsNs, boolean aToB, int wireLen, long packetNo) {
    int n = p.capturedPayloadLen;
    b.ensure(MAX_SEGMENT_OVERHEAD + n);
    if (b.len == 0) {
      b.firstTsNs = tsNs;
    }
    // locals, not fields, in the hot path: the JIT keeps them in registers
    byte[] buf = b.buf;
    int pos = b.len;
    pos = putLong(buf, pos, tsNs);
    buf[pos++] = (byte) (aToB ? 1 : 0);
    pos = putLong(buf, pos, p.seq);
    pos = putLong(buf, pos, p.ack);
    pos = putLong(buf, pos, p.flags); // an Avro int is the same zigzag varint as a long of that value
    pos = putLong(buf, pos, p.window);
    pos = putLong(buf, pos, n);
    System.arraycopy(p.frame, p.payloadOff, buf, pos, n);
    pos += n;
    pos = putLong(buf, pos, p.payloadLen);
    pos = putLong(buf, pos, wireLen);
    pos = putLong(buf, pos, packetNo);
    b.len = pos;
    b.payloadBytes += n;
  }

  /** Writes {@code v} as an Avro long (zigzag, then 7 bits a byte, low first) at {@code pos}; returns the end. */
  static int putLong(byte[] buf, int pos, long v) {
    long z = (v << 1) ^ (v >> 63);
    while ((z & ~0x7FL) != 0) {
      buf[pos++] = (byte) (z | 0x80);
      z >>>= 7;
    }
    buf[pos++] = (byte) z;
    return pos;
  }

  @Override
  public void flush(ConnectionKey key, OpenBatch b, int segments) {
    OpenBatch v = new OpenBatch();
    v.buf = new byte[VALUE_HEADER.length + varintSize(segments) + b.len + 5];
    System.arraycopy(VALUE_HEADER, 0, v.buf, 0, VALUE_HEADER.length);
    v.len = VALUE_HEADER.length;
    v.writeLong(segments);
    System.arraycopy(b.buf, 0, v.buf, v.len, b.len);
    v.len += b.len;
    v.buf[v.len++] = 0; // end of the array
    v.buf[v.len++] = 0; // end_of_capture = false
    v.buf[v.len++] = 0; // end_ts_ns = 0
    v.writeLong(vantage); // an enum is its index as an int: one byte for 0..2
    v.writeLong(local.endpoints(key)); // 0..3: one byte
    byte[] value = v.buf;
    long tsMs = Math.floorDiv(b.firstTsNs, 1_000_000L);
    int payload = b.payloadBytes;
    recycle(b);
    listener.onBatch(encodeKey(key), value, tsMs, segments, payload);
  }

  private void recycle(OpenBatch b) {
    if (pool.size() < POOLED_BUFFERS && b.buf.length <= POOLED_BUFFER_BYTES) {
      b.len = 0;
      b.payloadBytes = 0;
      b.firstTsNs = 0;
      pool.addFirst(b);
    }
  }

  /** A ConnectionKey as AvroSerde encodes it: agent, transport, ip_a, port_a, ip_b, port_b. */
  byte[] encodeKey(ConnectionKey key) {
    if (!key.getAgent().equals(agent)) {
      agent = key.getAgent();
      agentUtf8 = agent.getBytes(StandardCharsets.UTF_8);
    }
    ByteBuffer a = key.getIpA();
    ByteBuffer bb = key.getIpB();
    OpenBatch k = new OpenBatch();
    k.buf = new byte[KEY_HEADER.length + 5 + agentUtf8.length + 1 + 2 * (5 + 16 + 5)];
    System.arraycopy(KEY_HEADER, 0, k.buf, 0, KEY_HEADER.length);
    k.len = KEY_HEADER.length;
    k.writeLong(agentUtf8.length);
    System.arraycopy(agentUtf8, 0, k.buf, k.len, agentUtf8.length);
    k.len += agentUtf8.length;
    k.writeLong(key.getTransport().ordinal());
    writeBytes(k, a);
    k.writeLong(key.getPortA());
    writeBytes(k, bb);
    k.writeLong(key.getPortB());
    return Arrays.copyOf(k.buf, k.len);
  }

  /** Bytes of a non-negative count as a zigzag varint. */
  private static int varintSize(int n) {
    long z = (long) n << 1;
    int size = 1;
    while ((z & ~0x7FL) != 0) {
      z >>>= 7;
      size++;
    }
    return size;
  }

  private static void writeBytes(OpenBatch k, ByteBuffer b) {
    int n = b.remaining();
    k.writeLong(n);
    b.duplicate().get(k.buf, k.len, n);
    k.len += n;
  }

  private static SegmentBatch emptyBatch() {
    SegmentBatch b = new SegmentBatch();
    b.setSegments(List.of());
    b.setEndOfCapture(false);
    b.setEndTsNs(0L);
    b.setVantage(VantageSetting.AUTO);
    b.setLocalEndpoints(0);
    return b;
  }

  /** The 10-byte single-object header: marker C3 01 and the schema's 8-byte fingerprint. */
  private static byte[] singleObjectHeader(byte[] encoded) {
    if (encoded.length < 10 || (encoded[0] & 0xFF) != 0xC3 || encoded[1] != 0x01) {
      throw new IllegalStateException("AvroSerde no longer writes Avro single-object encoding");
    }
    return Arrays.copyOf(encoded, 10);
  }
}
