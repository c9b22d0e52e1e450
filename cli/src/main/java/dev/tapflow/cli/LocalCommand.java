package dev.tapflow.cli;

import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.capture.live.LiveCapture;
import dev.tapflow.capture.live.LivePublisher;
import dev.tapflow.schemas.CaptureStats;
import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.sink.FactSink;
import dev.tapflow.sink.LatencyReport;
import dev.tapflow.stream.ProcessorApp;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.ProcessorConfig;
import dev.tapflow.stream.topology.VantageJoinConfig;
import dev.tapflow.stream.topology.VantageJoinCounters;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tapflow local FILE...} or {@code tapflow local -i IFACE}: the whole pipeline in one
 * process. An Apache Kafka broker and a PostgreSQL server start embedded (persistent, under
 * --home) unless --bootstrap-servers / --jdbc-url point elsewhere; the files are imported (or
 * the live agent captures until SIGTERM/SIGINT or --duration), processed by Kafka Streams and
 * written by the sink; when every fact is in PostgreSQL the slow-command table is printed.
 */
@Command(name = "local", mixinStandardHelpOptions = true,
    description = "Run everything in one process on an embedded Kafka broker and an embedded PostgreSQL: "
        + "import the files (or capture live with -i until Ctrl-C), process them, store the facts, "
        + "print the slow-command table.")
final class LocalCommand implements Callable<Integer> {

  @Parameters(arity = "0..*", paramLabel = "FILE", description = "pcap or pcapng files (or capture live with -i)")
  List<Path> files = new ArrayList<>();

  @Mixin
  LiveOptions live;

  @Option(names = "--home", defaultValue = "${sys:user.home}/.tapflow",
      description = "Where the embedded broker, database and processor state live. Default: ${DEFAULT-VALUE}.")
  Path home;

  @Option(names = "--agent-id", description = "Label all files with this agent id (default: each file's name without "
      + "extension; live: this host's name).")
  String agentId;

  @Option(names = "--partitions", defaultValue = "4", description = "Partitions of the tapflow topics when created. Default: ${DEFAULT-VALUE}.")
  int partitions;

  @Option(names = "--timeout", defaultValue = "10m", description = "Give up waiting for the facts after this long. Default: ${DEFAULT-VALUE}.")
  String timeout;

  @Option(names = "--slowest", defaultValue = "10", description = "How many of the slowest requests to list. Default: ${DEFAULT-VALUE}.")
  int slowest;

  @Mixin
  KafkaOptions kafka;

  @Mixin
  JdbcOptions jdbc;

  @Mixin
  PipelineOptions pipeline;

  @Mixin
  HistogramOptions histograms;

  @Mixin
  VantageOptions.Join vantageJoin;

  @Mixin
  RetentionOptions retention;

  @Mixin
  MetricsOptions metrics;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (files.isEmpty() == !live.enabled()) {
      throw new UserError(files.isEmpty() ? "give capture files, or -i IFACE to capture live"
          : "give capture files or -i IFACE, not both");
    }
    ImportCommand.requireReadable(files);
    LiveCapture.Settings liveSettings = live.enabled() ? live.settings(agentId, pipeline.serverPortMap()) : null;
    Duration wait = PipelineOptions.Durations.parse(timeout, "--timeout");
    ProcessorConfig config = pipeline.processorConfig();
    LatencyWindowConfig windows = histograms.config();
    int retentionDays = retention.days();
    PrintWriter err = spec.commandLine().getErr();
    Files.createDirectories(home);
    long t0 = System.nanoTime();
    List<AutoCloseable> open = new ArrayList<>();
    MetricsEndpoint m = metrics.start("local");
    open.add(m);
    if (m.port() >= 0) {
      err.printf("tapflow: metrics at http://%s:%d%s%n", metrics.address, m.port(), MetricsEndpoint.PATH);
    }
    try {
      String bootstrap = kafka.bootstrapServers;
      if (bootstrap == null) {
        EmbeddedKafka broker = EmbeddedKafka.start(home.resolve("kafka"));
        open.add(broker);
        bootstrap = broker.bootstrapServers();
        err.printf("tapflow: Kafka broker (embedded) at %s, started in %d ms%n", bootstrap, broker.startTime().toMillis());
      }
      String jdbcUrl = jdbc.jdbcUrl;
      Properties jdbcProps = jdbc.properties();
      if (jdbcUrl == null) {
        EmbeddedPostgres pg = EmbeddedPostgres.start(home.resolve("postgres"));
        open.add(pg);
        jdbcUrl = pg.jdbcUrl();
        jdbcProps = pg.connectionProperties();
        err.printf("tapflow: PostgreSQL (embedded) at %s, started in %d ms%n", jdbcUrl, pg.startTime().toMillis());
      }
      Map<String, Object> clientProps = kafka.clientProperties();
      Topics.ensure(bootstrap, clientProps, config, windows, partitions);

      VantageJoinConfig vantage = vantageJoin.config();
      Topics.ensure(bootstrap, clientProps, List.of(vantage.topic()), partitions);
      ProcessorApp processor = new ProcessorApp(config, windows, vantage, bootstrap,
          ProcessorApp.DEFAULT_APPLICATION_ID, home.resolve("streams"), clientProps);
      open.add(0, processor);
      m.bindProcessor(processor);
      processor.start();

      Properties consumer = new Properties();
      consumer.putAll(clientProps);
      consumer.put("bootstrap.servers", bootstrap);
      FactSink sink = FactSink.builder(consumer, jdbcUrl, jdbcProps).topic(config.factsTopic())
          .latencyWindowsTopic(windows.topic()).retentionDays(retentionDays).onBatch(m.sinkBatches()).build();
      m.bindSink(sink);
      open.add(0, sink);
      sink.start();

      long tImport = System.nanoTime();
      long packets = 0;
      List<String> agents = new ArrayList<>();
      if (liveSettings != null) {
        m.bindCapture(liveSettings.agent());
        LivePublisher publisher = LivePublisher.create(bootstrap, clientProps, config.segmentsTopic(), live.backlogBytes());
        CaptureStats last = LiveAgent.run(liveSettings, publisher, live.duration(), err);
        packets = last.getPackets();
        agents.add(liveSettings.agent());
        err.printf("tapflow: captured %d packets in %d ms%n", packets, (System.nanoTime() - tImport) / 1_000_000);
      } else {
        try (KafkaSegmentPublisher publisher = new KafkaSegmentPublisher(bootstrap, config.segmentsTopic(), clientProps)) {
          List<dev.tapflow.capture.CaptureStats> stats = ImportCommand.importAll(files, agentId,
              dev.tapflow.capture.BatchListener.withVantage(publisher, live.vantage.setting()));
          publisher.flush();
          for (int i = 0; i < files.size(); i++) {
            packets += stats.get(i).packets();
            agents.add(agentId != null ? agentId : dev.tapflow.capture.CaptureFileImporter.defaultAgentId(files.get(i)));
          }
        }
        err.printf("tapflow: imported %d packets from %d file(s) in %d ms%n", packets, files.size(),
            (System.nanoTime() - tImport) / 1_000_000);
      }

      if (!processor.awaitCaughtUp(wait)) {
        throw new UserError("the stream processor did not finish within " + timeout + " (see --timeout)");
      }
      long tProcessed = System.nanoTime();
      if (!sink.awaitCaughtUp(wait)) {
        throw new UserError("the sink did not store every fact within " + timeout + ": " + sink.status());
      }
      long tStored = System.nanoTime();
      long facts = processor.engine().factsEmitted();
      double seconds = (tStored - tImport) / 1e9;
      // a rate over a few seconds of start-up latency would mislead: only for real volumes
      String rate = facts >= 10_000 ? String.format(" (%.0f facts/s end to end)", facts / seconds) : "";
      err.printf("tapflow: %d facts: processed %d ms after the import started, all in PostgreSQL %d ms after it%s; "
          + "%d ms since tapflow started%n", facts, (tProcessed - tImport) / 1_000_000,
          (tStored - tImport) / 1_000_000, rate, (tStored - t0) / 1_000_000);
      Map<String, Long> anomalies = new LinkedHashMap<>(processor.engine().anomalyCounts());
      long late = processor.latencyWindows().lateFactsDropped();
      if (late > 0) {
        anomalies.put("LATENCY_WINDOW_LATE_FACTS", late);
      }
      if (!anomalies.isEmpty()) {
        err.println("tapflow: anomalies " + anomalies);
      }
      VantageJoinCounters pairs = processor.vantage();
      if (pairs.pairs() > 0) {
        err.printf("tapflow: %d vantage pairs (client-side and server-side facts of one request)%n", pairs.pairs());
        pairs.medianOffsetsNs().forEach((agentPair, offset) -> err.printf(
            "tapflow: clock offset %s: %.3f ms%s%n", agentPair, offset / 1e6,
            pairs.skewedAgentPairs().contains(agentPair) ? " (skewed)" : ""));
      }
      err.flush();
      try (Connection c = DriverManager.getConnection(jdbcUrl, jdbcProps)) {
        LatencyReport.Report report = LatencyReport.query(c, agents, slowest);
        PrintWriter out = spec.commandLine().getOut();
        out.print(report.render());
        out.flush();
      }
      return 0;
    } finally {
      for (AutoCloseable c : open) {
        try {
          c.close();
        } catch (Exception e) {
          err.println("tapflow: while stopping: " + UserError.message(e));
        }
      }
    }
  }
}
