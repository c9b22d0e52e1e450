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
    if (maxBatch < 1) {
      throw new UserError("--max-batch must be 1 or more");
    }
    FactSink sink = FactSink.builder(consumer, jdbc.jdbcUrl, jdbc.properties()).retentionDays(retention.days())
        .maxBatchRecords(maxBatch).build();
    Runtime.getRuntime().addShutdownHook(new Thread(sink::close));
    sink.run();
    if (sink.failure() != null) {
      throw new UserError("the sink stopped: " + UserError.message(sink.failure()), sink.failure());
    }
    return 0;
  }
}
