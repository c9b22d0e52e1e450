package dev.tapflow.sink;

import dev.tapflow.schemas.LatencyHistograms;
import dev.tapflow.schemas.LatencyWindow;
import java.sql.ResultSet;
import java.sql.SQLException;
import org.HdrHistogram.Histogram;

/**
 * Latency windows added together: parts of one window (the sink), or windows of several
 * minutes, agents or servers ({@code tapflow top}). Counters add up, the extremes are exact,
 * the histograms add, and percentiles come from the sum: within
 * {@link LatencyHistograms#RELATIVE_ERROR} of the exact nearest-rank percentile, and never
 * outside the exact min and max.
 */
public final class MergedLatency {
  /** The columns {@link #add(ResultSet)} reads, as a SELECT list of {@code latency_windows}. */
  public static final String COLUMNS = "count, errors, timeouts, request_bytes, response_bytes, latency_count,"
      + " latency_sum_ns, latency_min_ns, latency_max_ns, histogram";

  private long count;
  private long errors;
  private long timeouts;
  private long requestBytes;
  private long responseBytes;
  private long latencyCount;
  private long latencySumNs;
  private long minNs = Long.MAX_VALUE;
  private long maxNs = Long.MIN_VALUE;
  private final Histogram histogram = LatencyHistograms.create();

  /** Adds one published part. */
  public MergedLatency add(LatencyWindow w) {
    add(w.getCount(), w.getErrors(), w.getTimeouts(), w.getRequestBytes(), w.getResponseBytes(), w.getLatencyCount(),
        w.getLatencySumNs(), w.getLatencyMinNs(), w.getLatencyMaxNs());
    histogram.add(LatencyHistograms.decode(w.getHistogram()));
    return this;
  }

  /** Adds the row at the result set's cursor (selected with {@link #COLUMNS}). */
  public MergedLatency add(ResultSet rs) throws SQLException {
    add(rs.getLong("count"), rs.getLong("errors"), rs.getLong("timeouts"), rs.getLong("request_bytes"),
        rs.getLong("response_bytes"), rs.getLong("latency_count"), rs.getLong("latency_sum_ns"),
        (Long) rs.getObject("latency_min_ns"), (Long) rs.getObject("latency_max_ns"));
    histogram.add(LatencyHistograms.decode(rs.getBytes("histogram")));
    return this;
  }

  private void add(long count, long errors, long timeouts, long requestBytes, long responseBytes, long latencyCount,
      long latencySumNs, Long minNs, Long maxNs) {
    this.count += count;
    this.errors += errors;
    this.timeouts += timeouts;
    this.requestBytes += requestBytes;
    this.responseBytes += responseBytes;
    this.latencyCount += latencyCount;
    this.latencySumNs += latencySumNs;
    if (minNs != null) {
      this.minNs = Math.min(this.minNs, minNs);
    }
    if (maxNs != null) {
      this.maxNs = Math.max(this.maxNs, maxNs);
    }
  }

  /** The latency at percentile {@code p} (0..100] in ns, or null without any latency. */
  public Long percentileNs(double p) {
    if (latencyCount == 0 || histogram.getTotalCount() == 0) {
      return null;
    }
    return Math.min(maxNs, Math.max(minNs, histogram.getValueAtPercentile(p)));
  }

  public long count() {
    return count;
  }

  public long errors() {
    return errors;
  }

  public long timeouts() {
    return timeouts;
  }

  public long requestBytes() {
    return requestBytes;
  }

  public long responseBytes() {
    return responseBytes;
  }

  public long latencyCount() {
    return latencyCount;
  }

  public long latencySumNs() {
    return latencySumNs;
  }

  /** Exact smallest latency, or null. */
  public Long minNs() {
    return latencyCount == 0 ? null : minNs;
  }

  /** Exact largest latency, or null. */
  public Long maxNs() {
    return latencyCount == 0 ? null : maxNs;
  }

  public byte[] encodedHistogram() {
    return LatencyHistograms.encode(histogram);
  }
}
