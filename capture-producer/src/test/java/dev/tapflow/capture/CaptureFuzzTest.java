package dev.tapflow.capture;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tapflow.schemas.Segment;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Hostile input (Jazzer) for the agent's side: whole capture files through libpcap, the
 * importer and the offset finder, and single frames of every supported link type through
 * the packet decoder, IP fragment reassembly and the batcher. A corrupt file may only end in
 * a {@link CaptureFileException} whose message is one line; nothing else may escape. Inputs
 * under {@code CaptureFuzzTestInputs/} (the real fixtures among them) run in every build;
 * {@code JAZZER_FUZZ=1} fuzzes one method.
 */
class CaptureFuzzTest {

  private static final int[] LINK_TYPES = {LinkType.NULL, LinkType.EN10MB, LinkType.RAW, LinkType.RAW_OPENBSD,
      LinkType.LINKTYPE_RAW, LinkType.LOOP, LinkType.LINUX_SLL, LinkType.IPV4, LinkType.IPV6, LinkType.LINUX_SLL2};

  private static final Path FILE;

  static {
    try {
      // in memory where there is one: on ext4, truncating and writing the file each run was a
      // quarter of a fuzzing run's time
      Path shm = Path.of("/dev/shm");
      FILE = Files.isDirectory(shm) && Files.isWritable(shm)
          ? Files.createTempFile(shm, "tapflow-fuzz", ".pcap")
          : Files.createTempFile("tapflow-fuzz", ".pcap");
      FILE.toFile().deleteOnExit();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every batch the importer emits is well formed. */
  private static final BatchListener CHECKING = (key, batch) -> {
    assertFalse(batch.getSegments().isEmpty(), "a batch has segments");
    for (Segment s : batch.getSegments()) {
      assertTrue(s.getPayload().remaining() <= 1 << 18, "payload " + s.getPayload().remaining());
    }
  };

  @FuzzTest(maxDuration = "10s")
  void captureFile(byte[] bytes) throws IOException {
    Files.write(FILE, bytes);
    try {
      new CaptureFileImporter().importFile(FILE, "fuzz", CHECKING);
    } catch (CaptureFileException e) {
      assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }
  }

  @FuzzTest(maxDuration = "10s")
  void frames(FuzzedDataProvider data) {
    int linkType = LINK_TYPES[data.consumeInt(0, LINK_TYPES.length - 1)];
    CaptureStats stats = new CaptureStats();
    SegmentExtractor extractor = new SegmentExtractor(stats,
        new SegmentBatcher("fuzz", CHECKING, stats, SegmentBatcher.Options.defaults()),
        IpFragmentReassembler.Options.defaults());
    long ts = 1_000_000_000L;
    while (data.remainingBytes() > 0) {
      ts += data.consumeLong(-1_000_000, 100_000_000); // non-monotonic too
      byte[] frame = data.consumeBytes(data.consumeInt(0, 1600));
      int wireLen = frame.length + (data.consumeBoolean() ? 0 : data.consumeInt(0, 70_000));
      extractor.frame(linkType, ts, wireLen, frame, 0, frame.length);
      if (data.consumeInt(0, 31) == 0) {
        extractor.advanceTo(ts);
      }
    }
    extractor.finish();
  }
}
