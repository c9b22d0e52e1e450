package dev.tapflow.stream.tcp;

/**
 * Bounds of TCP tracking: one direction's reorder buffer, and connections per task.
 *
 * @param maxBufferedBytes    out-of-order bytes held while waiting for a hole to fill (default 1 MiB);
 *                            beyond it the hole is declared a gap
 * @param maxBufferedSegments out-of-order segments held (default 1024)
 * @param reorderTimeoutNs    capture time a hole may stay open before it is declared a gap
 *                            (default 1 s: longer than Linux's minimum retransmission timeout)
 * @param maxConnections      connections tracked at once by one processor task (default 200,000,
 *                            about 100 MB of idle state); a new connection beyond it is not
 *                            tracked and counted as {@code TCP_TOO_MANY_CONNECTIONS}
 */
public record ReassemblyLimits(long maxBufferedBytes, int maxBufferedSegments, long reorderTimeoutNs,
    long maxConnections) {
  public static final long DEFAULT_MAX_CONNECTIONS = 200_000;
  public static final ReassemblyLimits DEFAULTS =
      new ReassemblyLimits(1 << 20, 1024, 1_000_000_000L, DEFAULT_MAX_CONNECTIONS);

  /** Reorder bounds with the default connection bound. */
  public ReassemblyLimits(long maxBufferedBytes, int maxBufferedSegments, long reorderTimeoutNs) {
    this(maxBufferedBytes, maxBufferedSegments, reorderTimeoutNs, DEFAULT_MAX_CONNECTIONS);
  }
}
