package dev.tapflow.protocol.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Hostile input for the HTTP/1.1 plug-in's session (Jazzer). Under plain {@code mvn test} it
 * runs its committed corpus ({@code src/test/resources/dev/tapflow/protocol/http/HttpFuzzTestInputs/
 * httpSession/}); with {@code JAZZER_FUZZ=1} it fuzzes ({@code scripts/fuzz.sh}). The input
 * picks, step by step, raw bytes or pieces of HTTP grammar (request and status lines, headers
 * such as Content-Length and Transfer-Encoding: chunked, chunk sizes, upgrades) for either
 * side, gaps, time passing and a state save/restore. Properties: nothing throws, the state
 * reads back as it was written, pending requests stay within the limit, and every exchange's
 * times and offsets are sane.
 */
class HttpFuzzTest {

  /** Small limits, so that the fuzzer reaches them. */
  private static final SessionLimits LIMITS = new SessionLimits(8, 4096, 64, 8, 256, 64);
  private static final Pattern ANOMALY_NAME = Pattern.compile("[A-Z0-9_]+");
  /** Names already matched, by identity (they are constants): Jazzer hooks every regex match. */
  private static final String[] MATCHED = new String[64];
  private static final String[] PIECES = {
      "GET / HTTP/1.1\r\n", "POST /p?q=1 HTTP/1.1\r\n", "HEAD /h HTTP/1.1\r\n", "PUT /x HTTP/1.0\r\n",
      "HTTP/1.1 200 OK\r\n", "HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 101 Switching Protocols\r\n",
      "HTTP/1.0 404 Not Found\r\n", "HTTP/1.1 204 No Content\r\n", "HTTP/1.1 304 Not Modified\r\n",
      "Host: h\r\n", "Content-Length: ", "Transfer-Encoding: chunked\r\n", "Connection: close\r\n",
      "Connection: Upgrade\r\nUpgrade: websocket\r\n", "Expect: 100-continue\r\n", "\r\n", "0\r\n\r\n",
      "5\r\nhello\r\n", "ffffffffffffffff\r\n", "-1\r\n", "3;ext=1\r\nabc\r\n", "Trailer: x\r\n",
      "Content-Length: 5\r\nContent-Length: 6\r\n", "Authorization: Basic c2VjcmV0\r\n", "1", "99999999999", " "};

  @FuzzTest(maxDuration = "10s")
  void httpSession(FuzzedDataProvider data) throws IOException {
    HttpProtocol protocol = new HttpProtocol();
    ProtocolSession s = protocol.newSession(LIMITS);
    Checking out = new Checking();
    long[] offset = new long[2];
    long ts = 1_000;
    while (data.remainingBytes() > 0) {
      int op = data.consumeInt(0, 7);
      ts += data.consumeInt(0, 1_000_000);
      boolean client = data.consumeBoolean();
      int side = client ? 0 : 1;
      byte[] b = switch (op) {
        case 0, 1, 2 -> PIECES[data.consumeInt(0, PIECES.length - 1)].getBytes(StandardCharsets.ISO_8859_1);
        case 3 -> data.consumeAsciiString(200).getBytes(StandardCharsets.ISO_8859_1);
        case 4 -> data.consumeBytes(data.consumeInt(0, 300));
        default -> null;
      };
      if (b != null) {
        if (client) {
          s.clientData(b, 0, b.length, offset[side], ts, out);
        } else {
          s.serverData(b, 0, b.length, offset[side], ts, out);
        }
        offset[side] += b.length;
      } else if (op == 5) {
        long len = data.consumeLong(1, 1L << 40);
        s.gap(client, offset[side], len, ts, out);
        offset[side] += len;
      } else if (op == 6) {
        s.expire(ts - data.consumeLong(0, 10_000_000), out);
      } else {
        s = roundTrip(protocol, s);
      }
      int pending = s.pendingRequests();
      assertTrue(pending <= LIMITS.maxPendingRequests() + 1, () -> "pending " + pending);
    }
    s.close(ts, out);
    assertEquals(0, s.pendingRequests());
  }

  /** Saves, reads back, and checks the copy saves to the same bytes: what a restart does. */
  private static ProtocolSession roundTrip(HttpProtocol protocol, ProtocolSession s) throws IOException {
    byte[] first = bytes(s);
    ProtocolSession restored = protocol.readSession(new DataInputStream(new ByteArrayInputStream(first)), LIMITS);
    assertArrayEquals(first, bytes(restored), "state reads back as written");
    return restored;
  }

  private static byte[] bytes(ProtocolSession s) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    s.writeTo(new DataOutputStream(b));
    return b.toByteArray();
  }

  /** Checks every exchange and anomaly as it is reported. */
  private static final class Checking implements SessionOutput {
    @Override
    public void exchange(Exchange e) {
      // messages built only on failure: a fuzzer runs this millions of times
      assertTrue(e.requestLastNs() >= e.requestFirstNs(), e::toString);
      assertTrue(e.requestOffset() >= 0, e::toString);
      if (e.hasResponse()) {
        assertTrue(e.responseLastNs() >= e.responseFirstNs(), e::toString);
      }
      assertTrue(e.command() != null, e::toString);
    }

    @Override
    public void anomaly(String name, boolean clientSide, long streamOffset, String detail) {
      int slot = System.identityHashCode(name) & (MATCHED.length - 1);
      if (MATCHED[slot] != name) {
        assertTrue(ANOMALY_NAME.matcher(name).matches(), name);
        MATCHED[slot] = name;
      }
    }
  }
}
