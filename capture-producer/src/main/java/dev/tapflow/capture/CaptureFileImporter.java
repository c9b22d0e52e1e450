package dev.tapflow.capture;

import java.nio.file.Path;
import java.util.Objects;

/**
 * Reads a pcap/pcapng file and hands its segments, batched per connection, to a
 * {@link BatchListener}: {@link PcapFileReader} → {@link SegmentExtractor} ({@link PacketDecoder},
 * {@link IpFragmentReassembler} for IP fragments) → {@link SegmentBatcher}.
 * Single-threaded: the listener runs on the calling thread.
 */
public final class CaptureFileImporter {
  private final SegmentBatcher.Options options;
  private final IpFragmentReassembler.Options fragmentOptions;
  private final boolean endOfCapture;

  /** An importer with the default bounds that signals end of capture after each file. */
  public CaptureFileImporter() {
    this(SegmentBatcher.Options.defaults(), true);
  }

  /**
   * @param options batching bounds
   * @param endOfCapture whether {@link #importFile} calls {@link BatchListener#onEndOfCapture}
   *     after the file's last batch; turn it off to import several files as one agent's capture
   *     and signal the end yourself
   */
  public CaptureFileImporter(SegmentBatcher.Options options, boolean endOfCapture) {
    this(options, IpFragmentReassembler.Options.defaults(), endOfCapture);
  }

  /** As {@link #CaptureFileImporter(SegmentBatcher.Options, boolean)}, with IP reassembly bounds. */
  public CaptureFileImporter(SegmentBatcher.Options options, IpFragmentReassembler.Options fragmentOptions, boolean endOfCapture) {
    this.options = Objects.requireNonNull(options, "options");
    this.fragmentOptions = Objects.requireNonNull(fragmentOptions, "fragmentOptions");
    this.endOfCapture = endOfCapture;
  }

  /** The agent id for a file imported without an explicit one: its name without extension. */
  public static String defaultAgentId(Path file) {
    String name = file.getFileName().toString();
    int dot = name.lastIndexOf('.');
    return dot > 0 ? name.substring(0, dot) : name;
  }

  /**
   * Imports one file as the capture of {@code agentId}: every segment goes to {@code listener}
   * in {@code SegmentBatch}es, all open batches are flushed at the end, then (unless disabled)
   * {@code listener.onEndOfCapture(agentId, lastTsNs)} is called.
   *
   * @return the capture's counters
   * @throws CaptureFileException if the file is missing, not a capture, corrupt or truncated;
   *     batches emitted before the damage have been passed to the listener, open ones are dropped
   */
  public CaptureStats importFile(Path file, String agentId, BatchListener listener) throws CaptureFileException {
    return importFile(file, agentId, listener, null);
  }

  /**
   * As {@link #importFile(Path, String, BatchListener)}, showing each frame read to
   * {@code frames} (e.g. for a progress bar) before it is decoded; null for none.
   */
  public CaptureStats importFile(Path file, String agentId, BatchListener listener, FrameListener frames)
      throws CaptureFileException {
    Objects.requireNonNull(agentId, "agentId");
    Objects.requireNonNull(listener, "listener");
    CaptureStats stats = new CaptureStats();
    try (PcapFileReader reader = PcapFileReader.open(file)) {
      int linkType = reader.linkType();
      stats.linkType(linkType);
      if (!LinkType.isSupported(linkType)) {
        long at = CaptureFileOffsets.linkType(file);
        throw new CaptureFileException(file, "unsupported link type " + LinkType.name(linkType)
            + (at < 0 ? "" : " at byte " + at)
            + " (supported: Ethernet, Linux cooked SLL/SLL2, BSD loopback NULL/LOOP, raw IP)");
      }
      SegmentExtractor extractor = new SegmentExtractor(stats,
          new SegmentBatcher(agentId, listener, stats, options), fragmentOptions);
      if (frames == null) {
        reader.read((PcapRecords.SliceListener) (tsNs, wireLen, buf, off, len) -> extractor.frame(linkType, tsNs, wireLen, buf, off, len));
      } else {
        reader.read((tsNs, wireLen, frame) -> {
          frames.onFrame(tsNs, wireLen, frame);
          extractor.frame(linkType, tsNs, wireLen, frame, 0, frame.length);
        });
      }
      extractor.finish();
    }
    if (endOfCapture) {
      listener.onEndOfCapture(agentId, stats.lastTsNs());
    }
    return stats;
  }
}
