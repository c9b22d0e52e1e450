package dev.tapflow.stream.protocol.redis;

import dev.tapflow.stream.protocol.testing.Chunk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tapflow.stream.protocol.ProtocolSession;
import dev.tapflow.stream.protocol.SessionLimits;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.function.IntPredicate;

/**
 * Feeds one connection's chunks to a Redis session the way the connection tracker does
 * (each direction's bytes in order, with stream offsets and the chunk's capture time),
 * optionally cutting chunks into smaller pieces and round-tripping the session state.
 */
final class Feeder {

  private static final RedisProtocol PROTOCOL = new RedisProtocol();

  /** Where to cut: given a direction and a stream offset, cut before that byte? */
  interface Cuts {
    boolean cutBefore(boolean client, long streamOffset);
  }

  static final Cuts NONE = (c, o) -> false;
  static final Cuts EVERY_BYTE = (c, o) -> true;

  static Cuts at(boolean client, long offset) {
    return (c, o) -> c == client && o == offset;
  }

  static Recording run(List<Chunk> chunks) {
    return run(chunks, SessionLimits.DEFAULTS, NONE, false);
  }

  /**
   * @param roundTrip write the session state after every piece and continue on a restored copy
   */
  static Recording run(List<Chunk> chunks, SessionLimits limits, Cuts cuts, boolean roundTrip) {
    Recording out = new Recording();
    ProtocolSession s = PROTOCOL.newSession(limits);
    long clientOffset = 0;
    long serverOffset = 0;
    long lastTs = 0;
    for (Chunk c : chunks) {
      byte[] b = c.bytes();
      long base = c.client() ? clientOffset : serverOffset;
      int start = 0;
      for (int i = 1; i <= b.length; i++) {
        if (i == b.length || cuts.cutBefore(c.client(), base + i)) {
          if (c.client()) {
            s.clientData(b, start, i - start, base + start, c.tsNs(), out);
          } else {
            s.serverData(b, start, i - start, base + start, c.tsNs(), out);
          }
          if (roundTrip) {
            s = roundTrip(s, limits);
          }
          start = i;
        }
      }
      if (c.client()) {
        clientOffset += b.length;
      } else {
        serverOffset += b.length;
      }
      lastTs = c.tsNs();
    }
    s.close(lastTs, out);
    assertEquals(0, s.pendingRequests(), "nothing left over after close");
    return out;
  }

  static ProtocolSession roundTrip(ProtocolSession s, SessionLimits limits) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      s.writeTo(new DataOutputStream(bytes));
      return PROTOCOL.readSession(new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())), limits);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static long bytes(List<Chunk> chunks, boolean client) {
    return chunks.stream().filter(c -> c.client() == client).mapToLong(c -> c.bytes().length).sum();
  }

  /** Runs the connection cut at every offset of both directions (or those {@code which} picks). */
  static void assertSameAtEverySplit(List<Chunk> chunks, Recording expected, IntPredicate which) {
    for (boolean client : new boolean[] {true, false}) {
      long n = bytes(chunks, client);
      for (int k = 1; k < n; k++) {
        if (!which.test(k)) {
          continue;
        }
        Recording r = run(chunks, SessionLimits.DEFAULTS, at(client, k), false);
        assertEquals(expected.exchanges, r.exchanges, (client ? "client" : "server") + " split at " + k);
        assertEquals(expected.anomalies, r.anomalies, (client ? "client" : "server") + " split at " + k);
      }
    }
  }
}
