package dev.tapflow.capture;

import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Objects;

/**
 * Reassembles IPv4 (RFC 791 section 3.2) and IPv6 (RFC 8200 section 4.5) fragments into whole
 * datagrams, which are then parsed as if they had arrived whole: the transport header and
 * payload come from the reassembled bytes, the capture time is that of the fragment that
 * completed the datagram, the wire length the sum of its fragments'.
 *
 * <p>A datagram is identified by source, destination, protocol and identification (IPv4) or
 * source, destination and identification (IPv6). Its protocol is the IPv4 one, or the next
 * header of the IPv6 offset-0 fragment (the others' may differ, RFC 8200 section 4.5); a
 * reassembled datagram that is not TCP or UDP is {@link SkipReason#NOT_TCP_OR_UDP}, like a whole
 * one (so is an IPv6 one whose fragmentable part starts with a destination options header).
 *
 * <p>Decisions, each counted as a {@link FragmentEvent}:
 * <ul>
 *   <li>Overlaps: a fragment whose bytes are all held already, identical, is a duplicate and
 *       ignored; any other overlap drops the datagram, for IPv4 as for IPv6 (RFC 5722). This is
 *       what Linux has done since 4.19 (CVE-2018-5391), so we drop what the receiver dropped.</li>
 *   <li>Inconsistent fragments drop their datagram, as Linux does: no data, a non-last fragment
 *       not a multiple of 8 bytes long, a last fragment ending before data already held or
 *       elsewhere than an earlier last fragment, data beyond the last fragment's end.</li>
 *   <li>A fragment cut by the snap length drops its datagram: it cannot be rebuilt.</li>
 *   <li>Time is capture time. An incomplete datagram is evicted {@link Options#timeoutNs} after
 *       its first fragment (Linux: {@code ipfrag_time}, not renewed by later fragments).</li>
 *   <li>When a bound is reached the oldest incomplete datagrams are evicted: in a capture the
 *       oldest incomplete one is the likeliest to have lost a fragment for good.</li>
 * </ul>
 *
 * <p>Memory is bounded whatever the input: at most {@link Options#maxDatagrams} incomplete
 * datagrams, each buffer at most {@link Options#maxDatagramBytes}, all buffers (data and
 * coverage bitmap, by capacity) at most {@link Options#maxBufferedBytes}; every size is checked
 * before anything is allocated. Nothing throws on bad input.
 *
 * <p>Per incomplete datagram: one buffer holding the addresses then the data at its offsets,
 * grown by doubling as fragments reach further, and a bitmap with one bit per 8-byte block
 * received. Invariant: a datagram is complete when its last fragment has arrived and every
 * block up to its end is set. Incomplete datagrams sit in first-fragment order, so the oldest
 * (for eviction and timeout) is always the first.
 *
 * <p>Not thread-safe; one per capture.
 */
public final class IpFragmentReassembler {
  /** Bytes before the data in a datagram's buffer: source address at 0, destination at 16. */
  private static final int ADDR_ROOM = 32;

  /** Bounds of the reassembler. Immutable; {@code with*} return a copy. */
  public static final class Options {
    /** Bytes held for all incomplete datagrams (buffer and bitmap capacity); beyond it the oldest are evicted; default 4 MiB. */
    public final long maxBufferedBytes;
    /** Incomplete datagrams held at once; beyond it the oldest is evicted; default 1024. */
    public final int maxDatagrams;
    /**
     * Largest reassembled datagram, as its IPv4 total length or IPv6 payload length (the
     * fixed 40-byte header not counted); a fragment reaching beyond is {@link FragmentEvent#TOO_LARGE};
     * default 65535, the 16-bit fields' maximum (no jumbograms).
     */
    public final int maxDatagramBytes;
    /** Capture time an incomplete datagram is held after its first fragment, ns; default 30 s (Linux {@code ipfrag_time}). */
    public final long timeoutNs;

    private Options(long maxBufferedBytes, int maxDatagrams, int maxDatagramBytes, long timeoutNs) {
      if (maxBufferedBytes < 1 || maxDatagrams < 1 || maxDatagramBytes < 1 || timeoutNs < 1) {
        throw new IllegalArgumentException("reassembly bounds must be positive");
      }
      if (maxDatagramBytes > 65535) {
        throw new IllegalArgumentException("maxDatagramBytes above 65535: IP length fields are 16 bits");
      }
      this.maxBufferedBytes = maxBufferedBytes;
      this.maxDatagrams = maxDatagrams;
      this.maxDatagramBytes = maxDatagramBytes;
      this.timeoutNs = timeoutNs;
    }

    public static Options defaults() {
      return new Options(4L * 1024 * 1024, 1024, 65535, 30_000_000_000L);
    }

    public Options withMaxBufferedBytes(long v) { return new Options(v, maxDatagrams, maxDatagramBytes, timeoutNs); }
    public Options withMaxDatagrams(int v) { return new Options(maxBufferedBytes, v, maxDatagramBytes, timeoutNs); }
    public Options withMaxDatagramBytes(int v) { return new Options(maxBufferedBytes, maxDatagrams, v, timeoutNs); }
    public Options withTimeoutNs(long v) { return new Options(maxBufferedBytes, maxDatagrams, maxDatagramBytes, v); }

    @Override
    public String toString() {
      return "maxBufferedBytes=" + maxBufferedBytes + " maxDatagrams=" + maxDatagrams
          + " maxDatagramBytes=" + maxDatagramBytes + " timeoutNs=" + timeoutNs;
    }
  }

  /** A datagram's identity as primitives; one mutable probe per reassembler, a copy per datagram. */
  private static final class Key {
    boolean v6;
    long srcHi;
    long srcLo;
    long dstHi;
    long dstLo;
    int proto; // IPv4 only; -1 for IPv6, whose key has no protocol
    int id;

    void fill(DecodedPacket p) {
      byte[] f = p.frame;
      v6 = p.addrLen == 16;
      if (v6) {
        srcHi = PacketDecoder.u64(f, p.srcAddrOff);
        srcLo = PacketDecoder.u64(f, p.srcAddrOff + 8);
        dstHi = PacketDecoder.u64(f, p.dstAddrOff);
        dstLo = PacketDecoder.u64(f, p.dstAddrOff + 8);
        proto = -1;
      } else {
        srcHi = 0;
        srcLo = PacketDecoder.u32(f, p.srcAddrOff);
        dstHi = 0;
        dstLo = PacketDecoder.u32(f, p.dstAddrOff);
        proto = p.fragProto;
      }
      id = p.fragId;
    }

    Key copy() {
      Key k = new Key();
      k.v6 = v6;
      k.srcHi = srcHi;
      k.srcLo = srcLo;
      k.dstHi = dstHi;
      k.dstLo = dstLo;
      k.proto = proto;
      k.id = id;
      return k;
    }

    @Override
    public boolean equals(Object o) {
      if (!(o instanceof Key)) return false;
      Key k = (Key) o;
      return id == k.id && srcLo == k.srcLo && dstLo == k.dstLo && srcHi == k.srcHi && dstHi == k.dstHi
          && proto == k.proto && v6 == k.v6;
    }

    @Override
    public int hashCode() {
      long h = (srcLo ^ ((long) id << 32)) * 0x9E3779B97F4A7C15L;
      h = (h ^ dstLo) * 0x9E3779B97F4A7C15L;
      h = (h ^ srcHi ^ (dstHi << 1) ^ ((long) proto << 8) ^ (v6 ? 1 : 0)) * 0x9E3779B97F4A7C15L;
      return (int) (h ^ (h >>> 32));
    }
  }

  /** An incomplete datagram. */
  private static final class Datagram {
    final Key key;
    final long firstTsNs;
    final int ipVersion;
    int proto = -1;     // from the offset-0 fragment (IPv6) or any (IPv4); -1 until known
    byte[] buf;         // addresses, then data at ADDR_ROOM + offset; null until the first data
    long[] blocks;      // bit i: data bytes [8i, 8i + 8) received
    int blocksSet;
    int maxEnd;         // furthest data byte received
    int finalLen = -1;  // data length, once the last fragment arrived
    long wireBytes;     // wire lengths of the fragments taken

    Datagram(Key key, long firstTsNs, int ipVersion) {
      this.key = key;
      this.firstTsNs = firstTsNs;
      this.ipVersion = ipVersion;
    }

    long heldBytes() {
      return buf == null ? 0 : buf.length + 8L * blocks.length;
    }
  }

  private final CaptureStats stats;
  private final Options options;
  private final Key probe = new Key();
  private final LinkedHashMap<Key, Datagram> pending = new LinkedHashMap<>(); // first-fragment order
  private long bufferedBytes;
  private int reassembledWireLen;

  public IpFragmentReassembler(CaptureStats stats, Options options) {
    this.stats = Objects.requireNonNull(stats, "stats");
    this.options = Objects.requireNonNull(options, "options");
  }

  /**
   * One fragment, as {@link PacketDecoder#decode} left it in {@code p} (it returned
   * {@link SkipReason#IPV4_FRAGMENT} or {@link SkipReason#IPV6_FRAGMENT}).
   *
   * @param tsNs the fragment's capture time
   * @param wireLen the fragment's original length
   * @return null when this fragment completed its datagram: {@code p} then holds the whole
   *     datagram's TCP or UDP packet (its frame is the reassembled buffer) and
   *     {@link #reassembledWireLen()} its wire length. Otherwise why this packet is no segment:
   *     the fragment's own reason when it was held or dropped (see {@link FragmentEvent}), or
   *     the reassembled datagram's when that is not a valid TCP or UDP packet.
   */
  public SkipReason accept(DecodedPacket p, long tsNs, int wireLen) {
    SkipReason held = p.ipVersion == 6 ? SkipReason.IPV6_FRAGMENT : SkipReason.IPV4_FRAGMENT;
    stats.fragmentEvent(FragmentEvent.FRAGMENTS);
    expire(tsNs);
    probe.fill(p);
    int off = p.fragOffset;
    int len = p.fragDataLen;
    int end = off + len; // at most 8191 * 8 + 65535: no overflow
    boolean more = p.fragMore;

    FragmentEvent bad = null;
    if (p.fragCapturedLen < len) {
      bad = FragmentEvent.SNAP_TRUNCATED;
    } else if (len == 0 || (more && (len & 7) != 0)) {
      bad = FragmentEvent.MALFORMED;
    } else if (p.fragHeaderLen + end > options.maxDatagramBytes) {
      bad = FragmentEvent.TOO_LARGE;
    }
    Datagram d = pending.get(probe);
    if (bad == null && d != null) {
      if (more ? d.finalLen >= 0 && end > d.finalLen : end < d.maxEnd || (d.finalLen >= 0 && end != d.finalLen)) {
        bad = FragmentEvent.MALFORMED;
      } else {
        int blocks = blocksUpTo(end) - (off >> 3);
        int set = countSet(d.blocks, off >> 3, blocksUpTo(end));
        if (set != 0) {
          // all held and identical: a duplicate; anything else overlapping: the datagram goes
          if (set == blocks && ADDR_ROOM + end <= d.buf.length
              && Arrays.equals(d.buf, ADDR_ROOM + off, ADDR_ROOM + end, p.frame, p.fragDataOff, p.fragDataOff + len)) {
            stats.fragmentEvent(FragmentEvent.DUPLICATES);
            return held;
          }
          bad = FragmentEvent.OVERLAPS;
        }
      }
    }
    if (bad != null) {
      stats.fragmentEvent(bad);
      if (d != null) {
        remove(d);
      }
      return held;
    }

    if (d == null) {
      if (pending.size() >= options.maxDatagrams) {
        evictOldest(null, FragmentEvent.DATAGRAM_LIMIT);
      }
      d = new Datagram(probe.copy(), tsNs, p.ipVersion);
      pending.put(d.key, d);
    }
    if (!ensureCapacity(d, end)) {
      stats.fragmentEvent(FragmentEvent.BUFFER_LIMIT);
      remove(d);
      return held;
    }
    if (d.blocksSet == 0) { // the first fragment taken (every one has data)
      System.arraycopy(p.frame, p.srcAddrOff, d.buf, 0, p.addrLen);
      System.arraycopy(p.frame, p.dstAddrOff, d.buf, 16, p.addrLen);
    }
    if (off == 0 || d.ipVersion == 4) {
      d.proto = p.fragProto;
    }
    System.arraycopy(p.frame, p.fragDataOff, d.buf, ADDR_ROOM + off, len);
    int from = off >> 3;
    int to = blocksUpTo(end);
    setRange(d.blocks, from, to);
    d.blocksSet += to - from;
    d.maxEnd = Math.max(d.maxEnd, end);
    if (!more) {
      d.finalLen = end;
    }
    d.wireBytes += wireLen;
    if (d.finalLen < 0 || d.blocksSet != blocksUpTo(d.finalLen)) {
      return held;
    }

    // complete: hand it on as a whole packet
    remove(d);
    stats.fragmentEvent(FragmentEvent.REASSEMBLED);
    reassembledWireLen = (int) Math.min(Integer.MAX_VALUE, d.wireBytes);
    p.frame = d.buf;
    p.srcAddrOff = 0;
    p.dstAddrOff = 16;
    return PacketDecoder.decodeTransport(d.proto, d.buf, ADDR_ROOM, d.finalLen, ADDR_ROOM + d.finalLen, p);
  }

  /** Wire length of the datagram the last {@link #accept} completed: the sum of its fragments'. */
  public int reassembledWireLen() {
    return reassembledWireLen;
  }

  /**
   * End of the capture, whose last packet was at {@code lastTsNs}: incomplete datagrams older
   * than the timeout count as {@link FragmentEvent#TIMED_OUT}, the rest as
   * {@link FragmentEvent#INCOMPLETE_AT_END}; all are dropped.
   */
  public void finish(long lastTsNs) {
    expire(lastTsNs);
    while (!pending.isEmpty()) {
      evictOldest(null, FragmentEvent.INCOMPLETE_AT_END);
    }
  }

  /** Incomplete datagrams held. */
  public int pendingDatagrams() {
    return pending.size();
  }

  /** Bytes held for incomplete datagrams (buffer and bitmap capacity). */
  public long bufferedBytes() {
    return bufferedBytes;
  }

  private void expire(long tsNs) {
    while (!pending.isEmpty()) {
      Datagram oldest = pending.values().iterator().next();
      if (tsNs - oldest.firstTsNs < options.timeoutNs) {
        return;
      }
      remove(oldest);
      stats.fragmentEvent(FragmentEvent.TIMED_OUT);
    }
  }

  /** Evicts the oldest datagram other than {@code keep}; false when there is none. */
  private boolean evictOldest(Datagram keep, FragmentEvent why) {
    Iterator<Datagram> it = pending.values().iterator();
    while (it.hasNext()) {
      Datagram d = it.next();
      if (d != keep) {
        it.remove();
        bufferedBytes -= d.heldBytes();
        stats.fragmentEvent(why);
        return true;
      }
    }
    return false;
  }

  private void remove(Datagram d) {
    pending.remove(d.key);
    bufferedBytes -= d.heldBytes();
  }

  /**
   * Makes {@code d}'s buffer hold data up to {@code end}, evicting older datagrams to stay
   * within {@link Options#maxBufferedBytes}; false when {@code d} alone would exceed it.
   * Callers have checked {@code end <= maxDatagramBytes}.
   */
  private boolean ensureCapacity(Datagram d, int end) {
    int cap = d.buf == null ? 0 : d.buf.length - ADDR_ROOM;
    if (end <= cap) {
      return true;
    }
    int newCap = Math.max(end, Math.min(2 * cap, options.maxDatagramBytes));
    int words = (blocksUpTo(newCap) + 63) >>> 6;
    long grow = (ADDR_ROOM + newCap + 8L * words) - d.heldBytes();
    while (bufferedBytes + grow > options.maxBufferedBytes) {
      if (!evictOldest(d, FragmentEvent.BUFFER_LIMIT)) {
        return false;
      }
    }
    d.buf = d.buf == null ? new byte[ADDR_ROOM + newCap] : Arrays.copyOf(d.buf, ADDR_ROOM + newCap);
    d.blocks = d.blocks == null ? new long[words] : Arrays.copyOf(d.blocks, words);
    bufferedBytes += grow;
    return true;
  }

  /** Blocks of 8 bytes that data up to {@code end} touches. */
  private static int blocksUpTo(int end) {
    return (end + 7) >>> 3;
  }

  /** Set bits in [from, to); bits beyond the bitmap count as clear. */
  static int countSet(long[] bits, int from, int to) {
    if (bits == null) {
      return 0;
    }
    to = Math.min(to, bits.length << 6);
    int n = 0;
    for (int i = from; i < to; ) {
      int w = i >>> 6;
      int hi = Math.min(to, (w + 1) << 6);
      long mask = rangeMask(i & 63, hi - (w << 6));
      n += Long.bitCount(bits[w] & mask);
      i = hi;
    }
    return n;
  }

  /** Sets the bits in [from, to); the bitmap holds them. */
  static void setRange(long[] bits, int from, int to) {
    for (int i = from; i < to; ) {
      int w = i >>> 6;
      int hi = Math.min(to, (w + 1) << 6);
      bits[w] |= rangeMask(i & 63, hi - (w << 6));
      i = hi;
    }
  }

  /** Bits [lo, hi) of a word, 0 <= lo < hi <= 64. */
  private static long rangeMask(int lo, int hi) {
    long upTo = hi == 64 ? -1L : (1L << hi) - 1;
    return upTo & (-1L << lo);
  }
}
