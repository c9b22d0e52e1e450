package dev.tapflow.stream.protocol.dns;

import static dev.tapflow.stream.protocol.dns.DnsMessages.concat;
import static dev.tapflow.stream.protocol.dns.DnsMessages.ok;
import static dev.tapflow.stream.protocol.dns.DnsMessages.queryBytes;
import static dev.tapflow.stream.protocol.dns.DnsMessages.tcp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.DecoderListener;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Type;

class DnsDecoderTest {

  /** What a TCP direction decoder reported. */
  private static final class Heard implements DecoderListener<DnsMessage> {
    final List<DnsMessage> messages = new ArrayList<>();
    final List<String> anomalies = new ArrayList<>();

    @Override
    public void message(DnsMessage m) {
      messages.add(m);
    }

    @Override
    public void anomaly(String name, long streamOffset, String detail) {
      anomalies.add(name + "@" + streamOffset);
    }

    List<String> ids() {
      return messages.stream().map(m -> m.id() + (m.malformed() == null ? "" : "!")).toList();
    }
  }

  @Test
  void aQueryByHand() {
    // id 0x1234, RD, one question: www.example.com A IN (RFC 1035 section 4.1)
    byte[] q = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
        3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1};
    DnsMessage m = DnsDecoder.parse(q, 0, q.length, 7, 100, 100, q.length);
    assertEquals(0x1234, m.id());
    assertFalse(m.response());
    assertEquals(0, m.opcode());
    assertEquals("www.example.com", m.qname());
    assertEquals(Type.A, m.qtype());
    assertEquals(1, m.qclass());
    assertNull(m.malformed());
    assertEquals(7, m.offset());
    assertTrue(DnsDecoder.plausibleHeader(q, 0, q.length));
  }

  @Test
  void responseFieldsAndCaseAsSent() {
    byte[] r = DnsMessages.response(77, "WwW.ExAmPlE.org.", Type.AAAA, Rcode.NXDOMAIN, 0);
    DnsMessage m = DnsDecoder.parse(r, 0, r.length, 0, 0, 0, r.length);
    assertTrue(m.response());
    assertEquals(Rcode.NXDOMAIN, m.rcode());
    assertEquals("WwW.ExAmPlE.org", m.qname());
    assertEquals(0, m.answers());
    byte[] three = DnsMessages.response(78, "a.example.", Type.A, Rcode.NOERROR, 3);
    assertEquals(3, DnsDecoder.parse(three, 0, three.length, 0, 0, 0, three.length).answers());
  }

  @Test
  void shorterThanAHeaderIsNothingAndGarbageIsMalformedWithItsHeader() {
    assertNull(DnsDecoder.parse(new byte[11], 0, 11, 0, 0, 0, 11));
    byte[] garbage = {0x00, 0x2a, (byte) 0x81, (byte) 0x83, 0, 1, 0, 5, 0, 0, 0, 0, 9, 'x'};
    DnsMessage m = DnsDecoder.parse(garbage, 0, garbage.length, 0, 0, 0, garbage.length);
    assertNotNull(m.malformed());
    assertEquals(42, m.id());
    assertTrue(m.response());
    assertEquals(3, m.rcode());
    assertNull(m.qname());
  }

  @Test
  void aCutMessageStillShowsItsQuestion() {
    byte[] r = DnsMessages.response(9, "cut.example.", Type.TXT, Rcode.NOERROR, 2);
    int keep = 12 + "cut.example.".length() + 2 + 4 + 20; // header, question, part of an answer
    DnsMessage m = DnsDecoder.parse(r, 0, keep, 0, 0, 0, r.length);
    assertNotNull(m.malformed());
    assertEquals("cut.example", m.qname());
    assertEquals(Type.TXT, m.qtype());
    assertEquals(2, m.answers());
  }

  @Test
  void plausibleHeaders() {
    byte[] q = queryBytes(1, "a.example.", Type.A);
    assertTrue(DnsDecoder.plausibleHeader(q, 0, q.length));
    byte[] z = q.clone();
    z[3] |= 0x40; // Z bit
    assertFalse(DnsDecoder.plausibleHeader(z, 0, z.length));
    byte[] twoQuestions = q.clone();
    twoQuestions[5] = 2;
    assertFalse(DnsDecoder.plausibleHeader(twoQuestions, 0, twoQuestions.length));
    byte[] opcode3 = q.clone();
    opcode3[2] = (byte) ((opcode3[2] & 0x87) | (3 << 3));
    assertFalse(DnsDecoder.plausibleHeader(opcode3, 0, opcode3.length));
    byte[] manyRecords = ok(2, "a.example.", Type.A);
    manyRecords[7] = (byte) 200; // 200 answers cannot fit
    assertFalse(DnsDecoder.plausibleHeader(manyRecords, 0, manyRecords.length));
    assertFalse(DnsDecoder.plausibleHeader(q, 0, 11));
  }

  // ---- TCP ---------------------------------------------------------------------------------

  private static byte[] stream() {
    return concat(tcp(queryBytes(1, "one.example.", Type.A)), tcp(queryBytes(2, "two.example.", Type.MX)),
        tcp(queryBytes(3, "three.example.", Type.TXT)));
  }

  @Test
  void severalMessagesInOneSegment() {
    Heard h = new Heard();
    new DnsDecoder(true).decode(stream(), 0, stream().length, 0, 50, h);
    assertEquals(List.of("1", "2", "3"), h.ids());
    assertEquals(List.of(), h.anomalies);
    DnsMessage second = h.messages.get(1);
    assertEquals(tcp(queryBytes(1, "one.example.", Type.A)).length, second.offset());
    assertEquals(tcp(queryBytes(2, "two.example.", Type.MX)).length, second.length());
  }

  /** Cut at every offset, and byte by byte with the state saved and restored after each byte: the same messages, and each message's first and last byte times are its pieces'. */
  @Test
  void oneMessageAcrossSegmentsAtEverySplit() throws IOException {
    byte[] s = stream();
    for (int cut = 1; cut < s.length; cut++) {
      Heard h = new Heard();
      DnsDecoder d = new DnsDecoder(true);
      d.decode(s, 0, cut, 0, 10, h);
      d.decode(s, cut, s.length - cut, cut, 20, h);
      assertEquals(List.of("1", "2", "3"), h.ids(), "cut at " + cut);
      for (DnsMessage m : h.messages) {
        assertEquals(m.offset() < cut ? 10 : 20, m.firstNs(), "cut at " + cut);
        assertEquals(m.offset() + m.length() <= cut ? 10 : 20, m.lastNs(), "cut at " + cut);
      }
      assertTrue(d.idle());
    }
    Heard h = new Heard();
    DnsDecoder d = new DnsDecoder(true);
    for (int i = 0; i < s.length; i++) {
      d.decode(s, i, 1, i, i, h);
      d = roundTrip(d, true);
    }
    assertEquals(List.of("1", "2", "3"), h.ids());
    assertEquals(0, h.messages.get(0).firstNs());
  }

  @Test
  void aLengthShorterThanAHeaderIsMalformedAndTheNextMessageIsFound() {
    byte[] s = concat(new byte[] {0, 5, 1, 2, 3, 4, 5}, tcp(queryBytes(4, "after.example.", Type.A)));
    Heard h = new Heard();
    new DnsDecoder(true).decode(s, 0, s.length, 0, 0, h);
    assertEquals(List.of(DnsDecoder.MALFORMED + "@0"), h.anomalies);
    assertEquals(List.of("4"), h.ids());
    assertEquals(7, h.messages.get(0).offset());
  }

  @Test
  void afterAGapTheDecoderResynchronisesAtAMessageStart() throws IOException {
    byte[] first = tcp(queryBytes(5, "lost.example.", Type.A));
    byte[] next = tcp(queryBytes(6, "found.example.", Type.AAAA));
    Heard h = new Heard();
    DnsDecoder d = new DnsDecoder(true);
    d.decode(first, 0, 10, 0, 0, h);
    assertTrue(d.gap(10, 5), "a partial message was dropped");
    d = roundTrip(d, true);
    // the rest of the cut message, then a whole one, in pieces
    byte[] rest = concat(Arrays.copyOfRange(first, 15, first.length), next);
    d.decode(rest, 0, 9, 15, 1, h);
    d = roundTrip(d, true);
    d.decode(rest, 9, rest.length - 9, 24, 2, h);
    assertEquals(List.of("6"), h.ids());
    assertEquals(15 + first.length - 15, h.messages.get(0).offset());
    assertFalse(d.resynchronising());
  }

  @Test
  void aResponseStartDoesNotResynchroniseTheClientSide() {
    byte[] resp = tcp(ok(7, "r.example.", Type.A));
    Heard h = new Heard();
    DnsDecoder d = new DnsDecoder(true);
    d.gap(0, 3);
    d.decode(resp, 0, resp.length, 3, 0, h);
    assertEquals(List.of(), h.ids());
    assertTrue(d.resynchronising());
  }

  static DnsDecoder roundTrip(DnsDecoder d, boolean clientSide) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    d.writeTo(new DataOutputStream(bytes));
    DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes.toByteArray()));
    DnsDecoder back = DnsDecoder.readFrom(in, clientSide);
    assertEquals(0, in.available(), "state read back whole");
    return back;
  }
}
