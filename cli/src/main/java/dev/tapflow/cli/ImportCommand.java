package dev.tapflow.cli;

import dev.tapflow.capture.CaptureFileException;
import dev.tapflow.capture.CaptureFileImporter;
import dev.tapflow.capture.CaptureStats;
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

  @Mixin
  KafkaOptions kafka;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws CaptureFileException, PublishException {
    ImportCommand.requireReadable(files);
    PrintWriter err = spec.commandLine().getErr();
    try (KafkaSegmentPublisher publisher = new KafkaSegmentPublisher(kafka.requireBootstrap(), topic, kafka.clientProperties())) {
      for (CaptureStats s : importAll(files, agentId, publisher)) {
        err.println("tapflow: imported " + s);
      }
      publisher.flush();
    }
    return 0;
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
    CaptureFileImporter importer = new CaptureFileImporter(
        dev.tapflow.capture.SegmentBatcher.Options.defaults(), agentId == null);
    java.util.ArrayList<CaptureStats> out = new java.util.ArrayList<>();
    long lastTs = 0;
    for (Path f : files) {
      String agent = agentId != null ? agentId : CaptureFileImporter.defaultAgentId(f);
      CaptureStats s = importer.importFile(f, agent, publisher);
      lastTs = Math.max(lastTs, s.lastTsNs());
      out.add(s);
    }
    if (agentId != null) {
      publisher.onEndOfCapture(agentId, lastTs);
    }
    return out;
  }
}
