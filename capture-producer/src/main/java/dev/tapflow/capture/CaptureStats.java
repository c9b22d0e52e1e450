package dev.tapflow.capture;

import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;

/**
 * Counters of one capture (one file import, or a live capture so far). Written by one thread
 * (the reader's); read it after the import returns.
 *
 * <p>Invariant: {@code packets() == segments() + skippedTotal()}: every packet read is either
 * published as a segment or counted under one {@link SkipReason}. IP fragments count as packets
 * too: the one that completes a datagram is its segment, the others are skipped as
 * {@code IPV4_FRAGMENT}/{@code IPV6_FRAGMENT}; what reassembly did is in the separate
 * {@link FragmentEvent} counters.
 */
public final class CaptureStats {
  private static final SkipReason[] REASONS = SkipReason.values();
  private static final FragmentEvent[] FRAGMENT_EVENTS = FragmentEvent.values();

  private final long[] skipped = new long[REASONS.length];
  private final long[] fragmentEvents = new long[FRAGMENT_EVENTS.length];
  private long packets;
  private long capturedBytes;
  private long wireBytes;
  private long segments;
  private long payloadBytes;
  private long batches;
  private long firstTsNs;
  private long lastTsNs;
  private long timestampsBackwards;
  private int linkType = -1;

  // ---- recording (package-private: the reader, decoder and batcher write) ----

  void packet(long tsNs, int capturedLen, int wireLen) {
    if (packets == 0) {
      firstTsNs = tsNs;
    } else if (tsNs < lastTsNs) {
      timestampsBackwards++;
    }
    packets++;
    lastTsNs = tsNs;
    capturedBytes += capturedLen;
    wireBytes += wireLen;
  }

  void skip(SkipReason reason) {
    skipped[reason.ordinal()]++;
  }

  void fragmentEvent(FragmentEvent event) {
    fragmentEvents[event.ordinal()]++;
  }

  void segment(int capturedPayload) {
    segments++;
    payloadBytes += capturedPayload;
  }

  void batch() {
    batches++;
  }

  void linkType(int dlt) {
    this.linkType = dlt;
  }

  // ---- reading ----

  /** Packets read from the capture (all of them, skipped ones included). */
  public long packets() { return packets; }

  /** Bytes of the packets as captured (after the snap length). */
  public long capturedBytes() { return capturedBytes; }

  /** Original lengths of the packets on the wire. */
  public long wireBytes() { return wireBytes; }

  /** Segments published (TCP segments with payload or SYN/FIN/RST, and UDP datagrams). */
  public long segments() { return segments; }

  /** Payload bytes of the published segments, as captured. */
  public long payloadBytes() { return payloadBytes; }

  /** {@code SegmentBatch} records emitted (not counting end-of-capture markers). */
  public long batches() { return batches; }

  /** Packets not published for this reason. */
  public long skipped(SkipReason reason) { return skipped[reason.ordinal()]; }

  /** Packets not published, all reasons together. */
  public long skippedTotal() {
    long n = 0;
    for (long s : skipped) {
      n += s;
    }
    return n;
  }

  /** Non-zero skip counters by reason, in {@link SkipReason} order. */
  public Map<SkipReason, Long> skippedByReason() {
    return nonZero(SkipReason.class, REASONS, skipped);
  }

  /** How often IP fragment reassembly did this (fragments or datagrams, as the event says). */
  public long fragmentEvents(FragmentEvent event) { return fragmentEvents[event.ordinal()]; }

  /** Non-zero fragment reassembly counters, in {@link FragmentEvent} order. */
  public Map<FragmentEvent, Long> fragmentEventsByKind() {
    return nonZero(FragmentEvent.class, FRAGMENT_EVENTS, fragmentEvents);
  }

  private static <E extends Enum<E>> Map<E, Long> nonZero(Class<E> type, E[] all, long[] counts) {
    Map<E, Long> m = new EnumMap<>(type);
    for (E e : all) {
      if (counts[e.ordinal()] != 0) {
        m.put(e, counts[e.ordinal()]);
      }
    }
    return Collections.unmodifiableMap(m);
  }

  /** Capture time of the first packet, ns since the epoch; 0 when no packet was read. */
  public long firstTsNs() { return firstTsNs; }

  /** Capture time of the last packet read, ns since the epoch; 0 when no packet was read. */
  public long lastTsNs() { return lastTsNs; }

  /** The capture's DLT link type as libpcap reports it, or -1 before it is known. */
  public int linkType() { return linkType; }

  /**
   * Packets whose timestamp is earlier than the packet's before them (a clock step, merged
   * files): counted and processed in file order, as captured. Stream time never goes back, so
   * their facts keep their own times; a TIMEOUT may be declared late, never early.
   */
  public long timestampsBackwards() { return timestampsBackwards; }

  @Override
  public String toString() {
    return "packets=" + packets + " segments=" + segments + " batches=" + batches
        + " payload_bytes=" + payloadBytes + " wire_bytes=" + wireBytes
        + " link=" + (linkType < 0 ? "?" : LinkType.name(linkType))
        + " skipped=" + skippedByReason()
        + (timestampsBackwards == 0 ? "" : " timestamps_backwards=" + timestampsBackwards)
        + (fragmentEvents[FragmentEvent.FRAGMENTS.ordinal()] == 0 ? "" : " fragments=" + fragmentEventsByKind());
  }
}
