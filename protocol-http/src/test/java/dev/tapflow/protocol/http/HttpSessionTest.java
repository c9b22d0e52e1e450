package dev.tapflow.protocol.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
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
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * HTTP/1.1 framing and pairing on hand-written exchanges (the nginx capture is checked against
 * nginx's access log in the cli module's {@code HttpFixtureTruthTest}). Every exchange is fed
 * whole and split at every offset, with the session written to the state store and read back at
 * the split: the facts are the same.
 */
class HttpSessionTest {

  static final class Recording implements SessionOutput {
    final List<Exchange> exchanges = new ArrayList<>();
    final List<String> anomalies = new ArrayList<>();

    @Override public void exchange(Exchange e) { exchanges.add(e); }

    @Override public void anomaly(String name, boolean c, long offset, String detail) { anomalies.add(name); }
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  private static ProtocolSession roundTrip(ProtocolSession s) {
    try {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      s.writeTo(new DataOutputStream(b));
      return new HttpProtocol().readSession(new DataInputStream(new ByteArrayInputStream(b.toByteArray())),
          SessionLimits.DEFAULTS);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Client bytes at t=1 (split at {@code cut} with a store round trip), then server bytes at t=2. */
  private static Recording run(String client, String server, int cut) {
    byte[] c = ascii(client);
    byte[] s = ascii(server);
    Recording out = new Recording();
    ProtocolSession session = new HttpProtocol().newSession(SessionLimits.DEFAULTS);
    session.clientData(c, 0, cut, 0, 1, out);
    session = roundTrip(session);
    session.clientData(c, cut, c.length - cut, cut, 1, out);
    int half = s.length / 2;
    session.serverData(s, 0, half, 0, 2, out);
    session = roundTrip(session);
    session.serverData(s, half, s.length - half, half, 3, out);
    session.close(4, out);
    return out;
  }

  /** Facts as "command resource status code", the same for every split. */
  private static List<String> facts(String client, String server) {
    List<String> first = null;
    for (int cut = 0; cut <= client.length(); cut++) {
      Recording r = run(client, server, cut);
      assertEquals(List.of(), r.anomalies, "cut " + cut);
      List<String> f = r.exchanges.stream().map(e -> e.command() + " " + e.resource() + " " + e.status() + " "
          + e.detail().get("status_code")).toList();
      if (first == null) {
        first = f;
      }
      assertEquals(first, f, "cut " + cut);
    }
    return first;
  }

  @Test
  void pipelinedRequestsPairInOrderAndQueryStringsAreDropped() {
    String client = "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        + "POST /c HTTP/1.1\r\nContent-Length: 5\r\nAuthorization: Basic c2VjcmV0\r\nCookie: s=secret\r\n\r\nhello";
    String server = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        + "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        + "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: x\r\n\r\n";
    assertEquals(List.of("GET GET /a OK 200", "GET GET /b ERROR 404", "POST POST /c OK 201"), facts(client, server));
    Recording r = run(client, server, 0);
    assertEquals("404 Not Found", r.exchanges.get(1).error());
    assertEquals("3", r.exchanges.get(2).detail().get("body_bytes"));
    assertEquals("true", r.exchanges.get(2).detail().get("chunked"));
    assertFalse(r.exchanges.toString().contains("secret") || r.exchanges.toString().contains("c2VjcmV0"));
  }

  @Test
  void headResponsesHaveNoBodyWhateverTheirContentLength() {
    String client = "HEAD /big HTTP/1.1\r\n\r\nGET /small HTTP/1.1\r\n\r\n";
    String server = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
    assertEquals(List.of("HEAD HEAD /big OK 200", "GET GET /small OK 200"), facts(client, server));
  }

  @Test
  void anInterimContinueIsNotTheAnswerAndLatencyCountsFromTheBody() {
    ProtocolSession s = new HttpProtocol().newSession(SessionLimits.DEFAULTS);
    Recording out = new Recording();
    byte[] head = ascii("PUT /up HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
    s.clientData(head, 0, head.length, 0, 10, out);
    byte[] interim = ascii("HTTP/1.1 100 Continue\r\n\r\n");
    s.serverData(interim, 0, interim.length, 0, 20, out);
    s.clientData(ascii("data"), 0, 4, head.length, 30, out);
    byte[] fin = ascii("HTTP/1.1 204 No Content\r\n\r\n");
    s.serverData(fin, 0, fin.length, interim.length, 40, out);
    assertEquals(1, out.exchanges.size());
    Exchange e = out.exchanges.get(0);
    assertEquals("PUT /up", e.resource());
    assertEquals(30, e.requestLastNs());
    assertEquals(40, e.responseFirstNs(), "the 100 Continue at t=20 is not the answer");
    assertEquals("100", e.detail().get("interim"));
    assertEquals(List.of(), out.anomalies);
  }

  @Test
  void afterAnUpgradeNothingIsDecoded() {
    String client = "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    String server = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u0081\u0005hello GET / HTTP/1.1\r\n\r\n";
    Recording out = run(client + "\u0081\u0085maskGET /x HTTP/1.1\r\n\r\n", server, client.length());
    assertEquals(1, out.exchanges.size(), out.exchanges.toString());
    assertEquals("websocket", out.exchanges.get(0).detail().get("upgrade"));
    assertEquals(List.of(), out.anomalies);
  }

  @Test
  void aRefusedUpgradeLeavesTheConnectionHttp() {
    ProtocolSession s = new HttpProtocol().newSession(SessionLimits.DEFAULTS);
    Recording out = new Recording();
    byte[] up = ascii("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
    s.clientData(up, 0, up.length, 0, 1, out);
    byte[] no = ascii("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    s.serverData(no, 0, no.length, 0, 2, out);
    byte[] next = ascii("GET /next HTTP/1.1\r\n\r\n");
    s.clientData(next, 0, next.length, up.length, 3, out);
    byte[] ok = ascii("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    s.serverData(ok, 0, ok.length, no.length, 4, out);
    assertEquals(List.of("GET /ws ERROR", "GET /next OK"),
        out.exchanges.stream().map(e -> e.resource() + " " + e.status()).toList());
    assertEquals(List.of(), out.anomalies);
  }

  @Test
  void aResponseWithoutLengthEndsWithTheConnection() {
    Recording out = run("GET / HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK\r\n\r\nbody until close", 0);
    assertEquals(1, out.exchanges.size());
    assertEquals(FactStatus.OK, out.exchanges.get(0).status());
    assertEquals("16", out.exchanges.get(0).detail().get("body_bytes"));
  }

  @Test
  void aGapInsideABodyKeepsTheFramingAndMarksTheMessage() {
    ProtocolSession s = new HttpProtocol().newSession(SessionLimits.DEFAULTS);
    Recording out = new Recording();
    byte[] req = ascii("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
    s.clientData(req, 0, req.length, 0, 1, out);
    byte[] head = ascii("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
    s.serverData(head, 0, head.length, 0, 2, out);
    s.gap(false, head.length, 60, 3, out);
    byte[] rest = ascii("x".repeat(40) + "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    s.serverData(rest, 0, rest.length, head.length + 60, 4, out);
    assertEquals(2, out.exchanges.size());
    assertTrue(out.exchanges.get(0).responseGap());
    assertFalse(out.exchanges.get(1).responseGap());
    assertEquals("GET /b", out.exchanges.get(1).resource());
  }

  @Test
  void badInputIsAnAnomalyAndTheDecoderFindsTheNextMessage() {
    ProtocolSession s = new HttpProtocol().newSession(SessionLimits.DEFAULTS);
    Recording out = new Recording();
    byte[] c = ascii("\u0000\u0001junk\r\nGET /ok HTTP/1.1\r\n\r\n");
    s.clientData(c, 0, c.length, 0, 1, out);
    byte[] r = ascii("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    s.serverData(r, 0, r.length, 0, 2, out);
    assertEquals(List.of(HttpDecoder.BAD_START_LINE), out.anomalies);
    assertEquals(1, out.exchanges.size());
    assertEquals("GET /ok", out.exchanges.get(0).resource());
  }

  /** Facts and anomalies of one client stream fed in pieces of {@code piece} bytes, with a server answering each. */
  private static List<String> fedInPieces(byte[] c, byte[] s, int piece, SessionLimits limits) {
    List<String> seen = new ArrayList<>();
    SessionOutput out = new SessionOutput() {
      @Override public void exchange(Exchange e) {
        seen.add(e.command() + " " + e.resource() + " " + e.status() + " " + e.requestOffset() + " " + e.requestBytes());
      }

      @Override public void anomaly(String name, boolean client, long offset, String detail) {
        seen.add(name + " @" + offset);
      }
    };
    ProtocolSession session = new HttpProtocol().newSession(limits);
    for (int at = 0; at < c.length; at += piece) {
      session.clientData(c, at, Math.min(piece, c.length - at), at, 1, out);
    }
    session.serverData(s, 0, s.length, 0, 2, out);
    session.close(3, out);
    return seen;
  }

  /**
   * A head longer than the limit is one anomaly, and the next request is found; a line is
   * taken in at once up to its LF, so the same facts and anomalies come whatever the pieces.
   */
  @Test
  void aHeadOverTheLimitIsSkippedWhateverThePieces() {
    SessionLimits small = new SessionLimits(8, 4096, 64, 8, 100, 64);
    String longHeader = "X-Long: " + "v".repeat(150) + "\r\n";
    String client = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        + "\r\n\r\nGET /too-long HTTP/1.1\r\n" + longHeader + "\r\n"
        + "GET /b HTTP/1.1\r\nHost: h\r\n" + "Y: " + "w".repeat(60) + "\r\n\r\n"
        + "PUT /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
        + "GET /" + "p".repeat(120) + " HTTP/1.1\r\n\r\n"
        + "GET /d HTTP/1.1\r\n\r\n";
    String ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    byte[] c = ascii(client);
    byte[] s = ascii(ok.repeat(4));
    List<String> whole = fedInPieces(c, s, c.length, small);
    assertEquals(2, whole.stream().filter(f -> f.startsWith(HttpDecoder.HEAD_TOO_LONG)).count(), whole::toString);
    assertTrue(whole.stream().anyMatch(f -> f.contains(" /d OK ")), whole::toString);
    assertTrue(whole.stream().anyMatch(f -> f.contains(" /c OK ")), whole::toString);
    for (int piece : new int[] {1, 2, 3, 7, 16, 99, 100, 101, 150}) {
      assertEquals(whole, fedInPieces(c, s, piece, small), "pieces of " + piece);
    }
  }

  @Test
  void probe() {
    HttpProtocol p = new HttpProtocol();
    byte[] req = ascii("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    byte[] resp = ascii("HTTP/1.1 200 OK\r\n");
    byte[] redis = ascii("*1\r\n$4\r\nPING\r\n");
    byte[] partial = ascii("GET /index.html HT");
    assertEquals(Protocol.Probe.REQUEST, p.probe(req, 0, req.length));
    assertEquals(Protocol.Probe.RESPONSE, p.probe(resp, 0, resp.length));
    assertEquals(Protocol.Probe.NO, p.probe(redis, 0, redis.length));
    assertEquals(Protocol.Probe.NO, p.probe(partial, 0, partial.length));
  }

  /**
   * A request whose Authorization and Cookie headers are cut inside their values, the state
   * saved at every cut (it goes to a changelog topic): no saved state holds the token, and the
   * facts are those of the uncut request.
   */
  @Test
  void credentialHeadersAreNotInSavedState() throws IOException {
    String token = "tapflow-http-bearer-T0k3nQ";
    String cookie = "session=tapflow-http-cookie-C00k1e";
    String client = "GET /private HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer " + token + "\r\nCookie: " + cookie
        + "\r\n\r\n";
    String server = "HTTP/1.1 200 OK\r\nSet-Cookie: " + cookie + "\r\nContent-Length: 0\r\n\r\n";
    List<String> expected = facts(client, server);
    for (int cut = 0; cut <= client.length(); cut++) {
      ProtocolSession s = new HttpProtocol().newSession(SessionLimits.DEFAULTS);
      Recording out = new Recording();
      byte[] c = ascii(client);
      s.clientData(c, 0, cut, 0, 1, out);
      String saved = state(s);
      assertFalse(saved.contains(token.substring(0, 8)) || saved.contains(token.substring(token.length() - 8)), "cut " + cut);
      assertFalse(saved.contains("C00k1e") || saved.contains("session="), "cut " + cut);
    }
    byte[] sv = ascii(server);
    for (int cut = 0; cut <= sv.length; cut++) {
      ProtocolSession s = new HttpProtocol().newSession(SessionLimits.DEFAULTS);
      Recording out = new Recording();
      s.clientData(ascii(client), 0, client.length(), 0, 1, out);
      s.serverData(sv, 0, cut, 0, 2, out);
      assertFalse(state(s).contains("C00k1e"), "server cut " + cut);
    }
    assertEquals(1, expected.size(), expected.toString());
  }

  private static String state(ProtocolSession s) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    s.writeTo(new DataOutputStream(b));
    return b.toString(StandardCharsets.ISO_8859_1);
  }
}
