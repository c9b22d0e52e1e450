package dev.tapflow.cli;

import dev.tapflow.stream.topology.LatencyWindowConfig;
import picocli.CommandLine.Option;

/** The latency windows the processor publishes; shared by local and process. */
final class HistogramOptions {

  @Option(names = "--histogram-window", defaultValue = "60s", paramLabel = "DURATION",
      description = "Length of the latency windows (count, errors, bytes, latency histogram per agent, server, "
          + "command) published to tapflow.latency-1m.v1, in capture time; divides a day (10s, 1m, 5m). "
          + "Default: ${DEFAULT-VALUE}.")
  String window;

  @Option(names = "--histogram-grace", defaultValue = "10s", paramLabel = "DURATION",
      description = "How long a latency window stays open, in stream time, after its end plus --window, for "
          + "segments that arrive late; later facts are counted as dropped (LATENCY_WINDOW_LATE_FACTS). "
          + "Default: ${DEFAULT-VALUE}.")
  String grace;

  LatencyWindowConfig config() {
    try {
      return LatencyWindowConfig.defaults()
          .withSize(PipelineOptions.Durations.parse(window, "--histogram-window"))
          .withGrace(PipelineOptions.Durations.parse(grace, "--histogram-grace"));
    } catch (IllegalArgumentException e) {
      throw new UserError("--histogram-window/--histogram-grace: " + e.getMessage());
    }
  }
}
