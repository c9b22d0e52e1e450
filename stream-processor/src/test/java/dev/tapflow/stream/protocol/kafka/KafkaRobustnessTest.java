package dev.tapflow.stream.protocol.kafka;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.protocol.testing.Chunk;
import dev.tapflow.stream.protocol.testing.SessionFeeder;
import dev.tapflow.stream.protocol.testing.SessionRecording;
import dev.tapflow.stream.testing.PropertyCheck;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Real frames from the fixtures, mutated at random (bytes flipped, sizes and header fields
 * overwritten, bytes inserted and deleted, chunks cut short or repeated, gaps declared), fed
 * to a session with small bounds and its state saved and restored at random points: it never
 * throws, its pending queue and its state stay within their bounds, and what it reports is
 * well formed. A failure names the seed that replays it ({@code -Dtapflow.seed=...}).
 */
class KafkaRobustnessTest {

  private static final SessionLimits SMALL = new SessionLimits(16, 64 * 1024, 1 << 20, 64, 65536, 64);
  private static final Set<String> ANOMALIES = Set.of(KafkaSession.ORPHAN_RESPONSE, KafkaSession.RESPONSE_TO_LOST_REQUEST,
      KafkaSession.MISSING_RESPONSE, KafkaSession.DUPLICATE_CORRELATION_ID, KafkaSession.TOO_MANY_PENDING,
      KafkaSession.BAD_BODY, KafkaSession.GAP, KafkaSession.INCOMPLETE_AT_CLOSE, KafkaSession.BAD_FRAME,
      KafkaSession.FRAME_TOO_LARGE);

  private static final List<List<Chunk>> CONNECTIONS = connections();

  private static List<List<Chunk>> connections() {
    List<List<Chunk>> out = new ArrayList<>();
    try {
      for (String name : KafkaFixtures.NAMES) {
        out.addAll(KafkaFixtures.load(name).values());
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** One change to one chunk. */
  record Mutation(int kind, int chunk, int pos, int value) {}

  record Case(int connection, int maxDecoded, long feedSeed, List<Mutation> mutations) {
    @Override
    public String toString() {
      return "connection " + connection + ", maxDecoded " + maxDecoded + ", feed seed " + feedSeed + ", " + mutations;
    }
  }

  private static Case generate(SplittableRandom r) {
    int conn = r.nextInt(CONNECTIONS.size());
    int chunks = CONNECTIONS.get(conn).size();
    List<Mutation> m = new ArrayList<>();
    int n = 1 + r.nextInt(6);
    for (int i = 0; i < n; i++) {
      m.add(new Mutation(r.nextInt(7), r.nextInt(chunks), r.nextInt(1 << 16), r.nextInt()));
    }
    return new Case(conn, r.nextBoolean() ? 96 : KafkaDecoder.DEFAULT_MAX_DECODED_FRAME, r.nextLong(), m);
  }

  private static List<Case> shrink(Case c) {
    List<Case> out = new ArrayList<>();
    for (int i = 0; i < c.mutations().size(); i++) {
      List<Mutation> fewer = new ArrayList<>(c.mutations());
      fewer.remove(i);
      if (!fewer.isEmpty()) {
        out.add(new Case(c.connection(), c.maxDecoded(), c.feedSeed(), fewer));
      }
    }
    return out;
  }

  /** The connection's chunks with the mutations applied; kind 6 marks a gap before the chunk. */
  private static List<Chunk> mutate(Case c, List<Integer> gapsBefore) {
    List<Chunk> chunks = new ArrayList<>(CONNECTIONS.get(c.connection()));
    for (Mutation m : c.mutations()) {
      Chunk ch = chunks.get(m.chunk());
      byte[] b = ch.bytes().clone();
      if (b.length == 0 && m.kind() != 2) {
        continue; // an earlier mutation emptied the chunk: only an insertion applies
      }
      int p = b.length == 0 ? 0 : m.pos() % b.length;
      switch (m.kind()) {
        case 0 -> b[p] ^= (byte) (1 << (m.value() & 7)); // one bit
        case 1 -> { // a size or header field overwritten (aligned on frame-ish boundaries often enough)
          for (int i = 0; i < 4 && p + i < b.length; i++) {
            b[p + i] = (byte) (m.value() >>> (24 - 8 * i));
          }
        }
        case 2 -> { // bytes inserted
          byte[] ins = new byte[1 + (m.value() & 31)];
          Arrays.fill(ins, (byte) m.value());
          byte[] nb = new byte[b.length + ins.length];
          System.arraycopy(b, 0, nb, 0, p);
          System.arraycopy(ins, 0, nb, p, ins.length);
          System.arraycopy(b, p, nb, p + ins.length, b.length - p);
          b = nb;
        }
        case 3 -> { // bytes deleted
          int len = Math.min(b.length - p, 1 + (m.value() & 63));
          byte[] nb = new byte[b.length - len];
          System.arraycopy(b, 0, nb, 0, p);
          System.arraycopy(b, p + len, nb, p, b.length - p - len);
          b = nb;
        }
        case 4 -> b = Arrays.copyOf(b, p); // cut short
        case 5 -> chunks.add(m.chunk(), ch); // sent twice
        default -> gapsBefore.add(m.chunk());
      }
      chunks.set(m.chunk(), new Chunk(ch.connection(), ch.client(), ch.tsNs(), b));
    }
    return chunks;
  }

  private static void check(Case c) {
    List<Integer> gaps = new ArrayList<>();
    List<Chunk> chunks = mutate(c, gaps);
    SessionFeeder.Sessions sessions = KafkaFixtures.sessions(SMALL, c.maxDecoded());
    SplittableRandom feed = new SplittableRandom(c.feedSeed());
    SessionRecording out = new SessionRecording();
    ProtocolSession s = sessions.create();
    long[] offset = new long[2];
    for (int i = 0; i < chunks.size(); i++) {
      Chunk ch = chunks.get(i);
      int d = ch.client() ? 0 : 1;
      if (gaps.contains(i)) {
        long len = 1 + feed.nextInt(200);
        s.gap(ch.client(), offset[d], len, ch.tsNs(), out);
        offset[d] += len;
      }
      byte[] b = ch.bytes();
      int start = 0;
      while (start < b.length) {
        int n = 1 + feed.nextInt(Math.max(1, b.length - start));
        if (ch.client()) {
          s.clientData(b, start, n, offset[d] + start, ch.tsNs(), out);
        } else {
          s.serverData(b, start, n, offset[d] + start, ch.tsNs(), out);
        }
        start += n;
        assertTrue(s.pendingRequests() <= SMALL.maxPendingRequests(), "pending bounded");
        if (feed.nextInt(8) == 0) {
          assertTrue(stateSize(s) <= 2L * c.maxDecoded() + 64 * 1024, "state bounded: " + stateSize(s));
          s = SessionFeeder.roundTrip(sessions, s);
        }
      }
      offset[d] += b.length;
    }
    s.close(chunks.get(chunks.size() - 1).tsNs(), out);
    assertTrue(s.pendingRequests() == 0);
    for (SessionRecording.Anomaly a : out.anomalies) {
      assertTrue(ANOMALIES.contains(a.name()), a.toString());
    }
    for (Exchange x : out.exchanges) {
      assertNotNull(x.command());
      assertTrue(x.resource() == null || x.resource().length() <= KafkaResource.MAX_CHARS + 3, x.resource());
      assertTrue(x.args() == null || x.args().length() <= SMALL.maxArgBytes() + 3, x.args());
      assertTrue(x.detail().size() <= 8, x.detail().toString());
      x.detail().values().forEach(v -> assertTrue(v.length() <= 200, v));
    }
  }

  private static long stateSize(ProtocolSession s) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      s.writeTo(new DataOutputStream(bytes));
      return bytes.size();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Test
  void mutatedRealFramesNeverThrowAndStayBounded() {
    PropertyCheck.forAll(1000, KafkaRobustnessTest::generate, KafkaRobustnessTest::shrink, KafkaRobustnessTest::check);
  }

  /** Pure noise, in pieces of every size: nothing but bad-frame anomalies, no facts, nothing held. */
  @Test
  void noiseIsNeverAFrame() {
    PropertyCheck.forAll(200, r -> r.nextLong(), List::of, seed -> {
      SplittableRandom r = new SplittableRandom(seed);
      byte[] noise = new byte[1 + r.nextInt(20_000)];
      for (int i = 0; i < noise.length; i++) {
        noise[i] = (byte) r.nextInt(256);
      }
      SessionRecording out = new SessionRecording();
      ProtocolSession s = new KafkaSession(SMALL);
      s.clientData(noise, 0, noise.length, 0, 1, out);
      s.serverData(noise, 0, noise.length, 0, 1, out);
      s.close(2, out);
      assertTrue(out.exchanges.isEmpty(), out.exchanges.toString());
      assertTrue(stateSize(s) < 200);
    });
  }
}
