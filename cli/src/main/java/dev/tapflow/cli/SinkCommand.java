package dev.tapflow.cli;

import dev.tapflow.sink.FactSink;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code tapflow sink}: the JDBC sink role, until stopped. */
@Command(name = "sink", mixinStandardHelpOptions = true,
    description = "Write latency facts from tapflow.facts.v1 into PostgreSQL (table latency_facts) and latency "
        + "windows from tapflow.latency-1m.v1 (latency_windows), creating or migrating the schema first.")
final class SinkCommand implements Callable<Integer> {

  @Mixin
  KafkaOptions kafka;

  @Mixin
  JdbcOptions jdbc;

  @Mixin
  RetentionOptions retention;

  @Mixin
  MetricsOptions metrics;

  @Option(names = "--topic", defaultValue = FactSink.DEFAULT_TOPIC, paramLabel = "TOPIC",
      description = "Facts topic to read, e.g. a reprocess run's tapflow.facts.NAME.v1. Default: ${DEFAULT-VALUE}.")
  String topic;

  @Option(names = "--windows-topic", defaultValue = FactSink.DEFAULT_WINDOWS_TOPIC, paramLabel = "TOPIC",
      description = "Latency windows topic to read. Default: ${DEFAULT-VALUE}.")
  String windowsTopic;

  @Option(names = "--vantage-pairs-topic", paramLabel = "TOPIC",
      description = "Vantage pairs topic to read into vantage_pairs. Default: " + FactSink.DEFAULT_VANTAGE_PAIRS_TOPIC
          + " with the default facts topic, else none.")
  String pairsTopic;

  @Option(names = "--group-id", paramLabel = "ID",
      description = "Consumer group (and the key of its positions in sink_offsets). Default: "
          + FactSink.DEFAULT_GROUP_ID + " for the default topics, else " + FactSink.DEFAULT_GROUP_ID + ".TOPIC.")
  String groupId;

  @Option(names = "--max-batch", defaultValue = "5000", paramLabel = "N",
      description = "Records written per database transaction at most. Default: ${DEFAULT-VALUE}.")
  int maxBatch;

  @Override
  public Integer call() {
    if (jdbc.jdbcUrl == null) {
      throw new UserError("--jdbc-url is required (or use 'tapflow local' for an embedded PostgreSQL)");
    }
    Properties consumer = new Properties();
    consumer.putAll(kafka.clientProperties());
    consumer.put("bootstrap.servers", kafka.requireBootstrap());
    consumer.putIfAbsent("group.id", groupId != null ? groupId : groupId(topic));
    if (maxBatch < 1) {
      throw new UserError("--max-batch must be 1 or more");
    }
    FactSink sink;
    try (MetricsEndpoint m = metrics.start("sink")) {
      sink = FactSink.builder(consumer, jdbc.jdbcUrl, jdbc.properties()).topic(topic)
          .latencyWindowsTopic(windowsTopic).retentionDays(retention.days())
          .vantagePairsTopic(pairsTopic != null ? pairsTopic
              : topic.equals(FactSink.DEFAULT_TOPIC) ? FactSink.DEFAULT_VANTAGE_PAIRS_TOPIC : null)
          .maxBatchRecords(maxBatch).onBatch(m.sinkBatches()).build();
      m.bindSink(sink);
      Runtime.getRuntime().addShutdownHook(new Thread(sink::close));
      sink.run();
    }
    if (sink.failure() != null) {
      throw new UserError("the sink stopped: " + UserError.message(sink.failure()), sink.failure());
    }
    return 0;
  }

  /** The sink's group for a facts topic: sinks of different topics never share (or steal) partitions. */
  static String groupId(String factsTopic) {
    return factsTopic.equals(FactSink.DEFAULT_TOPIC) ? FactSink.DEFAULT_GROUP_ID
        : FactSink.DEFAULT_GROUP_ID + "." + factsTopic;
  }
}
