package dev.tapflow.sink;

import java.time.Duration;

/** Exponential backoff between retries of one failing thing: initial, doubling, capped. */
final class Backoff {
  private final long initialMs;
  private final long maxMs;
  private long nextMs;
  private int attempts;

  Backoff(Duration initial, Duration max) {
    this.initialMs = Math.max(1, initial.toMillis());
    this.maxMs = Math.max(initialMs, max.toMillis());
    this.nextMs = initialMs;
  }

  /** The delay before the next attempt; each call doubles the following one up to the cap. */
  long nextDelayMs() {
    long d = nextMs;
    nextMs = Math.min(maxMs, nextMs * 2);
    attempts++;
    return d;
  }

  int attempts() {
    return attempts;
  }

  void reset() {
    nextMs = initialMs;
    attempts = 0;
  }
}
