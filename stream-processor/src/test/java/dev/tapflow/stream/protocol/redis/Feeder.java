package dev.tapflow.stream.protocol.redis;

import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.protocol.testing.Chunk;
import dev.tapflow.stream.protocol.testing.SessionFeeder;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * Feeds one connection's chunks to a Redis session the way the connection tracker does
 * ({@link SessionFeeder}), into this package's {@link Recording}.
 */
final class Feeder {
  /** The defaults with values kept: these tests check how arguments are rendered (RedisValuesTest checks the default). */
  static final SessionLimits LIMITS = SessionLimits.DEFAULTS.withKeepValues(true);


  private static final RedisProtocol PROTOCOL = new RedisProtocol();

  static final SessionFeeder.Cuts NONE = SessionFeeder.NONE;
  static final SessionFeeder.Cuts EVERY_BYTE = SessionFeeder.EVERY_BYTE;

  static Recording run(List<Chunk> chunks) {
    return run(chunks, LIMITS, NONE, false);
  }

  /**
   * @param roundTrip write the session state after every piece and continue on a restored copy
   */
  static Recording run(List<Chunk> chunks, SessionLimits limits, SessionFeeder.Cuts cuts, boolean roundTrip) {
    Recording out = new Recording();
    SessionFeeder.feed(SessionFeeder.of(PROTOCOL, limits), chunks, cuts, roundTrip, out);
    return out;
  }

  static ProtocolSession roundTrip(ProtocolSession s, SessionLimits limits) {
    return SessionFeeder.roundTrip(SessionFeeder.of(PROTOCOL, limits), s);
  }

  static long bytes(List<Chunk> chunks, boolean client) {
    return SessionFeeder.bytes(chunks, client);
  }

  /** Runs the connection cut at every offset of both directions (or those {@code which} picks). */
  static void assertSameAtEverySplit(List<Chunk> chunks, Recording expected, IntPredicate which) {
    SessionFeeder.assertSameAtEverySplit(chunks, which, cuts -> {
      Recording r = run(chunks, LIMITS, cuts, false);
      return List.of(r.exchanges, r.anomalies);
    }, List.of(expected.exchanges, expected.anomalies));
  }
}
