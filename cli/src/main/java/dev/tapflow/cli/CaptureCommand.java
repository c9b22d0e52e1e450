package dev.tapflow.cli;

import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.capture.live.LivePublisher;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tapflow capture -i IFACE...}: the live agent. Publishes segments to
 * tapflow.segments.v1 and its counters to tapflow.capture-stats.v1 until SIGTERM/SIGINT.
 */
@Command(name = "capture", mixinStandardHelpOptions = true,
    description = "Capture live traffic (Linux) and publish it to Kafka (tapflow.segments.v1), with drop "
        + "accounting every interval to tapflow.capture-stats.v1. Runs until SIGTERM/SIGINT.",
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {
      "0:stopped by SIGTERM/SIGINT or --duration, in order: everything flushed or counted",
      "1:an unexpected error (a bug: run with TAPFLOW_DEBUG=1 for the stack trace)",
      "2:could not start: bad option, no such interface, filter syntax error, missing capability or libpcap",
      "3:capture failed while running (an interface disappeared); final counters printed",
      "130/143:a second SIGINT/SIGTERM: stopped at once"})
final class CaptureCommand implements Callable<Integer> {

  @Mixin
  LiveOptions live;

  @Option(names = "--agent-id", description = "Agent id on every segment and report. Default: this host's name.")
  String agentId;

  @Option(names = "--topic", defaultValue = KafkaSegmentPublisher.DEFAULT_TOPIC, description = "Default: ${DEFAULT-VALUE}.")
  String topic;

  @Option(names = "--dry-run",
      description = "Capture, decode, batch and encode, but publish nothing (no Kafka needed); for measuring the agent itself.")
  boolean dryRun;

  @Mixin
  KafkaOptions kafka;

  @Mixin
  MetricsOptions metrics;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    if (!live.enabled()) {
      throw new UserError("name an interface to capture on: -i IFACE (e.g. -i eth0 -i lo)");
    }
    var settings = live.settings(agentId, java.util.Map.of());
    long backlog = live.backlogBytes();
    LivePublisher publisher = dryRun
        ? new LivePublisher(null, topic, backlog)
        : LivePublisher.create(kafka.requireBootstrap(), kafka.clientProperties(), topic, backlog);
    PrintWriter err = spec.commandLine().getErr();
    try (MetricsEndpoint m = metrics.start("capture")) {
      m.bindCapture(settings.agent());
      LiveAgent.run(settings, publisher, live.duration(), err);
    }
    return 0;
  }
}
