package dev.tapflow.cli;

import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tapflow topics}: creates the pipeline's topics on a cluster (a deployment's first step). */
@Command(name = "topics", mixinStandardHelpOptions = true,
    description = "Create tapflow's topics on an existing Kafka cluster when they do not exist (existing ones are "
        + "never changed): segments, facts, decode errors, latency windows, capture stats. Run once before the "
        + "roles start; the segments' partitions bound how many processors work in parallel.")
final class TopicsCommand implements Callable<Integer> {

  @Mixin
  KafkaOptions kafka;

  @Mixin
  PipelineOptions pipeline;

  @Mixin
  HistogramOptions histograms;

  @Option(names = "--partitions", paramLabel = "N",
      description = "Partitions of each topic created. Default: from --max-processors by the rule in the README "
          + "(Partitions): the smallest multiple of 12 that is at least max processors x stream threads.")
  Integer partitions;

  @Option(names = "--max-processors", defaultValue = "4", paramLabel = "N",
      description = "The most processor instances (tapflow process, one --app-id) this deployment will ever run; "
          + "partitions cannot be added later without moving connections between tasks. Default: ${DEFAULT-VALUE}.")
  int maxProcessors;

  @Option(names = "--stream-threads", defaultValue = "1", paramLabel = "N",
      description = "Kafka Streams threads per processor instance (num.stream.threads). Default: ${DEFAULT-VALUE}.")
  int streamThreads;

  @Option(names = "--replication-factor", defaultValue = "1", paramLabel = "N",
      description = "Replicas of each topic created (3 on a production cluster). Default: ${DEFAULT-VALUE}.")
  short replicationFactor;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    if (maxProcessors < 1 || streamThreads < 1) {
      throw new UserError("--max-processors and --stream-threads must be 1 or more");
    }
    int n = partitions != null ? partitions : Topics.partitionsFor(maxProcessors, streamThreads);
    if (n < 1 || replicationFactor < 1) {
      throw new UserError("--partitions and --replication-factor must be 1 or more");
    }
    List<String> all = Topics.all(pipeline.processorConfig(), histograms.config());
    List<String> created = Topics.ensure(kafka.requireBootstrap(), kafka.clientProperties(), all, n,
        replicationFactor);
    spec.commandLine().getOut().printf("tapflow: topics %s; created %s%s%n", all, created.isEmpty() ? "none" : created,
        created.isEmpty() ? "" : " with " + n + " partitions, " + replicationFactor + " replicas"
            + (replicationFactor > 1 ? ", min.insync.replicas " + Topics.minInsyncReplicas(replicationFactor) : ""));
    return 0;
  }
}
