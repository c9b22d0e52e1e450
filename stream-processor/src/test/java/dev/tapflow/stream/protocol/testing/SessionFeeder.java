package dev.tapflow.stream.protocol.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.function.Function;
import java.util.function.IntPredicate;

/**
 * Feeds one connection's chunks to a protocol session the way the connection tracker does
 * (each direction's bytes in order, with stream offsets and the chunk's capture time),
 * optionally cutting chunks into smaller pieces and round-tripping the session state after
 * every piece. Protocol-neutral: {@link Sessions} says how to make a session and read one
 * back; each protocol's tests keep a thin {@code Feeder} over this.
 */
public final class SessionFeeder {

  private SessionFeeder() {}

  /** How to make a session and how to read one back from its written state. */
  public interface Sessions {
    ProtocolSession create();

    ProtocolSession read(DataInputStream in) throws IOException;
  }

  /** A protocol's own sessions with these limits. */
  public static Sessions of(Protocol protocol, SessionLimits limits) {
    return new Sessions() {
      @Override
      public ProtocolSession create() {
        return protocol.newSession(limits);
      }

      @Override
      public ProtocolSession read(DataInputStream in) throws IOException {
        return protocol.readSession(in, limits);
      }
    };
  }

  /** Where to cut: given a direction and a stream offset, cut before that byte? */
  public interface Cuts {
    boolean cutBefore(boolean client, long streamOffset);
  }

  public static final Cuts NONE = (c, o) -> false;
  public static final Cuts EVERY_BYTE = (c, o) -> true;

  public static Cuts at(boolean client, long offset) {
    return (c, o) -> c == client && o == offset;
  }

  public static SessionRecording run(Sessions sessions, List<Chunk> chunks) {
    return run(sessions, chunks, NONE, false);
  }

  /** @param roundTrip write the session state after every piece and continue on a restored copy */
  public static SessionRecording run(Sessions sessions, List<Chunk> chunks, Cuts cuts, boolean roundTrip) {
    SessionRecording out = new SessionRecording();
    feed(sessions, chunks, cuts, roundTrip, out);
    return out;
  }

  /**
   * Feeds the chunks, then closes the session, and checks nothing is left pending.
   *
   * @return the session after close (for counters a protocol keeps)
   */
  public static ProtocolSession feed(Sessions sessions, List<Chunk> chunks, Cuts cuts, boolean roundTrip,
      SessionOutput out) {
    ProtocolSession s = sessions.create();
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
            s = roundTrip(sessions, s);
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
    return s;
  }

  public static ProtocolSession roundTrip(Sessions sessions, ProtocolSession s) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      s.writeTo(new DataOutputStream(bytes));
      return sessions.read(new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static long bytes(List<Chunk> chunks, boolean client) {
    return chunks.stream().filter(c -> c.client() == client).mapToLong(c -> c.bytes().length).sum();
  }

  /**
   * Runs the connection cut at every offset of both directions (or those {@code which} picks)
   * and checks each run reports what {@code expected} holds.
   *
   * @param run     one run with these cuts, as something comparable (exchanges and anomalies)
   */
  public static void assertSameAtEverySplit(List<Chunk> chunks, IntPredicate which, Function<Cuts, Object> run,
      Object expected) {
    for (boolean client : new boolean[] {true, false}) {
      long n = bytes(chunks, client);
      for (int k = 1; k < n; k++) {
        if (which.test(k)) {
          assertEquals(expected, run.apply(at(client, k)), (client ? "client" : "server") + " split at " + k);
        }
      }
    }
  }

  /** {@link #assertSameAtEverySplit(List, IntPredicate, Function, Object)} for runs recorded by {@link #run}. */
  public static void assertSameAtEverySplit(Sessions sessions, List<Chunk> chunks, SessionRecording expected,
      IntPredicate which) {
    assertSameAtEverySplit(chunks, which, cuts -> {
      SessionRecording r = run(sessions, chunks, cuts, false);
      return List.of(r.exchanges, r.anomalies);
    }, List.of(expected.exchanges, expected.anomalies));
  }
}
