package dev.tapflow.stream.topology;

/**
 * Stream time of one Kafka Streams task, and when its stream-time punctuation (the
 * connections' sweep) runs, for code that drives {@link ConnectionEngine} outside Kafka
 * Streams ({@code tapflow analyze}, {@code tapflow reprocess}) and must sweep where the
 * processor would.
 *
 * <p>Stream time is the largest record timestamp seen (ms, as Kafka Streams keeps it). The
 * first sweep is due one interval after the first record; each later one when stream time
 * reaches the previous sweep's time plus the interval.
 */
public final class StreamClock {
  private final long intervalNs;
  private long streamTimeNs = Long.MIN_VALUE;
  private long nextSweepNs = Long.MIN_VALUE;

  public StreamClock(ProcessorConfig config) {
    this.intervalNs = config.punctuateInterval().toNanos();
  }

  /**
   * A record with timestamp {@code recordTsMs} was processed.
   *
   * @return true when a sweep is due now, at {@link #streamTimeNs()}
   */
  public boolean advance(long recordTsMs) {
    long recordNs = recordTsMs * 1_000_000L;
    if (recordNs <= streamTimeNs) {
      return false;
    }
    streamTimeNs = recordNs;
    if (nextSweepNs == Long.MIN_VALUE) {
      nextSweepNs = streamTimeNs + intervalNs;
      return false;
    }
    if (streamTimeNs >= nextSweepNs) {
      nextSweepNs = streamTimeNs + intervalNs;
      return true;
    }
    return false;
  }

  /** The stream time in ns ({@link Long#MIN_VALUE} before the first record). */
  public long streamTimeNs() {
    return streamTimeNs;
  }
}
