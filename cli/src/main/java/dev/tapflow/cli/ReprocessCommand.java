package dev.tapflow.cli;

import dev.tapflow.stream.Reprocessor;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code tapflow reprocess --from T1 --to T2}: the segments of a time range processed again,
 * as a bounded job that stops by itself ({@link Reprocessor}), into the live output topics or,
 * with {@code --app-id NAME}, into topics of their own.
 */
@Command(name = "reprocess", mixinStandardHelpOptions = true,
    description = "Process again the segments retained in tapflow.segments.v1 for requests made in [--from, --to) "
        + "(e.g. after a decoder upgrade, or with another --window): facts, latency windows and anomalies go to the "
        + "live topics (fact ids are the same, so the sink stores each fact once), or with --app-id NAME to "
        + "tapflow.facts.NAME.v1, tapflow.latency-1m.NAME.v1 and tapflow.decode-errors.NAME.v1. "
        + "Stops when the range is done. With --jdbc-url it then stores its output in PostgreSQL itself (with "
        + "--app-id, name a database of its own: the facts keep their ids, so a changed fact would not replace "
        + "the live one); or run tapflow sink --topic tapflow.facts.NAME.v1 --windows-topic "
        + "tapflow.latency-1m.NAME.v1 --jdbc-url ...")
final class ReprocessCommand implements Callable<Integer> {

  static final String DEFAULT_APP_ID = "tapflow-reprocess";
  private static final Pattern APP_ID = Pattern.compile("[A-Za-z0-9_-]+");
  private static final DateTimeFormatter SHOWN = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS", Locale.ROOT)
      .withZone(ZoneOffset.UTC);

  @Option(names = "--from", required = true, paramLabel = "TIME",
      description = "First request time included (capture time): '2026-12-02 10:05' (UTC), 2026-12-02T10:05:00Z, "
          + "-1h or '1h ago'.")
  String from;

  @Option(names = "--to", defaultValue = "now", paramLabel = "TIME",
      description = "First request time excluded; same forms. Default: ${DEFAULT-VALUE}.")
  String to;

  @Option(names = "--warmup", defaultValue = "60s", paramLabel = "DURATION",
      description = "Capture time read before --from to rebuild the connections' state (their facts are not "
          + "emitted): connections opened in it are decoded from their start, replies to requests made in it are "
          + "paired. 0s reads exactly the segments from --from on. Default: ${DEFAULT-VALUE}.")
  String warmup;

  @Option(names = "--app-id", paramLabel = "NAME",
      description = "Names this run's output: topics tapflow.facts.NAME.v1, tapflow.latency-1m.NAME.v1, "
          + "tapflow.decode-errors.NAME.v1 (created with the segments topic's partitions) unless given below. "
          + "Without it the output goes to the live topics.")
  String appId;

  @Option(names = "--facts-topic", paramLabel = "TOPIC", description = "Facts output topic.")
  String factsTopic;

  @Option(names = "--windows-topic", paramLabel = "TOPIC", description = "Latency windows output topic.")
  String windowsTopic;

  @Option(names = "--errors-topic", paramLabel = "TOPIC", description = "Anomalies (DecodeError) output topic.")
  String errorsTopic;

  @Option(names = "--segments-topic", defaultValue = ProcessorConfig.SEGMENTS_TOPIC, paramLabel = "TOPIC",
      description = "Input. Default: ${DEFAULT-VALUE}.")
  String segmentsTopic;

  @Option(names = {"-q", "--quiet"}, description = "No progress and no summary on stderr.")
  boolean quiet;

  @Option(names = "--store-timeout", defaultValue = "10m", paramLabel = "DURATION",
      description = "With --jdbc-url: give up waiting for the sink after this long. Default: ${DEFAULT-VALUE}.")
  String storeTimeout;

  @Mixin
  JdbcOptions jdbc;

  @Mixin
  KafkaOptions kafka;

  @Mixin
  PipelineOptions pipeline;

  @Mixin
  HistogramOptions histograms;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() {
    Instant fromTime = TimeArgs.parse(from, "--from");
    Instant toTime = TimeArgs.parse(to, "--to");
    if (!fromTime.isBefore(toTime)) {
      throw new UserError("--from must be before --to (got " + fromTime + " and " + toTime + ")");
    }
    if (appId != null && !APP_ID.matcher(appId).matches()) {
      throw new UserError("--app-id: letters, digits, '_' and '-' only; got '" + appId + "'");
    }
    Duration warmupTime = PipelineOptions.Durations.parse(warmup, "--warmup");
    if (warmupTime.isNegative()) {
      throw new UserError("--warmup must not be negative");
    }
    Outputs names = outputs(appId, factsTopic, windowsTopic, errorsTopic);
    ProcessorConfig config = pipeline.processorConfig().withTopics(segmentsTopic, names.facts(), names.errors());
    LatencyWindowConfig windows = histograms.config().withTopic(names.windows());
    String bootstrap = kafka.requireBootstrap();
    Map<String, Object> clientProps = kafka.clientProperties();
    // same partition count as the input: a fact lands in the partition number of its segments, as live
    int partitions = Topics.partitions(bootstrap, clientProps, segmentsTopic);
    Topics.ensure(bootstrap, clientProps, List.of(names.facts(), names.windows(), names.errors()), partitions);

    PrintWriter err = spec.commandLine().getErr();
    ProgressLine line = new ProgressLine(err, !quiet, ProgressLine.terminal());
    long fromNs = nanos(fromTime);
    long toNs = nanos(toTime);
    Reprocessor.Result r;
    try {
      r = new Reprocessor(config, windows, bootstrap, clientProps).run(fromNs, toNs, warmupTime,
          new Reprocessor.Outputs(names.facts(), names.windows(), names.errors(),
              "tapflow-reprocess." + (appId == null ? DEFAULT_APP_ID : appId)),
          Duration.ofSeconds(1), p -> line.update(describe(p)));
    } catch (IllegalStateException | org.apache.kafka.common.KafkaException e) {
      line.clear();
      throw new UserError("reprocess failed: " + UserError.message(e), e);
    }
    line.clear();
    if (!quiet) {
      double s = Math.max(r.elapsedNs(), 1) / 1e9;
      err.printf(Locale.ROOT, "tapflow: reprocessed %s to %s: %s records (%s segments) from %d partition(s) in %.1f s "
              + "(%s segments, %s facts); %s facts to %s, %s latency windows to %s, %s anomalies to %s%n",
          SHOWN.format(fromTime), SHOWN.format(toTime), ProgressLine.count(r.records()),
          ProgressLine.count(r.segments()), r.partitions(), s, ProgressLine.rate(r.segments() / s),
          ProgressLine.rate(r.facts() / s), ProgressLine.count(r.facts()), names.facts(),
          ProgressLine.count(r.windows()), names.windows(), ProgressLine.count(r.anomalies()), names.errors());
      if (!r.anomalyCounts().isEmpty()) {
        err.println("tapflow: anomalies " + r.anomalyCounts());
      }
      err.flush();
    }
    if (jdbc.jdbcUrl != null) {
      store(bootstrap, clientProps, names, err);
    }
    return 0;
  }

  /**
   * --jdbc-url: the sink, in a group of its own, over the output topics until it has stored all
   * of them (facts already there are kept once: ids are the same).
   *
   */
  private void store(String bootstrap, Map<String, Object> clientProps, Outputs names, PrintWriter err) {
    Duration wait = PipelineOptions.Durations.parse(storeTimeout, "--store-timeout");
    java.util.Properties consumer = new java.util.Properties();
    consumer.putAll(clientProps);
    consumer.put("bootstrap.servers", bootstrap);
    consumer.putIfAbsent("group.id", "tapflow-reprocess-sink." + names.facts());
    try (dev.tapflow.sink.FactSink sink = dev.tapflow.sink.FactSink.builder(consumer, jdbc.jdbcUrl, jdbc.properties())
        .topic(names.facts()).latencyWindowsTopic(names.windows())
        .vantagePairsTopic(names.facts().equals(dev.tapflow.sink.FactSink.DEFAULT_TOPIC)
            ? dev.tapflow.sink.FactSink.DEFAULT_VANTAGE_PAIRS_TOPIC : null).build().start()) {
      if (!sink.awaitCaughtUp(wait)) {
        throw new UserError("the sink did not store the output within " + storeTimeout + ": " + sink.status());
      }
      if (!quiet) {
        err.printf("tapflow: stored %s and %s in PostgreSQL: %s facts read, %s new rows%n", names.facts(),
            names.windows(), ProgressLine.count(sink.factsStored()), ProgressLine.count(sink.rowsWritten()));
        err.flush();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new UserError("interrupted");
    } catch (IllegalStateException e) {
      throw new UserError("the sink failed: " + UserError.message(e), e);
    }
  }

  /** Output topic names. */
  record Outputs(String facts, String windows, String errors) {}

  /** The live topics without an app id, {@code tapflow.<kind>.<app-id>.v1} with one; explicit names win. */
  static Outputs outputs(String appId, String facts, String windows, String errors) {
    String infix = appId == null ? "" : "." + appId;
    return new Outputs(
        facts != null ? facts : "tapflow.facts" + infix + ".v1",
        windows != null ? windows : "tapflow.latency-1m" + infix + ".v1",
        errors != null ? errors : "tapflow.decode-errors" + infix + ".v1");
  }

  private static String describe(Reprocessor.Progress p) {
    double s = Math.max(p.elapsedNs(), 1) / 1e9;
    double fraction = p.recordsTotal() == 0 ? 1 : (double) p.recordsDone() / p.recordsTotal();
    double rate = p.recordsDone() / s;
    String eta = rate > 0 && p.recordsDone() < p.recordsTotal()
        ? ", ETA " + ProgressLine.duration((p.recordsTotal() - p.recordsDone()) / rate) : "";
    long reached = Math.max(p.fromNs(), Math.min(p.reachedNs(), p.toNs()));
    return String.format(Locale.ROOT, "reprocess %s %3.0f%% %s/%s records, capture time %s of %s..%s, %s records, "
            + "%s segments, %s facts%s",
        ProgressLine.bar(fraction, 20), 100 * fraction, ProgressLine.count(p.recordsDone()),
        ProgressLine.count(p.recordsTotal()), SHOWN.format(instant(reached)), SHOWN.format(instant(p.fromNs())),
        SHOWN.format(instant(p.toNs())), ProgressLine.rate(rate), ProgressLine.rate(p.segments() / s),
        ProgressLine.count(p.facts()), eta);
  }

  private static long nanos(Instant t) {
    return Math.multiplyExact(t.getEpochSecond(), 1_000_000_000L) + t.getNano();
  }

  private static Instant instant(long ns) {
    return Instant.ofEpochSecond(Math.floorDiv(ns, 1_000_000_000L), Math.floorMod(ns, 1_000_000_000L));
  }
}
