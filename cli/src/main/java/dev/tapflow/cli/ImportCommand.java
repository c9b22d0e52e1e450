package dev.tapflow.cli;

import dev.tapflow.capture.CaptureFileException;
import dev.tapflow.capture.CaptureFileImporter;
import dev.tapflow.capture.CaptureStats;
import dev.tapflow.capture.FrameListener;
import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.capture.PublishException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tapflow import FILE...}: publish capture files to the segments topic with their original timestamps. */
@Command(name = "import", mixinStandardHelpOptions = true,
    description = "Publish pcap/pcapng files to Kafka (tapflow.segments.v1) with their original capture times.")
final class ImportCommand implements Callable<Integer> {

  @Parameters(arity = "1..*", paramLabel = "FILE")
  List<Path> files;

  @Option(names = "--agent-id", description = "Label the segments with this agent id (default: each file's name without extension).")
  String agentId;

  @Option(names = "--topic", defaultValue = KafkaSegmentPublisher.DEFAULT_TOPIC, description = "Default: ${DEFAULT-VALUE}.")
  String topic;

  @Option(names = "--progress",
      description = "Show the progress bar on stderr even when it is not a terminal (one line a second).")
  boolean progress;

  @Mixin
  KafkaOptions kafka;

  @Mixin
  VantageOptions.Side vantage;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws CaptureFileException, PublishException {
    ImportCommand.requireReadable(files);
    PrintWriter err = spec.commandLine().getErr();
    boolean terminal = ProgressLine.terminal();
    ImportMeter meter = new ImportMeter(files, new ProgressLine(err, terminal || progress, terminal));
    long records;
    List<CaptureStats> stats;
    try (KafkaSegmentPublisher publisher = new KafkaSegmentPublisher(kafka.requireBootstrap(), topic, kafka.clientProperties())) {
      try {
        stats = importAll(files, agentId, dev.tapflow.capture.BatchListener.withVantage(publisher,
            vantage.setting()), meter);
      } finally {
        meter.line.clear();
      }
      publisher.flush();
      records = publisher.acked();
    }
    for (CaptureStats s : stats) {
      err.println("tapflow: imported " + s);
    }
    err.println(meter.summary(stats, records, topic));
    return 0;
  }

  /** One line when a file's timestamps went backwards (counted by the importer, packets processed in file order). */
  static void warnTimestamps(PrintWriter err, Path file, CaptureStats stats) {
    if (stats.timestampsBackwards() > 0) {
      err.println("tapflow: " + file + ": " + stats.timestampsBackwards()
          + " packet(s) earlier than the packet before them (timestamps not monotonic); processed in file order");
    }
  }

  /** Fails with one clear line when a capture file is missing or unreadable, before anything starts. */
  static void requireReadable(List<Path> files) {
    for (Path f : files) {
      if (!Files.isReadable(f) || Files.isDirectory(f)) {
        throw new UserError(f + ": no such file or not readable");
      }
    }
  }

  /**
   * Imports files one after another into a publisher. Each file is its own agent's capture
   * (ended by an end-of-capture marker) unless {@code agentId} labels them all, in which case
   * they are one capture, ended once after the last file.
   */
  static List<CaptureStats> importAll(List<Path> files, String agentId, dev.tapflow.capture.BatchListener publisher)
      throws CaptureFileException {
    return importAll(files, agentId, publisher, null);
  }

  /** As above, showing every frame read to {@code meter} (null for none). */
  static List<CaptureStats> importAll(List<Path> files, String agentId, dev.tapflow.capture.BatchListener publisher,
      ImportMeter meter) throws CaptureFileException {
    CaptureFileImporter importer = new CaptureFileImporter(
        dev.tapflow.capture.SegmentBatcher.Options.defaults(), agentId == null);
    java.util.ArrayList<CaptureStats> out = new java.util.ArrayList<>();
    long lastTs = 0;
    for (Path f : files) {
      String agent = agentId != null ? agentId : CaptureFileImporter.defaultAgentId(f);
      if (meter != null) {
        meter.startFile(f);
      }
      CaptureStats s = importer.importFile(f, agent, publisher, meter);
      lastTs = Math.max(lastTs, s.lastTsNs());
      out.add(s);
    }
    if (agentId != null) {
      publisher.onEndOfCapture(agentId, lastTs);
    }
    return out;
  }

  /**
   * Progress of an import: bytes of the files read (pcap: exact, from the record headers;
   * pcapng: estimated from the packet blocks), packets, rate and ETA, redrawn once a second.
   */
  static final class ImportMeter implements FrameListener {
    private static final int PCAP_HEADER = 24;
    private static final int PCAP_RECORD_HEADER = 16;
    /** An Enhanced Packet Block without options: 28 bytes of header, 4 of trailing length. */
    private static final int PCAPNG_BLOCK_OVERHEAD = 32;
    private static final int PCAPNG_MAGIC = 0x0A0D0D0A;

    final ProgressLine line;
    private final long totalBytes;
    private final int fileCount;
    private final long started = System.nanoTime();
    private long nextDrawNs = started + 1_000_000_000L;
    private long doneBytes; // files finished
    private long fileBytes; // this file so far
    private long fileSize;
    private boolean pcapng;
    private long packets;
    private int fileIndex;
    private String fileName = "";

    ImportMeter(List<Path> files, ProgressLine line) {
      this.line = line;
      this.fileCount = files.size();
      long total = 0;
      for (Path f : files) {
        total += size(f);
      }
      this.totalBytes = total;
    }

    void startFile(Path f) {
      doneBytes += fileSize;
      fileSize = size(f);
      fileIndex++;
      fileName = String.valueOf(f.getFileName());
      pcapng = magic(f) == PCAPNG_MAGIC;
      fileBytes = pcapng ? 0 : PCAP_HEADER;
    }

    @Override
    public void onFrame(long tsNs, int wireLen, byte[] frame) {
      packets++;
      fileBytes += pcapng ? PCAPNG_BLOCK_OVERHEAD + ((frame.length + 3) & ~3) : PCAP_RECORD_HEADER + frame.length;
      if ((packets & 1023) == 0) {
        long now = System.nanoTime();
        if (now >= nextDrawNs) {
          nextDrawNs = now + 1_000_000_000L;
          line.update(describe(now));
        }
      }
    }

    /** Bytes of the files read so far: exact for pcap, an estimate for pcapng (at most the file's size). */
    long bytesRead() {
      return doneBytes + Math.min(fileBytes, fileSize);
    }

    long totalBytes() {
      return totalBytes;
    }

    private String describe(long now) {
      long read = bytesRead();
      double fraction = totalBytes == 0 ? 1 : (double) read / totalBytes;
      double s = (now - started) / 1e9;
      double bytesPerS = read / s;
      String eta = bytesPerS > 0 && read < totalBytes ? ", ETA " + ProgressLine.duration((totalBytes - read) / bytesPerS) : "";
      return String.format(java.util.Locale.ROOT, "import %s %3.0f%% %s of %s, file %d/%d %s, %s packets, %s packets, %s/s%s",
          ProgressLine.bar(fraction, 20), 100 * fraction, ProgressLine.bytes(read), ProgressLine.bytes(totalBytes),
          fileIndex, fileCount, fileName, ProgressLine.count(packets), ProgressLine.rate(packets / s),
          ProgressLine.bytes((long) bytesPerS), eta);
    }

    /** The final line: what was read and published, how fast. */
    String summary(List<CaptureStats> stats, long records, String topic) {
      long p = 0;
      long segments = 0;
      for (CaptureStats c : stats) {
        p += c.packets();
        segments += c.segments();
      }
      double s = Math.max(System.nanoTime() - started, 1) / 1e9;
      return String.format(java.util.Locale.ROOT,
          "tapflow: imported %d file(s), %s, %s packets, %s segments in %s records to %s in %.1f s (%s packets)",
          stats.size(), ProgressLine.bytes(totalBytes), ProgressLine.count(p), ProgressLine.count(segments),
          ProgressLine.count(records), topic, s, ProgressLine.rate(p / s));
    }

    private static long size(Path f) {
      try {
        return Files.size(f);
      } catch (java.io.IOException e) {
        return 0;
      }
    }

    private static int magic(Path f) {
      try (java.io.InputStream in = Files.newInputStream(f)) {
        byte[] b = in.readNBytes(4);
        return b.length < 4 ? 0 : java.nio.ByteBuffer.wrap(b).getInt();
      } catch (java.io.IOException e) {
        return 0;
      }
    }
  }
}
