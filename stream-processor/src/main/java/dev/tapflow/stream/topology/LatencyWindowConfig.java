package dev.tapflow.stream.topology;

import java.time.Duration;
import java.util.Objects;

/**
 * The latency windows the processor aggregates from its facts (see
 * {@link LatencyWindowProcessor}).
 *
 * @param topic output, default {@value #TOPIC}
 * @param size  window length in capture time, default 1 min; divides a day (10 s, 1 min, 5 min...)
 * @param grace how long a window stays open, in stream time, after its end plus the TIMEOUT
 *              window, for facts of segments that arrive out of order; default 10 s
 */
public record LatencyWindowConfig(String topic, Duration size, Duration grace) {

  public static final String TOPIC = "tapflow.latency-1m.v1";
  public static final String STORE = "latency-windows";
  private static final long DAY_MS = 86_400_000L;

  public LatencyWindowConfig {
    Objects.requireNonNull(topic, "topic");
    long ms = size.toMillis();
    if (ms < 1000 || DAY_MS % ms != 0 || size.toNanos() != ms * 1_000_000L) {
      throw new IllegalArgumentException("a latency window is whole milliseconds, at least 1 s, and divides a day"
          + " (e.g. 10s, 1m, 5m); got " + size);
    }
    if (grace.isNegative()) {
      throw new IllegalArgumentException("negative grace " + grace);
    }
  }

  public static LatencyWindowConfig defaults() {
    return new LatencyWindowConfig(TOPIC, Duration.ofMinutes(1), Duration.ofSeconds(10));
  }

  public LatencyWindowConfig withSize(Duration s) {
    return new LatencyWindowConfig(topic, s, grace);
  }

  public LatencyWindowConfig withGrace(Duration g) {
    return new LatencyWindowConfig(topic, size, g);
  }

  public LatencyWindowConfig withTopic(String t) {
    return new LatencyWindowConfig(t, size, grace);
  }
}
