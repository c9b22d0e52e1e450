package dev.tapflow.cli;

import com.sun.net.httpserver.HttpServer;
import dev.tapflow.capture.live.LiveCaptureMXBean;
import dev.tapflow.sink.FactSink;
import dev.tapflow.stream.ProcessorApp;
import dev.tapflow.stream.topology.ConnectionEngine;
import dev.tapflow.stream.topology.LatencyWindowCounters;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.kafka.KafkaStreamsMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.apache.kafka.common.Metric;
import org.apache.kafka.common.MetricName;
import org.apache.kafka.streams.KafkaStreams;
import org.HdrHistogram.Histogram;

/**
 * The roles' metrics in Prometheus' text format at {@code /metrics} (Micrometer): the live
 * agent's counters (read from its {@link LiveCaptureMXBean}), the processor's facts,
 * anomalies by name and latency windows plus every Kafka Streams metric, the sink's stored
 * records, lag and batch times, and the JVM's. Every meter carries the tag {@code role}.
 */
final class MetricsEndpoint implements AutoCloseable {
  static final String PATH = "/metrics";

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final List<Runnable> beforeScrape = new CopyOnWriteArrayList<>();
  private final List<AutoCloseable> closeables = new CopyOnWriteArrayList<>();
  private final HttpServer server;

  private MetricsEndpoint(String role, HttpServer server) {
    this.server = server;
    registry.config().commonTags("role", role);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    JvmGcMetrics gc = new JvmGcMetrics();
    gc.bindTo(registry);
    closeables.add(gc);
  }

  /** Starts serving on {@code address:port} ({@code port} 0: any free port); {@code port} null: collect only. */
  static MetricsEndpoint start(String role, String address, Integer port) {
    HttpServer server = null;
    if (port != null) {
      try {
        server = HttpServer.create(new InetSocketAddress(address, port), 0);
      } catch (IOException e) {
        throw new UserError("--metrics-port " + port + ": cannot listen on " + address + ":" + port + ": "
            + e.getMessage(), e);
      }
    }
    MetricsEndpoint m = new MetricsEndpoint(role, server);
    if (server != null) {
      server.createContext(PATH, exchange -> {
        byte[] body = m.scrape().getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      });
      server.setExecutor(Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "tapflow-metrics");
        t.setDaemon(true);
        return t;
      }));
      server.start();
    }
    return m;
  }

  /** The port it listens on, or -1 when it does not. */
  int port() {
    return server == null ? -1 : server.getAddress().getPort();
  }

  /** Everything, in Prometheus' text format. */
  String scrape() {
    beforeScrape.forEach(Runnable::run);
    return registry.scrape();
  }

  // ------------------------------------------------------------------ agent

  /**
   * The live agent {@code agent}'s counters, {@code tapflow_capture_*{agent}}, read from its
   * JMX bean (refreshed every second by the capture): cumulative ones as counters, the
   * backlog and in-flight sizes as gauges. Zero until the capture has started.
   */
  void bindCapture(String agent) {
    ObjectName name;
    try {
      name = new ObjectName("dev.tapflow:type=LiveCapture,agent=" + ObjectName.quote(agent));
    } catch (JMException e) {
      throw new IllegalStateException(e);
    }
    MBeanServer jmx = ManagementFactory.getPlatformMBeanServer();
    for (Method m : LiveCaptureMXBean.class.getMethods()) {
      if (!m.getName().startsWith("get") || m.getParameterCount() != 0) {
        continue;
      }
      String attribute = m.getName().substring(3);
      String metric = "tapflow.capture." + attribute.replaceAll("([a-z])([A-Z])", "$1.$2").toLowerCase(Locale.ROOT);
      ToDoubleFunction<MBeanServer> read = s -> {
        try {
          return ((Number) s.getAttribute(name, attribute)).doubleValue();
        } catch (JMException e) {
          return 0; // not started yet, or stopped
        }
      };
      boolean level = attribute.equals("BacklogBytes") || attribute.equals("BacklogPeakBytes")
          || attribute.equals("InFlightSegments");
      if (level) {
        Gauge.builder(metric, jmx, read).tag("agent", agent).register(registry);
      } else {
        FunctionCounter.builder(metric, jmx, read).tag("agent", agent).register(registry);
      }
    }
  }

  // -------------------------------------------------------------- processor

  /**
   * The processor's facts, anomalies by name ({@code tapflow_processor_anomalies_total{name}},
   * a series per name from its first occurrence), latency window counters, whether it runs, and
   * every Kafka Streams, consumer and producer metric ({@code kafka_stream_*}, {@code
   * kafka_consumer_*}, {@code kafka_producer_*}: lag, commit and process rates and latencies).
   */
  void bindProcessor(ProcessorApp app) {
    ConnectionEngine engine = app.engine();
    FunctionCounter.builder("tapflow.processor.facts", engine, ConnectionEngine::factsEmitted)
        .description("latency facts made").register(registry);
    LatencyWindowCounters windows = app.latencyWindows();
    FunctionCounter.builder("tapflow.processor.window.facts", windows, LatencyWindowCounters::factsCounted)
        .description("facts counted into latency windows").register(registry);
    FunctionCounter.builder("tapflow.processor.window.late.facts", windows, LatencyWindowCounters::lateFactsDropped)
        .description("facts left out of latency windows already published (LATENCY_WINDOW_LATE_FACTS)")
        .register(registry);
    FunctionCounter.builder("tapflow.processor.windows", windows, LatencyWindowCounters::windowsEmitted)
        .description("latency window parts published").register(registry);
    Gauge.builder("tapflow.processor.running", app, a -> a.streams().state() == KafkaStreams.State.RUNNING ? 1 : 0)
        .description("1 while Kafka Streams is RUNNING (0 while rebalancing, restoring, stopped)").register(registry);
    dev.tapflow.stream.topology.VantageJoinCounters vantage = app.vantage();
    FunctionCounter.builder("tapflow.processor.vantage.pairs", vantage,
            dev.tapflow.stream.topology.VantageJoinCounters::pairs)
        .description("vantage pairs published (one request seen on the client's and the server's host)")
        .register(registry);
    FunctionCounter.builder("tapflow.processor.vantage.causality.violations", vantage,
            dev.tapflow.stream.topology.VantageJoinCounters::causalityViolations)
        .description("vantage pairs whose raw times are impossible: the agents' clocks differ by more than the one-way"
            + " delay").register(registry);
    Gauge.builder("tapflow.processor.vantage.skewed.agent.pairs", vantage, v -> v.skewedAgentPairs().size())
        .description("agent pairs whose estimated clock offset is beyond --clock-skew-threshold").register(registry);
    Set<String> agentPairs = ConcurrentHashMap.newKeySet();
    beforeScrape.add(() -> {
      for (String pair : vantage.medianOffsetsNs().keySet()) {
        if (agentPairs.add(pair)) {
          String[] ab = pair.split(" -> ", 2);
          Gauge.builder("tapflow.processor.vantage.clock.offset.seconds", vantage,
                  v -> v.medianOffsetsNs().getOrDefault(pair, 0L) / 1e9)
              .tag("client_agent", ab[0]).tag("server_agent", ab.length > 1 ? ab[1] : "")
              .description("estimated clock offset, server agent minus client agent").register(registry);
        }
      }
    });
    Set<String> seen = ConcurrentHashMap.newKeySet();
    Runnable anomalies = () -> {
      for (String anomaly : engine.anomalyCounts().keySet()) {
        if (seen.add(anomaly)) {
          FunctionCounter.builder("tapflow.processor.anomalies", engine,
                  e -> e.anomalyCounts().getOrDefault(anomaly, 0L))
              .tag("name", anomaly).description("named anomalies (decode errors, gaps, limits hit)").register(registry);
        }
      }
    };
    beforeScrape.add(anomalies);
    KafkaStreamsMetrics streams = new KafkaStreamsMetrics(app.streams());
    streams.bindTo(registry);
    closeables.add(streams);
  }

  // ------------------------------------------------------------------- sink

  /** Feeds {@code tapflow_sink_batch_seconds} and {@code tapflow_sink_batch_records}: give it to the sink's builder. */
  FactSink.BatchListener sinkBatches() {
    Timer time = Timer.builder("tapflow.sink.batch").description("one database transaction, connection to commit")
        .publishPercentiles(0.5, 0.99).register(registry);
    DistributionSummary size = DistributionSummary.builder("tapflow.sink.batch.records")
        .description("records per database transaction").register(registry);
    return (records, nanos) -> {
      time.record(nanos, TimeUnit.NANOSECONDS);
      size.record(records);
    };
  }

  /**
   * The sink's counters ({@code tapflow_sink_facts_stored_total}, rows, rejects, window parts,
   * reports, expired), its lag ({@code tapflow_sink_lag_records}: records in its assigned
   * partitions not yet read, from its consumer) and the freshness of what it stored.
   */
  void bindSink(FactSink sink) {
    counter("tapflow.sink.facts.stored", sink, FactSink::factsStored, "facts committed to PostgreSQL (new and known ids)");
    counter("tapflow.sink.rows.written", sink, FactSink::rowsWritten, "new latency_facts rows");
    counter("tapflow.sink.rejected.records", sink, FactSink::rejectedRecords, "records that did not decode or were refused");
    counter("tapflow.sink.window.parts.merged", sink, FactSink::windowPartsMerged, "latency window parts merged");
    counter("tapflow.sink.capture.reports.stored", sink, FactSink::captureReportsStored, "capture agents' reports stored");
    counter("tapflow.sink.facts.expired", sink, FactSink::factsExpired, "records older than the retention, not stored");
    counter("tapflow.sink.batches", sink, FactSink::batchesWritten, "database transactions committed");
    Gauge.builder("tapflow.sink.lag.records", sink, s -> lag(s.consumerMetrics()))
        .description("records in the sink's partitions not read yet (sum of the consumer's records-lag)")
        .register(registry);
    for (double q : new double[] {0.5, 0.99, 1.0}) {
      Gauge.builder("tapflow.sink.freshness.seconds", sink, s -> {
        Histogram h = s.freshness();
        return h.getTotalCount() == 0 ? Double.NaN : h.getValueAtPercentile(q * 100) / 1e9;
      }).tag("quantile", Double.toString(q))
          .description("capture of a fact's last packet to its commit in PostgreSQL (live capture, synced clocks)")
          .register(registry);
    }
  }

  private void counter(String name, FactSink sink, java.util.function.ToLongFunction<FactSink> f, String description) {
    FunctionCounter.builder(name, sink, s -> f.applyAsLong(s)).description(description).register(registry);
  }

  /** The sum of the per-partition {@code records-lag} metrics; 0 before the first fetch. */
  static double lag(Map<MetricName, ? extends Metric> metrics) {
    double sum = 0;
    for (Map.Entry<MetricName, ? extends Metric> e : metrics.entrySet()) {
      MetricName n = e.getKey();
      if (n.name().equals("records-lag") && n.tags().containsKey("partition")) {
        Object v = e.getValue().metricValue();
        if (v instanceof Number num && !Double.isNaN(num.doubleValue())) {
          sum += num.doubleValue();
        }
      }
    }
    return sum;
  }

  @Override
  public void close() {
    if (server != null) {
      server.stop(0);
    }
    List<AutoCloseable> all = new ArrayList<>(closeables);
    for (AutoCloseable c : all) {
      try {
        c.close();
      } catch (Exception e) {
        // metrics only
      }
    }
    registry.close();
  }
}
