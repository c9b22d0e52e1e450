package dev.tapflow.stream.topology;

import java.time.Duration;
import java.util.Objects;

/**
 * The vantage join (see {@link VantageJoin}): the same request captured on the client's host
 * and on the server's host, joined into a {@code VantagePair}.
 *
 * @param enabled       whether the processor joins at all (default true)
 * @param topic         output, default {@value #TOPIC}
 * @param skew          how far apart the two agents' clocks may be: facts of one request join when
 *                      their request times (each on its agent's clock) differ by at most this much;
 *                      default 5 s
 * @param grace         how far (in capture time) a fact may arrive behind the latest fact of its
 *                      join partition and still join; bounds how long facts wait in the join's
 *                      window stores; default 10 min (two agents' captures imported one after the
 *                      other must each be shorter than this)
 * @param skewThreshold an agent pair whose median clock offset is beyond this is reported as
 *                      skewed; default 1 ms
 * @param minPairs      pairs needed before an agent pair is judged; default 10
 */
public record VantageJoinConfig(boolean enabled, String topic, Duration skew, Duration grace, Duration skewThreshold,
    int minPairs) {

  public static final String TOPIC = "tapflow.vantage-pairs.v1";
  /** Store of the join's two window stores' name prefix (Kafka Streams adds -this-join / -other-join). */
  public static final String JOIN_NAME = "vantage-join";
  /** Per agent pair, the recent clock offsets ({@link VantageSkewMonitor}). */
  public static final String SKEW_STORE = "vantage-skew";

  public VantageJoinConfig {
    Objects.requireNonNull(topic, "topic");
    if (skew.isNegative() || grace.isNegative() || skewThreshold.isNegative()) {
      throw new IllegalArgumentException("vantage join durations must not be negative");
    }
    if (minPairs < 1) {
      throw new IllegalArgumentException("minPairs must be at least 1");
    }
  }

  public static VantageJoinConfig defaults() {
    return new VantageJoinConfig(true, TOPIC, Duration.ofSeconds(5), Duration.ofMinutes(10), Duration.ofMillis(1), 10);
  }

  public static VantageJoinConfig disabled() {
    return defaults().withEnabled(false);
  }

  public VantageJoinConfig withEnabled(boolean e) {
    return new VantageJoinConfig(e, topic, skew, grace, skewThreshold, minPairs);
  }

  public VantageJoinConfig withSkew(Duration s) {
    return new VantageJoinConfig(enabled, topic, s, grace, skewThreshold, minPairs);
  }

  public VantageJoinConfig withGrace(Duration g) {
    return new VantageJoinConfig(enabled, topic, skew, g, skewThreshold, minPairs);
  }

  public VantageJoinConfig withSkewThreshold(Duration t) {
    return new VantageJoinConfig(enabled, topic, skew, grace, t, minPairs);
  }

  public VantageJoinConfig withMinPairs(int n) {
    return new VantageJoinConfig(enabled, topic, skew, grace, skewThreshold, n);
  }

  public VantageJoinConfig withTopic(String t) {
    return new VantageJoinConfig(enabled, t, skew, grace, skewThreshold, minPairs);
  }
}
