package dev.tapflow.stream.protocol.dns;

import static dev.tapflow.stream.protocol.dns.DnsMessages.concat;
import static dev.tapflow.stream.protocol.dns.DnsMessages.ok;
import static dev.tapflow.stream.protocol.dns.DnsMessages.queryBytes;
import static dev.tapflow.stream.protocol.dns.DnsMessages.tcp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.DatagramSession;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.protocol.testing.DatagramFeeder;
import dev.tapflow.stream.protocol.testing.SessionRecording;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Type;

class DnsSessionTest {

  private static final DnsProtocol DNS = new DnsProtocol();
  private static final long US = 1_000;

  private static DatagramFeeder udp() {
    return new DatagramFeeder(DNS);
  }

  @Test
  void aQueryAndItsResponseAreOneFactPairedById() {
    DatagramFeeder u = udp().client(queryBytes(18439, "google.com.", Type.A), 1000 * US)
        .server(DnsMessages.response(18439, "google.com.", Type.A, Rcode.NOERROR, 16), 62782 * US);
    assertEquals(List.of("A OK"), u.out.summary());
    Exchange e = u.out.exchanges.get(0);
    assertEquals("google.com", e.resource());
    assertEquals(61782 * US, e.responseFirstNs() - e.requestLastNs());
    assertEquals(Exchange.Pairing.ID, e.pairing());
    assertEquals(1, e.requestOffset(), "the query's packet number");
    assertEquals(28, e.requestBytes());
    assertEquals(Map.of("id", "18439", "qclass", "IN", "rcode", "NOERROR", "answers", "16", "transport", "udp"), e.detail());
    assertEquals(0, u.session().pendingRequests());
    assertEquals(List.of(), u.out.anomalies);
  }

  @Test
  void anErrorRcodeIsAnErrorNamedByIt() {
    DatagramFeeder u = udp().client(queryBytes(681, "nothing.elastic.co.", Type.A), 0)
        .server(DnsMessages.response(681, "nothing.elastic.co.", Type.A, Rcode.NXDOMAIN, 0), 49 * US);
    Exchange e = u.out.exchanges.get(0);
    assertEquals(FactStatus.ERROR, e.status());
    assertEquals("NXDOMAIN", e.error());
    assertEquals("0", e.detail().get("answers"));
  }

  @Test
  void updateAndNotifyAreNamedByTheirOpcode() {
    DatagramFeeder u = udp().client(DnsMessages.update(47952, "StratoLab.org.", false, 0), 0)
        .server(DnsMessages.update(47952, "StratoLab.org.", true, Rcode.REFUSED), 104400 * US);
    Exchange e = u.out.exchanges.get(0);
    assertEquals("UPDATE", e.command());
    assertEquals("StratoLab.org", e.resource(), "the zone, case as sent");
    assertEquals("REFUSED", e.error());
    assertEquals("SOA", e.detail().get("qtype"));
  }

  @Test
  void aRetransmittedQueryIsOneFactTimedFromItsLastCopy() {
    byte[] q = queryBytes(40849, "txtpadding_3230.n1.netalyzr.icsi.berkeley.edu.", Type.TXT);
    DatagramFeeder u = udp().client(q, 0).client(q, 5_000_000 * US)
        .server(DnsMessages.response(DnsMessages.query(40849, "txtpadding_3230.n1.netalyzr.icsi.berkeley.edu.", Type.TXT),
            Rcode.NOERROR, 1), 5_083_189 * US);
    assertEquals(List.of("TXT OK"), u.out.summary());
    Exchange e = u.out.exchanges.get(0);
    assertEquals(0, e.requestFirstNs());
    assertEquals(5_000_000 * US, e.requestLastNs());
    assertEquals(83_189 * US, e.responseFirstNs() - e.requestLastNs());
    assertEquals("1", e.detail().get("retransmits"));
    assertEquals(1, e.requestOffset(), "the first copy's packet");
  }

  @Test
  void aDuplicateResponseIsCountedNotPairedTwiceAndAStrangerIsAnOrphan() {
    byte[] r = ok(21140, "www.cmu.edu.", Type.A);
    DatagramFeeder u = udp().client(queryBytes(21140, "www.cmu.edu.", Type.A), 0).server(r, 214 * US).server(r, 302 * US)
        .server(ok(999, "other.example.", Type.A), 400 * US);
    assertEquals(List.of("A OK"), u.out.summary());
    assertEquals(214 * US, u.out.exchanges.get(0).responseFirstNs());
    assertEquals(List.of(DnsCorrelator.DUPLICATE_RESPONSE, DnsCorrelator.ORPHAN_RESPONSE), u.out.anomalyNames());
    assertEquals(3, u.out.anomalies.get(0).streamOffset(), "the duplicate's packet");
  }

  @Test
  void queriesInFlightPairByIdInAnyOrder() {
    DatagramFeeder u = udp().client(queryBytes(1, "a.example.", Type.A), 0).client(queryBytes(2, "b.example.", Type.AAAA), 10)
        .server(ok(2, "b.example.", Type.AAAA), 20).server(ok(1, "a.example.", Type.A), 30);
    assertEquals(List.of("AAAA OK", "A OK"), u.out.summary());
    assertEquals(10, u.out.exchanges.get(0).responseFirstNs() - u.out.exchanges.get(0).requestLastNs());
    assertEquals(30, u.out.exchanges.get(1).responseFirstNs() - u.out.exchanges.get(1).requestLastNs());
  }

  @Test
  void anIdReusedForAnotherQuestionGivesUpTheOlderQuery() {
    DatagramFeeder u = udp().client(queryBytes(7, "a.example.", Type.A), 0).client(queryBytes(7, "b.example.", Type.A), 10)
        .server(ok(7, "b.example.", Type.A), 20);
    assertEquals(List.of("A TIMEOUT", "A OK"), u.out.summary());
    assertEquals("a.example", u.out.exchanges.get(0).resource());
    assertEquals("b.example", u.out.exchanges.get(1).resource());
    assertEquals(List.of(DnsCorrelator.ID_REUSED), u.out.anomalyNames());
  }

  @Test
  void unansweredQueriesTimeOutByTheWindowAndAtTheEnd() {
    DatagramFeeder u = udp().client(queryBytes(1, "a.example.", Type.A), 100).client(queryBytes(2, "b.example.", Type.A), 200);
    u.session().expire(150, u.out);
    assertEquals(List.of("A TIMEOUT"), u.out.summary());
    assertEquals(1, u.session().pendingRequests());
    u.session().close(300, u.out);
    assertEquals(List.of("A TIMEOUT", "A TIMEOUT"), u.out.summary());
    Exchange t = u.out.exchanges.get(1);
    assertFalse(t.hasResponse());
    assertEquals(Exchange.Pairing.NONE, t.pairing());
    assertEquals("2", t.detail().get("id"));
    assertFalse(t.detail().containsKey("rcode"));
    // the retransmit moved the first query behind the second: the window counts from the last copy
    DatagramFeeder r = udp().client(queryBytes(1, "a.example.", Type.A), 100).client(queryBytes(2, "b.example.", Type.A), 200)
        .client(queryBytes(1, "a.example.", Type.A), 300);
    r.session().expire(250, r.out);
    assertEquals(List.of("b.example"), r.out.exchanges.stream().map(Exchange::resource).toList());
  }

  @Test
  void pendingQueriesAreBounded() {
    SessionLimits two = new SessionLimits(2, 1 << 20, 16, 8, 1024, 64);
    DatagramFeeder u = new DatagramFeeder(DNS, two, new SessionRecording());
    for (int i = 0; i < 5; i++) {
      u.client(queryBytes(i, "q" + i + ".example.", Type.A), i);
    }
    assertEquals(2, u.session().pendingRequests());
    assertEquals(List.of("q0.example", "q1.example", "q2.example"), u.out.exchanges.stream().map(Exchange::resource).toList());
    assertEquals(List.of(DnsCorrelator.TOO_MANY_PENDING), u.out.anomalyNames(), "once per episode");
  }

  @Test
  void theTruncatedBitIsOnTheFact() {
    byte[] r = ok(5, "big.example.", Type.TXT);
    r[2] |= 0x02; // TC
    DatagramFeeder u = udp().client(queryBytes(5, "big.example.", Type.TXT), 0).server(r, 10);
    assertEquals("true", u.out.exchanges.get(0).detail().get("truncated"));
  }

  @Test
  void wrongDirectionsAndGarbageAreCountedAndDropped() {
    DatagramFeeder u = udp().server(queryBytes(1, "a.example.", Type.A), 0).client(ok(2, "b.example.", Type.A), 1)
        .client(new byte[5], 2).client("not dns at all, but long enough".getBytes(), 3);
    assertEquals(List.of(), u.out.exchanges);
    assertEquals(List.of(DnsSession.WRONG_DIRECTION, DnsSession.WRONG_DIRECTION, DnsDecoder.MALFORMED,
        DnsDecoder.MALFORMED), u.out.anomalyNames());
    assertEquals(0, u.session().pendingRequests());
  }

  @Test
  void cutDatagramsKeepWhatTheyShowAndSayWhatIsMissing() {
    SessionRecording out = new SessionRecording();
    DatagramSession s = DNS.newDatagramSession(SessionLimits.DEFAULTS);
    byte[] q = queryBytes(3, "cut.example.", Type.A);
    byte[] withOpt = concat(q, new byte[] {0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0});
    withOpt[11] = 1; // one additional record (an OPT), cut off by the snap length below
    s.clientDatagram(withOpt, 0, q.length + 3, 1, true, 0, out);
    byte[] r = DnsMessages.response(3, "cut.example.", Type.A, Rcode.NOERROR, 4);
    s.serverDatagram(r, 0, r.length - 10, 2, true, 40, out);
    assertEquals(List.of("A OK"), out.summary());
    Exchange e = out.exchanges.get(0);
    assertTrue(e.requestGap());
    assertTrue(e.responseGap());
    assertEquals("4", e.detail().get("answers"));
    assertEquals("true", e.detail().get("malformed"));
    assertEquals(List.of(DnsDecoder.MALFORMED, DnsDecoder.MALFORMED), out.anomalyNames());
  }

  // ---- TCP ---------------------------------------------------------------------------------

  @Test
  void overTcpTheLengthPrefixFramesMessagesAndPairingIsById() throws IOException {
    byte[] up = concat(tcp(queryBytes(1, "a.example.", Type.A)), tcp(queryBytes(2, "b.example.", Type.MX)));
    byte[] down = concat(tcp(ok(2, "b.example.", Type.MX)), tcp(ok(1, "a.example.", Type.A)));
    SessionRecording whole = new SessionRecording();
    ProtocolSession s = DNS.newSession(SessionLimits.DEFAULTS);
    s.clientData(up, 0, up.length, 0, 100, whole);
    s.serverData(down, 0, down.length, 0, 250, whole);
    s.close(300, whole);
    assertEquals(List.of("MX OK", "A OK"), whole.summary());
    assertEquals(List.of(), whole.anomalies);
    Exchange mx = whole.exchanges.get(0);
    assertEquals("tcp", mx.detail().get("transport"));
    assertEquals(tcp(queryBytes(1, "a.example.", Type.A)).length, mx.requestOffset());
    assertEquals(tcp(queryBytes(2, "b.example.", Type.MX)).length, mx.requestBytes(), "with its length prefix");
    // byte by byte, with the state written and read back after each byte: the same
    SessionRecording bytewise = new SessionRecording();
    ProtocolSession b = DNS.newSession(SessionLimits.DEFAULTS);
    for (int i = 0; i < up.length; i++) {
      b.clientData(up, i, 1, i, 100, bytewise);
      b = roundTrip(b);
    }
    for (int i = 0; i < down.length; i++) {
      b.serverData(down, i, 1, i, 250, bytewise);
      b = roundTrip(b);
    }
    b.close(300, bytewise);
    assertEquals(whole.exchanges, bytewise.exchanges);
  }

  @Test
  void overTcpAServerGapMarksWhatItMayHaveAnsweredAndAClientGapLosesOnlyItsQueries() {
    byte[] q1 = tcp(queryBytes(1, "a.example.", Type.A));
    byte[] q2 = tcp(queryBytes(2, "b.example.", Type.A));
    byte[] q3 = tcp(queryBytes(3, "c.example.", Type.A));
    SessionRecording out = new SessionRecording();
    ProtocolSession s = DNS.newSession(SessionLimits.DEFAULTS);
    s.clientData(q1, 0, q1.length, 0, 0, out);
    s.gap(true, q1.length, q2.length, 1, out);
    s.clientData(q3, 0, q3.length, q1.length + q2.length, 2, out);
    byte[] r1 = tcp(ok(1, "a.example.", Type.A));
    byte[] r2 = tcp(ok(2, "b.example.", Type.A));
    s.serverData(r1, 0, 5, 0, 3, out);
    s.gap(false, 5, r1.length - 5, 4, out); // the rest of r1 was not captured
    s.serverData(r2, 0, r2.length, r1.length, 5, out);
    s.close(10, out);
    assertEquals(List.of("A TIMEOUT", "A TIMEOUT"), out.summary());
    assertTrue(out.exchanges.stream().allMatch(Exchange::responseGap));
    assertEquals(List.of("a.example", "c.example"), out.exchanges.stream().map(Exchange::resource).toList());
    assertEquals(List.of(DnsCorrelator.ORPHAN_RESPONSE), out.anomalyNames(), "the answer to the lost query");
  }

  @Test
  void aConnectionEndingInsideAMessageIsSaidSo() {
    byte[] q = tcp(queryBytes(1, "a.example.", Type.A));
    SessionRecording out = new SessionRecording();
    ProtocolSession s = DNS.newSession(SessionLimits.DEFAULTS);
    s.clientData(q, 0, q.length - 1, 0, 0, out);
    s.close(1, out);
    assertEquals(List.of(DnsSession.INCOMPLETE_AT_CLOSE), out.anomalyNames());
    assertEquals(List.of(), out.exchanges);
  }

  @Test
  void probes() {
    byte[] q = queryBytes(1, "a.example.", Type.A);
    byte[] r = ok(1, "a.example.", Type.A);
    assertEquals(DnsProtocol.Probe.REQUEST, DNS.probeDatagram(q, 0, q.length));
    assertEquals(DnsProtocol.Probe.RESPONSE, DNS.probeDatagram(r, 0, r.length));
    assertEquals(DnsProtocol.Probe.NO, DNS.probeDatagram(q, 0, q.length - 1), "a query must parse whole");
    assertEquals(DnsProtocol.Probe.NO, DNS.probeDatagram("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(), 0, 27));
    byte[] t = tcp(q);
    assertEquals(DnsProtocol.Probe.REQUEST, DNS.probe(t, 0, t.length));
    byte[] withOpt = concat(q, new byte[] {0, 0, 41, 16, 0, 0, 0, 0, 0, 0, 0});
    withOpt[11] = 1; // one additional record: an OPT
    byte[] t2 = tcp(withOpt);
    assertEquals(DnsProtocol.Probe.REQUEST, DNS.probe(t2, 0, t2.length - 4), "its question is there, not all of it");
    assertEquals(DnsProtocol.Probe.NO, DNS.probe(t, 0, t.length - 2), "the question is not all there");
    assertEquals(DnsProtocol.Probe.NO, DNS.probe(q, 0, q.length), "no length prefix");
    byte[] resp = "+OK\r\n".repeat(4).getBytes();
    assertEquals(DnsProtocol.Probe.NO, DNS.probe(resp, 0, resp.length));
  }

  private static ProtocolSession roundTrip(ProtocolSession s) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      s.writeTo(new DataOutputStream(bytes));
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes.toByteArray()));
      ProtocolSession back = DNS.readSession(in, SessionLimits.DEFAULTS);
      assertEquals(0, in.available());
      return back;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
