package dev.tapflow.cli;

import dev.tapflow.stream.ProcessorApp;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tapflow process}: the stream-processor role (Kafka Streams), until stopped. */
@Command(name = "process", mixinStandardHelpOptions = true,
    description = "Run the stream processor: reassemble, decode and pair requests from tapflow.segments.v1 "
        + "into latency facts on tapflow.facts.v1. Scale out by starting more with the same --app-id.")
final class ProcessCommand implements Callable<Integer> {

  @Mixin
  KafkaOptions kafka;

  @Mixin
  PipelineOptions pipeline;

  @Mixin
  HistogramOptions histograms;

  @Mixin
  MetricsOptions metrics;

  @Mixin
  VantageOptions.Join vantageJoin;

  @Option(names = "--app-id", defaultValue = ProcessorApp.DEFAULT_APPLICATION_ID,
      description = "Kafka Streams application id. Default: ${DEFAULT-VALUE}.")
  String appId;

  @Option(names = "--state-dir", defaultValue = "${sys:user.home}/.tapflow/streams",
      description = "Local state directory. Default: ${DEFAULT-VALUE}.")
  Path stateDir;

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws InterruptedException {
    CountDownLatch stop = new CountDownLatch(1);
    CountDownLatch closed = new CountDownLatch(1);
    // on SIGTERM/SIGINT: let the main thread close Kafka Streams (leaving the group), and
    // keep the JVM alive until it has
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      stop.countDown();
      try {
        closed.await(60, java.util.concurrent.TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }));
    try (MetricsEndpoint m = metrics.start("process");
        ProcessorApp app = new ProcessorApp(pipeline.processorConfig(), histograms.config(), vantageJoin.config(),
            kafka.requireBootstrap(), appId, stateDir, kafka.clientProperties())) {
      m.bindProcessor(app);
      app.onStopped(stop::countDown);
      app.start();
      // one line whenever this instance's tasks change (scale-up, scale-down, a rebalance), and a
      // last one at the end: how the work spread over the instances of an application id
      String shown = "";
      while (!stop.await(1, java.util.concurrent.TimeUnit.SECONDS)) {
        String now = app.assignment();
        if (!now.equals(shown) && app.streams().state() == org.apache.kafka.streams.KafkaStreams.State.RUNNING) {
          shown = now;
          spec.commandLine().getErr().printf("tapflow: process %s processed=%d%n", now, app.processedRecords());
          spec.commandLine().getErr().flush();
        }
      }
      spec.commandLine().getErr().printf("tapflow: process final %s processed=%d%n", shown, app.processedRecords());
      spec.commandLine().getErr().flush();
      if (app.failure() != null) {
        throw new UserError("stream processing failed: " + UserError.message(app.failure()), app.failure());
      }
    } finally {
      closed.countDown();
    }
    return 0;
  }
}
