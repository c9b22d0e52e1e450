package dev.tapflow.capture;

import java.util.Objects;

/**
 * Captured frames in, segments out: {@link PacketDecoder} parses each frame's headers in
 * place, IP fragments go through the {@link IpFragmentReassembler}, and every TCP/UDP packet
 * (or completed datagram) goes to the {@link SegmentBatcher}. Every frame is counted in the
 * {@link CaptureStats}: a segment, or skipped for one {@link SkipReason}.
 *
 * <p>The one path from frames to segments, for capture files and for live capture alike.
 * Not thread-safe: one per capturing thread.
 */
public final class SegmentExtractor {
  private final CaptureStats stats;
  private final SegmentBatcher batcher;
  private final IpFragmentReassembler fragments;
  private final DecodedPacket packet = new DecodedPacket();
  private long packetNo;

  public SegmentExtractor(CaptureStats stats, SegmentBatcher batcher, IpFragmentReassembler.Options fragmentOptions) {
    this.stats = Objects.requireNonNull(stats, "stats");
    this.batcher = Objects.requireNonNull(batcher, "batcher");
    this.fragments = new IpFragmentReassembler(stats, fragmentOptions);
  }

  /**
   * One captured frame.
   *
   * @param linkType its DLT ({@link LinkType})
   * @param tsNs capture time, ns since the epoch
   * @param wireLen original length on the wire
   * @param buf holds the frame at {@code off}, {@code capLen} bytes; read only during this call
   */
  public void frame(int linkType, long tsNs, int wireLen, byte[] buf, int off, int capLen) {
    long no = ++packetNo;
    stats.packet(tsNs, capLen, wireLen);
    SkipReason skip = PacketDecoder.decode(linkType, buf, off, capLen, wireLen, packet);
    if (skip == null) {
      batcher.accept(packet, tsNs, wireLen, no);
    } else if ((skip == SkipReason.IPV4_FRAGMENT || skip == SkipReason.IPV6_FRAGMENT)
        && (skip = fragments.accept(packet, tsNs, wireLen)) == null) {
      batcher.accept(packet, tsNs, fragments.reassembledWireLen(), no); // completed a datagram
    } else {
      stats.skip(skip);
      batcher.advanceTo(tsNs);
    }
  }

  /** Capture time moved on without a frame (a quiet live capture): flushes batches whose time is up. */
  public void advanceTo(long tsNs) {
    batcher.advanceTo(tsNs);
  }

  /** End of the capture: drops incomplete IP datagrams (counted) and flushes every open batch. */
  public void finish() {
    fragments.finish(stats.lastTsNs());
    batcher.finish();
  }

  /** Frames seen so far; the last frame's packet number. */
  public long packets() {
    return packetNo;
  }
}
