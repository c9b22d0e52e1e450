package dev.tapflow.stream.topology;

import java.util.concurrent.atomic.AtomicLong;

/** What the latency window processors of one application did, summed over their tasks. */
public final class LatencyWindowCounters {
  final AtomicLong factsCounted = new AtomicLong();
  final AtomicLong lateFactsDropped = new AtomicLong();
  final AtomicLong windowsEmitted = new AtomicLong();

  /** Facts added to an open window. */
  public long factsCounted() {
    return factsCounted.get();
  }

  /**
   * Facts whose window had already been emitted (later than the grace, or after their
   * agent's end of capture): not in any window; each episode is also a
   * {@value LatencyWindowProcessor#LATE_FACTS} anomaly on the decode-errors topic.
   */
  public long lateFactsDropped() {
    return lateFactsDropped.get();
  }

  /** LatencyWindow records published. */
  public long windowsEmitted() {
    return windowsEmitted.get();
  }
}
