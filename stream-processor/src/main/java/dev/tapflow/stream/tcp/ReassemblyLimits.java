package dev.tapflow.stream.tcp;

/**
 * Bounds of one direction's reorder buffer.
 *
 * @param maxBufferedBytes    out-of-order bytes held while waiting for a hole to fill (default 1 MiB);
 *                            beyond it the hole is declared a gap
 * @param maxBufferedSegments out-of-order segments held (default 1024)
 * @param reorderTimeoutNs    capture time a hole may stay open before it is declared a gap
 *                            (default 1 s: longer than Linux's minimum retransmission timeout)
 */
public record ReassemblyLimits(long maxBufferedBytes, int maxBufferedSegments, long reorderTimeoutNs) {
  public static final ReassemblyLimits DEFAULTS = new ReassemblyLimits(1 << 20, 1024, 1_000_000_000L);
}
