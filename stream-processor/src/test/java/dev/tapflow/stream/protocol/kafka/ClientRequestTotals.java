package dev.tapflow.stream.protocol.kafka;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.common.metrics.KafkaMetric;
import org.apache.kafka.common.metrics.MetricsReporter;

/**
 * Test-only: a client metrics reporter ({@code metric.reporters}) that keeps each client's
 * {@code request-total} (the client's own count of requests it sent: the network selector
 * counts every completed send; SASL authentication frames are written by the authenticator
 * and are not counted). The metric objects are kept, so the totals can be read after the
 * client is closed, when every request it makes, including those of {@code close()}, is in.
 */
public final class ClientRequestTotals implements MetricsReporter {

  private static final Map<String, KafkaMetric> TOTALS = new ConcurrentHashMap<>();

  @Override
  public void configure(Map<String, ?> configs) {}

  @Override
  public void init(List<KafkaMetric> metrics) {
    metrics.forEach(this::metricChange);
  }

  @Override
  public void metricChange(KafkaMetric metric) {
    String group = metric.metricName().group();
    String client = metric.metricName().tags().get("client-id");
    // producer-metrics, consumer-metrics, admin-client-metrics; not the per-node groups
    if (metric.metricName().name().equals("request-total") && client != null && group.endsWith("-metrics")
        && !group.endsWith("-node-metrics")) {
      TOTALS.put(client, metric);
    }
  }

  @Override
  public void metricRemoval(KafkaMetric metric) {}

  @Override
  public void close() {}

  /** request-total per client id, for the given client ids (missing ones are 0). */
  static Map<String, Long> read(List<String> clientIds) {
    Map<String, Long> out = new TreeMap<>();
    for (String id : clientIds) {
      KafkaMetric m = TOTALS.get(id);
      out.put(id, m == null ? 0L : Math.round(((Number) m.metricValue()).doubleValue()));
    }
    return out;
  }
}
