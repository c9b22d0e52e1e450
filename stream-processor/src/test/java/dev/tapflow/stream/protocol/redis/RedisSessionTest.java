package dev.tapflow.stream.protocol.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Pairing rules of a session: timeouts and late replies, orphans, gaps, the pending bound. */
class RedisSessionTest {

  /** Drives a session with ASCII strings, keeping stream offsets per direction. */
  private static final class Conn {
    final Recording out = new Recording();
    ProtocolSession s;
    long c;
    long sv;

    Conn(SessionLimits limits) {
      s = new RedisProtocol().newSession(limits);
    }

    Conn client(long ts, String data) {
      byte[] b = data.getBytes(StandardCharsets.ISO_8859_1);
      s.clientData(b, 0, b.length, c, ts, out);
      c += b.length;
      return this;
    }

    Conn server(long ts, String data) {
      byte[] b = data.getBytes(StandardCharsets.ISO_8859_1);
      s.serverData(b, 0, b.length, sv, ts, out);
      sv += b.length;
      return this;
    }
  }

  @Test
  void pipelinedRequestsPairInOrderWithLatencyInputs() {
    Conn k = new Conn(SessionLimits.DEFAULTS)
        .client(10, "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n")
        .server(30, "$1\r\n1\r\n")
        .server(40, "$-1\r\n");
    assertEquals(List.of("GET OK", "GET OK"), k.out.summary());
    Exchange b = k.out.exchanges.get(1);
    assertEquals("b", b.resource());
    assertEquals(20, b.requestOffset());
    assertEquals(10, b.requestLastNs());
    assertEquals(40, b.responseFirstNs());
    assertEquals(5, b.responseBytes());
    assertEquals(0, k.s.pendingRequests());
  }

  @Test
  void respOrphanResponse() {
    // zeek start-with-server: a reply before any request, then a normal exchange
    Conn k = new Conn(SessionLimits.DEFAULTS).server(1, "+OK\r\n").client(2, "SET hello there\r\n").server(3, "+OK\r\n");
    assertEquals(List.of("SET OK"), k.out.summary());
    assertEquals(List.of(RedisSession.ORPHAN_RESPONSE), k.out.anomalyNames());
  }

  @Test
  void replyCapturedBeforeTheRequestEndedCannotAnswerIt() {
    Conn k = new Conn(SessionLimits.DEFAULTS).client(10, "PING\r\n").server(5, "+PONG\r\n");
    assertEquals(List.of(RedisSession.ORPHAN_RESPONSE), k.out.anomalyNames());
    assertEquals(1, k.s.pendingRequests());
  }

  @Test
  void timedOutRequestsKeepTheirLateRepliesFromShiftingPairs() {
    Conn k = new Conn(SessionLimits.DEFAULTS).client(10, "BLPOP q 0\r\n");
    k.s.expire(100, k.out);
    assertEquals(List.of("BLPOP TIMEOUT"), k.out.summary());
    k.client(200, "GET x\r\n").server(300, "*2\r\n$1\r\nq\r\n$1\r\nv\r\n").server(310, "$1\r\ny\r\n");
    assertEquals(List.of("BLPOP TIMEOUT", "GET OK"), k.out.summary());
    assertEquals(7, k.out.exchanges.get(1).responseBytes(), "GET got its own reply, not BLPOP's late one");
    assertEquals(List.of(RedisSession.LATE_RESPONSE), k.out.anomalyNames());
  }

  @Test
  void expireStopsAtTheFirstRequestInsideTheWindow() {
    Conn k = new Conn(SessionLimits.DEFAULTS).client(10, "PING\r\n").client(50, "PING\r\n");
    k.s.expire(20, k.out);
    assertEquals(List.of("PING TIMEOUT"), k.out.summary());
    assertEquals(1, k.s.pendingRequests());
  }

  @Test
  void respTooManyPending() {
    Conn k = new Conn(new SessionLimits(3, 1 << 20, 1000, 8, 1024, 64));
    for (int i = 0; i < 5; i++) {
      k.client(i, "PING\r\n");
    }
    assertEquals(List.of("PING TIMEOUT", "PING TIMEOUT"), k.out.summary());
    assertEquals(List.of(RedisSession.TOO_MANY_PENDING), k.out.anomalyNames(), "one anomaly per overflow episode");
    for (int i = 0; i < 5; i++) {
      k.server(10 + i, "+PONG\r\n");
    }
    assertEquals(5, k.out.exchanges.size(), "the 2 evicted requests' replies are consumed as late");
    assertEquals(0, k.s.pendingRequests());
    for (int i = 0; i < 4; i++) {
      k.client(20 + i, "PING\r\n");
    }
    assertEquals(2, k.out.anomalyNames().stream().filter(RedisSession.TOO_MANY_PENDING::equals).count(),
        "a new episode after the queue drained is reported again");
  }

  @Test
  void clientGapDoesNotShiftPairingForRequestResponseClients() {
    Conn k = new Conn(SessionLimits.DEFAULTS).client(10, "GET a\r\n").server(20, "$1\r\n1\r\n");
    k.s.gap(true, k.c, 30, 30, k.out); // a request lost at capture
    k.c += 30;
    k.server(40, "$1\r\n2\r\n"); // its reply
    k.client(50, "GET c\r\n").server(60, "$1\r\n3\r\n");
    k.client(70, "PING\r\n"); // the client moved on: the reply held behind the gap is GET c's
    assertEquals(List.of("GET OK", "GET OK"), k.out.summary());
    assertEquals("c", k.out.exchanges.get(1).resource());
    assertEquals(60, k.out.exchanges.get(1).responseFirstNs());
    assertEquals(List.of(RedisSession.GAP, RedisSession.RESPONSE_TO_LOST_REQUEST), k.out.anomalyNames());
  }

  @Test
  void serverGapReportsPendingRequestsWithLoss() {
    Conn k = new Conn(SessionLimits.DEFAULTS).client(10, "GET a\r\nGET b\r\n").server(20, "$5\r\nhel");
    k.s.gap(false, k.sv, 100, 30, k.out);
    k.sv += 100;
    k.server(40, "lo\r\n+OK\r\n").client(50, "PING\r\n").server(60, "+PONG\r\n");
    // the cut reply's start was captured: it answers GET a; GET b's reply may have been in the gap
    assertEquals(List.of("GET OK", "GET TIMEOUT", "PING OK"), k.out.summary());
    assertEquals(20, k.out.exchanges.get(0).responseFirstNs());
    assertTrue(k.out.exchanges.get(0).responseGap());
    assertTrue(k.out.exchanges.get(1).responseGap());
    assertEquals(Exchange.Pairing.NONE, k.out.exchanges.get(1).pairing());
    assertEquals(List.of(RedisSession.GAP, RedisSession.ORPHAN_RESPONSE), k.out.anomalyNames());
  }

  @Test
  void gapInsideABulkBodyKeepsTheFramingOnBothSides() {
    Conn k = new Conn(SessionLimits.DEFAULTS).client(10, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n01");
    k.s.gap(true, k.c, 5, 11, k.out); // bytes 2..6 of the value were not captured
    k.c += 5;
    k.client(12, "789\r\n").client(13, "GET k\r\n");
    k.server(20, "+OK\r\n$10\r\n0123").server(21, "");
    k.s.gap(false, k.sv, 4, 22, k.out);
    k.sv += 4;
    k.server(23, "89\r\n");
    assertEquals(List.of("SET OK", "GET OK"), k.out.summary());
    Exchange set = k.out.exchanges.get(0);
    assertTrue(set.requestGap());
    assertFalse(set.responseGap());
    assertEquals(12, set.requestLastNs());
    assertEquals(Exchange.Pairing.ORDER, set.pairing());
    Exchange get = k.out.exchanges.get(1);
    assertFalse(get.requestGap());
    assertTrue(get.responseGap());
    assertEquals(20, get.responseFirstNs());
    assertEquals(23, get.responseLastNs());
    assertEquals(List.of(), k.out.anomalyNames(), "nothing was dropped");
  }

  @Test
  void aRequestCutByAGapKeepsItsPlaceInTheQueue() {
    Conn k = new Conn(SessionLimits.DEFAULTS).client(10, "*2\r\n$3\r\nGET\r\n$5\r\nkey");
    k.s.gap(true, k.c, 40, 11, k.out); // the end of GET's key and whatever followed
    k.c += 40;
    k.server(20, "$1\r\nv\r\n"); // GET's reply: before any later request was complete
    k.client(30, "PING\r\n").server(40, "+PONG\r\n");
    k.s.close(50, k.out);
    assertEquals(List.of("GET OK", "PING OK"), k.out.summary());
    Exchange get = k.out.exchanges.get(0);
    assertTrue(get.requestGap());
    assertEquals(10, get.requestLastNs());
    assertEquals(20, get.responseFirstNs());
    assertEquals(Exchange.Pairing.AFTER_GAP, k.out.exchanges.get(1).pairing());
    assertEquals(List.of(RedisSession.GAP), k.out.anomalyNames());
  }

  @Test
  void requestsLostInsideAPipelineDoNotShiftLaterBatches() {
    // a -P 3 style client: three requests, three replies, then the next three (ECHO's values kept, to tell them apart)
    Conn k = new Conn(SessionLimits.DEFAULTS.withKeepValues(true)).client(10, "PING\r\n");
    k.s.gap(true, k.c, 6, 10, k.out); // the second PING lost by the capture
    k.c += 6;
    k.client(10, "PING\r\n");
    k.server(20, "+PONG\r\n+PONG\r\n+PONG\r\n");
    k.client(30, "ECHO a\r\nECHO b\r\nECHO c\r\n");
    k.server(40, "$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n");
    // the next batch shows the client had all three replies: one was the lost PING's
    assertEquals(List.of("PING OK", "PING OK", "ECHO OK", "ECHO OK", "ECHO OK"), k.out.summary());
    assertEquals(Exchange.Pairing.ORDER, k.out.exchanges.get(0).pairing());
    assertEquals(Exchange.Pairing.AFTER_GAP, k.out.exchanges.get(1).pairing());
    assertEquals(12, k.out.exchanges.get(1).requestOffset(), "the third PING, after the lost second");
    assertEquals(List.of(RedisSession.GAP, RedisSession.RESPONSE_TO_LOST_REQUEST), k.out.anomalyNames());
    for (Exchange e : k.out.exchanges.subList(2, 5)) {
      assertEquals(40, e.responseFirstNs());
      assertEquals(Exchange.Pairing.ORDER, e.pairing());
    }
    assertEquals(List.of("a", "b", "c"), k.out.exchanges.subList(2, 5).stream().map(e -> e.resource() != null ? e.resource() : e.args()).toList());
  }

  @Test
  void implicitGapWhenOffsetsJump() {
    Conn k = new Conn(SessionLimits.DEFAULTS).client(10, "PING\r\n");
    k.c += 1000;
    k.server(20, "+PONG\r\n").client(30, "PING\r\n").server(40, "+PONG\r\n");
    k.s.close(50, k.out); // the reply after the gap is held until the client moves on, or the end
    assertEquals(List.of("PING OK", "PING OK"), k.out.summary());
    assertEquals(List.of(RedisSession.GAP), k.out.anomalyNames());
  }

  @Test
  void closeReportsEverythingPendingAsTimeout() {
    Conn k = new Conn(SessionLimits.DEFAULTS).client(10, "PING\r\nPING\r\n*2\r\n$3\r\nGET");
    k.s.close(20, k.out);
    assertEquals(List.of("PING TIMEOUT", "PING TIMEOUT"), k.out.summary());
    assertEquals(List.of(RedisSession.INCOMPLETE_AT_CLOSE), k.out.anomalyNames());
  }

  @Test
  void multiQueuesSubscribeLikeAnyCommand() {
    Conn k = new Conn(SessionLimits.DEFAULTS)
        .client(1, "MULTI\r\nSUBSCRIBE ch\r\nDISCARD\r\n").server(2, "+OK\r\n+QUEUED\r\n+OK\r\n");
    assertEquals(List.of("MULTI OK", "SUBSCRIBE OK", "DISCARD OK"), k.out.summary());
  }

  @Test
  void resp2MessageShapedReplyOutsideSubscribeModeIsAReply() {
    Conn k = new Conn(SessionLimits.DEFAULTS)
        .client(1, "LRANGE l 0 -1\r\n").server(2, "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n");
    assertEquals(List.of("LRANGE OK"), k.out.summary());
  }

  @Test
  void subscribeWithoutChannelsIsAnsweredWithAnError() {
    Conn k = new Conn(SessionLimits.DEFAULTS)
        .client(1, "SUBSCRIBE\r\n").server(2, "-ERR wrong number of arguments for 'subscribe' command\r\n");
    assertEquals(List.of("SUBSCRIBE ERROR"), k.out.summary());
  }

  @Test
  void helloAuthAndInlineAuthAreRedacted() {
    Conn k = new Conn(SessionLimits.DEFAULTS)
        .client(1, "AUTH hunter2\r\nhello 3 auth bob hunter2 setname x\r\nCONFIG SET requirepass hunter2\r\n")
        .server(2, "+OK\r\n%1\r\n+proto\r\n:3\r\n+OK\r\n");
    assertEquals(List.of("AUTH OK", "HELLO OK", "CONFIG OK"), k.out.summary());
    for (Exchange e : k.out.exchanges) {
      assertTrue(e.toString().indexOf("hunter2") < 0, e.toString());
    }
    assertEquals("3 auth <redacted> <redacted> setname x", k.out.exchanges.get(1).args());
  }

  @Test
  void randomTrafficNeverThrowsAndStaysBounded() throws IOException {
    SessionLimits limits = new SessionLimits(16, 4096, 64, 8, 256, 32);
    Random rnd = new Random(7);
    String[] pieces = {"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "PING\r\n", "+OK\r\n", "-ERR x\r\n", ":1\r\n",
        "$3\r\nabc\r\n", ">2\r\n+message\r\n+x\r\n", "|1\r\n+a\r\n+b\r\n", "CLIENT REPLY OFF\r\n",
        "CLIENT REPLY ON\r\n", "SUBSCRIBE a b\r\n", "RESET\r\n", "*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n",
        "\"unbalanced\r\n", "*99999999\r\n", "$-5\r\n", "\u0000\u00ff\r\n", "*1\r\n*1\r\n*1\r\n"};
    for (int round = 0; round < 200; round++) {
      ProtocolSession s = new RedisProtocol().newSession(limits);
      Recording out = new Recording();
      long[] off = new long[2];
      for (int step = 0; step < 300; step++) {
        boolean client = rnd.nextBoolean();
        byte[] b;
        if (rnd.nextInt(4) == 0) {
          b = new byte[rnd.nextInt(40)];
          rnd.nextBytes(b);
        } else {
          b = pieces[rnd.nextInt(pieces.length)].getBytes(StandardCharsets.ISO_8859_1);
        }
        int i = client ? 0 : 1;
        if (rnd.nextInt(50) == 0) {
          s.gap(client, off[i], 10, step, out);
          off[i] += 10;
        }
        if (client) {
          s.clientData(b, 0, b.length, off[i], step, out);
        } else {
          s.serverData(b, 0, b.length, off[i], step, out);
        }
        off[i] += b.length;
        if (step % 37 == 0) {
          s.expire(step - 20, out);
        }
        if (step % 11 == 0) {
          s = Feeder.roundTrip(s, limits);
        }
        assertTrue(s.pendingRequests() <= limits.maxPendingRequests());
      }
      ByteArrayOutputStream state = new ByteArrayOutputStream();
      s.writeTo(new DataOutputStream(state));
      assertTrue(state.size() < 64 * 1024, "state stays bounded: " + state.size());
      s.close(1000, out);
      assertEquals(0, s.pendingRequests());
      for (Exchange e : out.exchanges) {
        assertTrue(e.status() != null && e.command() != null);
        assertTrue(e.args() == null || e.args().length() <= limits.maxArgBytes() + 3);
        assertTrue(e.status() == FactStatus.TIMEOUT || e.status() == FactStatus.NO_REPLY || e.hasResponse());
      }
    }
  }
}
