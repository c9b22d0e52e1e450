package dev.tapflow.protocol.api;

/**
 * The bounds every protocol session respects. Each is a named limit; exceeding one raises
 * a named anomaly and never an unbounded allocation.
 *
 * @param maxPendingRequests requests waiting for an answer on one connection (default 10000);
 *                           beyond it the oldest is reported as TIMEOUT and counted
 * @param maxMessageBytes    one message's declared length (default 512 MiB, Redis' own bulk limit);
 *                           longer is an anomaly and the decoder resynchronises
 * @param maxArrayElements   elements of one aggregate (default 1,048,576)
 * @param maxNesting         depth of nested aggregates (default 64)
 * @param maxLineBytes       one protocol line (default 64 KiB)
 * @param maxArgBytes        bytes of arguments kept on a fact (default 256); the rest is truncated
 * @param keepValues         values (what {@code SET key value} stores, publishes, ...) are kept in a
 *                           fact's args; by default (false) only their size is ({@code <5 bytes>})
 */
public record SessionLimits(
    int maxPendingRequests,
    long maxMessageBytes,
    int maxArrayElements,
    int maxNesting,
    int maxLineBytes,
    int maxArgBytes,
    boolean keepValues) {

  public static final SessionLimits DEFAULTS =
      new SessionLimits(10_000, 512L * 1024 * 1024, 1 << 20, 64, 64 * 1024, 256);

  /** Limits that keep no values. */
  public SessionLimits(int maxPendingRequests, long maxMessageBytes, int maxArrayElements, int maxNesting,
      int maxLineBytes, int maxArgBytes) {
    this(maxPendingRequests, maxMessageBytes, maxArrayElements, maxNesting, maxLineBytes, maxArgBytes, false);
  }

  public SessionLimits withKeepValues(boolean keep) {
    return new SessionLimits(maxPendingRequests, maxMessageBytes, maxArrayElements, maxNesting, maxLineBytes,
        maxArgBytes, keep);
  }
}
