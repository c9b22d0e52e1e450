package com.example.tapflow.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The plug-in alone, without tapflow: bytes in, exchanges out. Every split of the input gives
 * the same exchanges, and a session written to the store mid-stream and read back goes on.
 * For whole captures, ./try.sh runs tapflow with this plug-in on a pcap of yours.
 */
class KvSessionTest {

  private static final byte[] REQUESTS = "SET k1 v1\r\nGET k1\r\nGET nope\r\nDEL k1\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] ANSWERS = "OK\r\nOK v1\r\nERR not found\r\nOK\r\n".getBytes(StandardCharsets.US_ASCII);

  static final class Recording implements SessionOutput {
    final List<Exchange> exchanges = new ArrayList<>();
    final List<String> anomalies = new ArrayList<>();

    @Override public void exchange(Exchange e) { exchanges.add(e); }

    @Override public void anomaly(String name, boolean clientSide, long offset, String detail) { anomalies.add(name); }
  }

  @Test
  void probeSaysWhoIsTheClient() {
    KvProtocol p = new KvProtocol();
    assertEquals(Protocol.Probe.REQUEST, p.probe(REQUESTS, 0, REQUESTS.length));
    assertEquals(Protocol.Probe.RESPONSE, p.probe(ANSWERS, 0, ANSWERS.length));
    byte[] http = "GET / HTTP/1.1\r\n".getBytes(StandardCharsets.US_ASCII);
    assertEquals(Protocol.Probe.NO, p.probe(http, 0, http.length));
  }

  @Test
  void everySplitGivesTheSameFactsAndStateSurvivesTheStore() throws Exception {
    for (int cut = 0; cut <= REQUESTS.length; cut++) {
      Recording out = new Recording();
      ProtocolSession s = new KvProtocol().newSession(SessionLimits.DEFAULTS);
      s.clientData(REQUESTS, 0, cut, 0, 1_000, out);
      ByteArrayOutputStream state = new ByteArrayOutputStream();
      s.writeTo(new DataOutputStream(state));
      s = new KvProtocol().readSession(new DataInputStream(new ByteArrayInputStream(state.toByteArray())),
          SessionLimits.DEFAULTS);
      s.clientData(REQUESTS, cut, REQUESTS.length - cut, cut, 2_000, out);
      s.serverData(ANSWERS, 0, ANSWERS.length, 0, 3_000, out);
      assertEquals(List.of("SET k1 OK", "GET k1 OK", "GET nope ERROR", "DEL k1 OK"),
          out.exchanges.stream().map(e -> e.command() + " " + e.resource() + " " + e.status()).toList(), "cut " + cut);
      assertEquals("not found", out.exchanges.get(2).error());
      assertEquals(List.of(), out.anomalies);
      assertEquals(0, s.pendingRequests());
    }
  }

  @Test
  void unansweredRequestsTimeOutAtClose() {
    Recording out = new Recording();
    ProtocolSession s = new KvProtocol().newSession(SessionLimits.DEFAULTS);
    s.clientData(REQUESTS, 0, REQUESTS.length, 0, 1_000, out);
    s.close(5_000, out);
    assertEquals(4, out.exchanges.size());
    out.exchanges.forEach(e -> assertEquals(FactStatus.TIMEOUT, e.status()));
  }
}
