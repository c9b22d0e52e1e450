package dev.tapflow.cli;

import dev.tapflow.capture.CaptureFileException;
import dev.tapflow.capture.CaptureStats;
import dev.tapflow.schemas.LatencyFact;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tapflow analyze FILE...}: facts from capture files, without Kafka or PostgreSQL. */
@Command(name = "analyze", mixinStandardHelpOptions = true,
    description = "Print one latency fact per request found in pcap/pcapng files, using the "
        + "same engine as the Kafka pipeline but no Kafka and no database.")
final class AnalyzeCommand implements Callable<Integer> {

  enum Format { jsonl, text }

  @Parameters(arity = "1..*", paramLabel = "FILE", description = "pcap or pcapng files")
  List<Path> files;

  @Option(names = "--format", defaultValue = "text",
      description = "jsonl (one LatencyFact per line, Avro field names) or text (tcpkit style). Default: ${DEFAULT-VALUE}.")
  Format format;

  @Option(names = "--agent-id", description = "Label the facts with this agent id (default: each file's name without extension).")
  String agentId;

  @Option(names = "--slower-than", paramLabel = "DURATION",
      description = "Only print requests at least this slow (or with no response), e.g. 10ms.")
  String slowerThan;

  @Option(names = "--threads", paramLabel = "N",
      description = "Engines decoding side by side, each on a thread of its own with a share of the connections "
          + "(the file is read on one more). The facts are the same for any N. Default: the CPUs, at most 4.")
  Integer threads;

  @Mixin
  PipelineOptions pipeline;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws CaptureFileException {
    ImportCommand.requireReadable(files);
    long minNs = slowerThan == null ? -1 : PipelineOptions.Durations.parse(slowerThan, "--slower-than").toNanos();
    int engines = threads != null ? threads : Math.min(4, Runtime.getRuntime().availableProcessors());
    if (engines < 1 || engines > 64) {
      throw new UserError("--threads must be between 1 and 64, not " + engines);
    }
    Analyzer.Result result = new Analyzer(pipeline.processorConfig(), engines).analyze(files, agentId,
        f -> minNs < 0 || f.getLatencyNs() == null || f.getLatencyNs() >= minNs);
    // picocli's writer flushes at every line: one write call per fact was most of printing them
    PrintWriter out = new PrintWriter(new java.io.BufferedWriter(spec.commandLine().getOut(), 1 << 16), false);
    StringBuilder line = new StringBuilder(256);
    FactText.Clock clock = new FactText.Clock();
    for (LatencyFact f : result.facts()) {
      if (format == Format.jsonl) {
        out.println(f.toString());
      } else {
        line.setLength(0);
        out.println(FactText.line(f, line, clock));
      }
    }
    out.flush();
    PrintWriter err = spec.commandLine().getErr();
    long packets = 0;
    for (Map.Entry<Path, CaptureStats> e : result.captures().entrySet()) {
      packets += e.getValue().packets();
      if (e.getValue().skippedTotal() > 0) {
        err.println("tapflow: " + e.getKey() + ": skipped " + e.getValue().skippedByReason());
      }
      ImportCommand.warnTimestamps(err, e.getKey(), e.getValue());
    }
    err.printf("tapflow: %d facts from %d packets in %d file(s)%s%n", result.factCount(), packets, files.size(),
        result.anomalies().isEmpty() ? "" : "; anomalies " + result.anomalies());
    err.flush();
    return 0;
  }
}
