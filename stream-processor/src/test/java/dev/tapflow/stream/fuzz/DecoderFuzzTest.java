package dev.tapflow.stream.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.stream.protocol.Protocols;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import dev.tapflow.stream.protocol.kafka.KafkaProtocol;
import dev.tapflow.stream.protocol.memcached.MemcachedProtocol;
import dev.tapflow.stream.protocol.redis.RedisProtocol;
import dev.tapflow.stream.tcp.ConnectionTracker;
import dev.tapflow.stream.tcp.ReassemblyLimits;
import java.io.IOException;
import java.util.Map;

/**
 * Hostile input for the decoders and the TCP tracker (Jazzer). Under plain {@code mvn test}
 * each runs its committed corpus ({@code src/test/resources/dev/tapflow/stream/fuzz/
 * DecoderFuzzTestInputs/<method>/}) as regression tests; with {@code JAZZER_FUZZ=1} one of
 * them fuzzes (e.g. {@code JAZZER_FUZZ=1 mvn -pl stream-processor test -Dtest=DecoderFuzzTest#redisSession}).
 * Properties: nothing throws, state always reads back as it was written, pending requests
 * never exceed the limit, and every fact's times and offsets are sane.
 */
class DecoderFuzzTest {

  /** Small limits, so that the fuzzer reaches them. */
  private static final SessionLimits LIMITS = new SessionLimits(8, 4096, 64, 8, 256, 64);

  /** Names already checked, by identity: they are constants, and a fuzzer calls this millions of times. */
  private static final String[] CHECKED_NAMES = new String[64];

  /**
   * [A-Z0-9_]+, checked once per name String: a regex here was 6% of a memcachedSession run
   * (Jazzer hooks every match), a char loop 10% (it traces every compare).
   */
  static boolean anomalyName(String name) {
    int slot = System.identityHashCode(name) & (CHECKED_NAMES.length - 1);
    if (CHECKED_NAMES[slot] == name) {
      return true;
    }
    if (name.isEmpty()) {
      return false;
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (!(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_')) {
        return false;
      }
    }
    CHECKED_NAMES[slot] = name;
    return true;
  }

  /** Checks every exchange and anomaly as it is reported (also used by {@link DatagramAndReassemblyFuzzTest}). */
  static final class Checking implements SessionOutput {
    int exchanges;

    @Override
    public void exchange(Exchange e) {
      exchanges++;
      // messages built only on failure: a fuzzer runs this millions of times
      assertTrue(e.requestLastNs() >= e.requestFirstNs(), e::toString);
      assertTrue(e.requestOffset() >= 0, e::toString);
      if (e.hasResponse()) {
        assertTrue(e.responseLastNs() >= e.responseFirstNs(), e::toString);
      }
      assertTrue(e.command() != null, e::toString); // may be empty: Redis takes "*1\r\n$0\r\n\r\n" (and rejects it)
    }

    @Override
    public void anomaly(String name, boolean clientSide, long streamOffset, String detail) {
      assertTrue(anomalyName(name), name);
    }
  }

  @FuzzTest(maxDuration = "10s")
  void redisSession(FuzzedDataProvider data) throws IOException {
    session(new RedisProtocol(), data);
  }

  @FuzzTest(maxDuration = "10s")
  void memcachedSession(FuzzedDataProvider data) throws IOException {
    session(new MemcachedProtocol(), data);
  }

  @FuzzTest(maxDuration = "10s")
  void kafkaSession(FuzzedDataProvider data) throws IOException {
    session(new KafkaProtocol(), data);
  }

  /** DNS over TCP: 2-byte length prefixes cut anywhere. */
  @FuzzTest(maxDuration = "10s")
  void dnsSession(FuzzedDataProvider data) throws IOException {
    session(new dev.tapflow.stream.protocol.dns.DnsProtocol(), data);
  }

  /** Chunks to either side, gaps, time passing, and a save/restore, in the order the input says. */
  private static void session(Protocol protocol, FuzzedDataProvider data) throws IOException {
    ProtocolSession s = protocol.newSession(LIMITS);
    Checking out = new Checking();
    long[] offset = new long[2];
    long ts = 1_000;
    while (data.remainingBytes() > 0) {
      int op = data.consumeInt(0, 9);
      ts += data.consumeInt(0, 1_000_000);
      switch (op) {
        case 0, 1, 2, 3 -> {
          byte[] chunk = data.consumeBytes(data.consumeInt(0, 300));
          boolean client = op < 2;
          int side = client ? 0 : 1;
          if (client) {
            s.clientData(chunk, 0, chunk.length, offset[side], ts, out);
          } else {
            s.serverData(chunk, 0, chunk.length, offset[side], ts, out);
          }
          offset[side] += chunk.length;
        }
        case 4 -> {
          boolean client = data.consumeBoolean();
          long len = data.consumeLong(1, 1L << 40);
          s.gap(client, offset[client ? 0 : 1], len, ts, out);
          offset[client ? 0 : 1] += len;
        }
        case 5 -> s.expire(ts - data.consumeLong(0, 10_000_000), out);
        case 6 -> s = roundTrip(protocol, s);
        default -> {
          // an ASCII-ish chunk: reaches text protocol states quicker than random bytes
          String text = data.consumeAsciiString(200);
          byte[] b = text.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
          boolean client = data.consumeBoolean();
          if (client) {
            s.clientData(b, 0, b.length, offset[0], ts, out);
          } else {
            s.serverData(b, 0, b.length, offset[1], ts, out);
          }
          offset[client ? 0 : 1] += b.length;
        }
      }
      int pending = s.pendingRequests();
      assertTrue(pending <= LIMITS.maxPendingRequests() + 1, () -> "pending " + pending);
    }
    s.close(ts, out);
    assertEquals(0, s.pendingRequests());
  }

  private static ProtocolSession roundTrip(Protocol protocol, ProtocolSession s) throws IOException {
    return StateRoundTrip.check(s, ProtocolSession::writeTo, in -> protocol.readSession(in, LIMITS));
  }

  /** Segments of both directions with any sequence numbers, flags and payloads through the whole tracker. */
  @FuzzTest(maxDuration = "10s")
  void connectionTracker(FuzzedDataProvider data) throws IOException {
    ConnectionTracker.Settings settings = new ConnectionTracker.Settings(Protocols.installed(Map.of()), LIMITS,
        new ReassemblyLimits(8192, 16, 50_000_000L));
    ConnectionTracker t = new ConnectionTracker("fuzz", new byte[] {10, 0, 0, 1}, 40000, new byte[] {10, 0, 0, 2}, 6379);
    Checking out = new Checking();
    ConnectionTracker.Output o = new ConnectionTracker.Output() {
      @Override
      public void exchange(dev.tapflow.stream.flow.Flow flow, Exchange exchange) {
        out.exchange(exchange);
      }

      @Override
      public void anomaly(dev.tapflow.stream.flow.Flow flow, String name, boolean clientSide, long streamOffset,
          String detail) {
        out.anomaly(name, clientSide, streamOffset, detail);
      }
    };
    long ts = 1_000;
    long[] seq = {data.consumeLong(0, 0xffffffffL), data.consumeLong(0, 0xffffffffL)};
    while (data.remainingBytes() > 0) {
      boolean aToB = data.consumeBoolean();
      ts += data.consumeInt(0, 200_000_000);
      int flags = data.consumeInt(0, 0x3f);
      int side = aToB ? 0 : 1;
      long s = data.consumeBoolean() ? seq[side] : (seq[side] + data.consumeInt(-5000, 5000)) & 0xffffffffL;
      long ack = data.consumeBoolean() ? seq[1 - side] : data.consumeLong(0, 0xffffffffL);
      byte[] payload = data.consumeBytes(data.consumeInt(0, 400));
      int wireLen = payload.length + (data.consumeBoolean() ? 0 : data.consumeInt(0, 2000));
      t.segment(aToB, ts, s, ack, flags, payload, wireLen, 60_000_000_000L, settings, o);
      seq[side] = (s + wireLen) & 0xffffffffL;
      if (data.consumeInt(0, 15) == 0) {
        t = ConnectionTracker.fromBytes(t.toBytes(), settings);
      }
      if (t.finished()) {
        break;
      }
    }
    t.close(ts, settings, o);
    assertEquals(0, t.pendingRequests());
  }
}
