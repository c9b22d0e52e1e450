package dev.tapflow.stream.protocol.redis;

import dev.tapflow.protocol.api.DecoderListener;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.SessionLimits;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The decoder alone: RESP types, and one adversarial input per limit and anomaly, named
 * after it. Each input is also decoded byte by byte with a state round-trip after every byte,
 * which must give the same result.
 */
class RespDecoderTest {

  private static final SessionLimits SMALL = new SessionLimits(8, 100, 10, 3, 40, 16);

  /** What a decoder reported: "type elements items..." per message, and anomalies as "NAME@offset". */
  private static final class Collect implements DecoderListener<RespMessage> {
    final List<String> messages = new ArrayList<>();
    final List<String> anomalies = new ArrayList<>();

    @Override
    public void message(RespMessage m) {
      StringBuilder sb = new StringBuilder();
      sb.append((char) m.type()).append(m.elements()).append('@').append(m.offset()).append('+').append(m.length());
      for (int i = 0; i < m.itemCount(); i++) {
        sb.append(' ').append(m.itemText(i));
      }
      if (m.hasAttributes()) {
        sb.append(" |attr");
      }
      messages.add(sb.toString());
    }

    @Override
    public void anomaly(String name, long streamOffset, String detail) {
      anomalies.add(name + "@" + streamOffset);
    }
  }

  private static Collect decode(boolean requests, SessionLimits limits, String input) {
    byte[] b = input.getBytes(StandardCharsets.ISO_8859_1);
    Collect whole = new Collect();
    RespDecoder d = new RespDecoder(requests, limits);
    d.decode(b, 0, b.length, 0, 1, whole);
    Collect bytewise = new Collect();
    RespDecoder e = new RespDecoder(requests, limits);
    for (int i = 0; i < b.length; i++) {
      e.decode(b, i, 1, i, 1, bytewise);
      e = roundTrip(e, requests, limits);
    }
    assertEquals(whole.messages, bytewise.messages, "byte by byte with state round-trips");
    assertEquals(whole.anomalies, bytewise.anomalies, "byte by byte with state round-trips");
    return whole;
  }

  private static RespDecoder roundTrip(RespDecoder d, boolean requests, SessionLimits limits) {
    try {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      d.writeTo(new DataOutputStream(out));
      return RespDecoder.readFrom(new DataInputStream(new ByteArrayInputStream(out.toByteArray())), requests, limits);
    } catch (IOException ex) {
      throw new AssertionError(ex);
    }
  }

  private static Collect replies(String input) {
    return decode(false, SessionLimits.DEFAULTS, input);
  }

  private static Collect requests(String input) {
    return decode(true, SessionLimits.DEFAULTS, input);
  }

  @Test
  void resp2Replies() {
    Collect c = replies("+OK\r\n-ERR bad thing\r\n:42\r\n$3\r\nfoo\r\n$-1\r\n*-1\r\n*2\r\n$1\r\na\r\n:1\r\n*0\r\n");
    assertEquals(List.of("+1@0+5 OK", "-1@5+16 ERR bad thing", ":1@21+5 42", "$1@26+9 foo", "$1@35+5 ",
        "*0@40+5", "*2@45+15 a 1", "*0@60+4"), c.messages);
    assertTrue(c.anomalies.isEmpty());
  }

  @Test
  void resp3TypesNestedAggregatesAndAttributes() {
    Collect c = replies("%2\r\n+a\r\n:1\r\n+b\r\n*2\r\n#t\r\n_\r\n"
        + "~1\r\n,3.14\r\n(12345678901234567890\r\n!5\r\nERR x\r\n=7\r\ntxt:abc\r\n>2\r\n+pubsub\r\n+x\r\n"
        + "|1\r\n+ttl\r\n:3600\r\n*3\r\n:1\r\n|1\r\n+k\r\n%1\r\n+a\r\n+b\r\n:2\r\n:3\r\n_\r\n");
    // the map's 4th value is an aggregate (kept as an empty item); the attribute inside the
    // array neither counts as an element nor is kept
    assertEquals(List.of("%4@0+27 a 1 b ", "~1@27+11 3.14", "(1@38+23 12345678901234567890", "!1@61+11 ERR x",
        "=1@72+13 txt:abc", ">2@85+17 pubsub x", "*3@102+53 1 2 3 |attr", "_1@155+3 "), c.messages);
    assertTrue(c.anomalies.isEmpty(), c.anomalies.toString());
  }

  @Test
  void streamedStringsAndAggregates() {
    Collect c = replies("$?\r\n;4\r\nHell\r\n;6\r\no worl\r\n;1\r\nd\r\n;0\r\n*?\r\n:1\r\n:2\r\n.\r\n+OK\r\n");
    assertEquals(List.of("$1@0+37 Hello world", "*2@37+15 1 2", "+1@52+5 OK"), c.messages);
    assertTrue(c.anomalies.isEmpty());
  }

  @Test
  void requestsArraysAndInline() {
    Collect c = requests("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n\r\nPING\r\n  \r\n*0\r\nset a \"b c\" 'd\\'e'\r\n");
    assertEquals(List.of("*2@0+20 GET k", "I1@22+6 PING", "I4@36+20 set a b c d'e"), c.messages);
  }

  @Test
  void manyMessagesInOneChunkAndOneAcrossMany() {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 100; i++) {
      s.append("*1\r\n$4\r\nPING\r\n");
    }
    assertEquals(100, requests(s.toString()).messages.size());
    String big = "x".repeat(5000);
    Collect c = replies("$5000\r\n" + big + "\r\n");
    assertEquals(1, c.messages.size());
    assertTrue(c.messages.get(0).startsWith("$1@0+5009 xxxx"));
  }

  // ---- one adversarial input per anomaly --------------------------------------------------

  @Test
  void respBulkTooLong() {
    Collect c = decode(false, SMALL, "$101\r\n" + "x".repeat(101) + "\r\n+OK\r\n");
    assertEquals(List.of("RESP_BULK_TOO_LONG@0"), c.anomalies);
    assertEquals(List.of("+1@109+5 OK"), c.messages, "resynchronised at the next reply line");
    Collect r = decode(true, SMALL, "*2\r\n$3\r\nGET\r\n$999\r\nxx\r\n*1\r\n$4\r\nPING\r\n");
    assertEquals(List.of("RESP_BULK_TOO_LONG@13"), r.anomalies);
    assertEquals(List.of("*1@23+14 PING"), r.messages);
  }

  @Test
  void respArrayTooLong() {
    Collect c = decode(false, SMALL, "*11\r\n:1\r\n+OK\r\n");
    assertEquals(List.of("RESP_ARRAY_TOO_LONG@0"), c.anomalies);
    assertEquals(List.of(":1@5+4 1", "+1@9+5 OK"), c.messages);
    assertEquals(List.of("RESP_ARRAY_TOO_LONG@0"), decode(false, SMALL, "%6\r\n").anomalies, "maps count pairs twice");
    assertEquals(List.of("RESP_ARRAY_TOO_LONG@44"), decode(false, SMALL, "*?\r\n" + ":1\r\n".repeat(11)).anomalies,
        "a streamed aggregate is reported at the element that crosses the limit");
  }

  @Test
  void respNestingTooDeep() {
    Collect c = decode(false, SMALL, "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n+OK\r\n");
    assertEquals(List.of("RESP_NESTING_TOO_DEEP@12"), c.anomalies);
    assertEquals(List.of(":1@16+4 1", "+1@20+5 OK"), c.messages);
    // a million nested arrays: bounded, one anomaly
    Collect deep = replies("*1\r\n".repeat(100_000));
    assertEquals(List.of("RESP_NESTING_TOO_DEEP@256"), deep.anomalies);
  }

  @Test
  void respLineTooLong() {
    Collect c = decode(false, SMALL, "+" + "a".repeat(50) + "\r\n+OK\r\n");
    assertEquals(List.of("RESP_LINE_TOO_LONG@0"), c.anomalies);
    assertEquals(List.of("+1@53+5 OK"), c.messages);
    Collect inline = decode(true, SMALL, "SET " + "a".repeat(60) + "\r\nPING\r\n");
    assertEquals(List.of("RESP_LINE_TOO_LONG@0"), inline.anomalies);
    assertEquals(List.of("I1@66+6 PING"), inline.messages, "resynchronised on a known inline command");
  }

  @Test
  void respBadType() {
    Collect c = replies("+OK\r\nnot RESP\r\nStill not RESP\r\nNope\r\n");
    assertEquals(List.of("+1@0+5 OK"), c.messages);
    assertEquals(List.of("RESP_BAD_TYPE@5"), c.anomalies, "one anomaly, then skipped until a message start");
    Collect r = requests("*2\r\n$3\r\nGET\r\n:1\r\n*1\r\n$4\r\nPING\r\n");
    assertEquals(List.of("RESP_BAD_TYPE@13"), r.anomalies, "only bulk strings inside a request");
    assertEquals(List.of("*1@17+14 PING"), r.messages);
  }

  @Test
  void respBadLength() {
    Collect c = replies("$abc\r\n+OK\r\n*-7\r\n:1\r\n");
    assertEquals(List.of("RESP_BAD_LENGTH@0", "RESP_BAD_LENGTH@11"), c.anomalies);
    assertEquals(List.of("+1@6+5 OK", ":1@16+4 1"), c.messages);
    assertEquals(List.of("RESP_BAD_LENGTH@4"), requests("*1\r\n$-1\r\n").anomalies, "no null bulk in requests");
  }

  @Test
  void respBadValue() {
    Collect c = replies(":12x\r\n#maybe\r\n_x\r\n+OK\r\n");
    assertEquals(List.of("RESP_BAD_VALUE@0"), c.anomalies, "resync skips the other bad lines");
    assertEquals(List.of("+1@18+5 OK"), c.messages);
  }

  @Test
  void respBadTerminator() {
    Collect c = replies("$3\r\nfoobar\r\n+OK\r\n");
    assertEquals(List.of("RESP_BAD_TERMINATOR@7"), c.anomalies);
    assertEquals(List.of("+1@12+5 OK"), c.messages);
  }

  @Test
  void respUnbalancedQuotes() {
    Collect c = requests("SET k \"open\r\nSET k 'x'y\r\n");
    assertEquals(List.of("RESP_UNBALANCED_QUOTES@0", "RESP_UNBALANCED_QUOTES@13"), c.anomalies);
    assertEquals(List.of("I3@0+13 SET k \"open", "I3@13+12 SET k 'x'y"), c.messages);
  }

  @Test
  void resyncOnRequestsNeedsArrayThenBulk() {
    // "*3" alone at a line start is not enough: the next byte must be '$'
    Collect c = requests("*2\r\n$3\r\nGET\r\n+x\r\n*3\r\nzz\r\n*1\r\n$4\r\nPING\r\n");
    assertEquals(List.of("RESP_BAD_TYPE@13"), c.anomalies);
    assertEquals(List.of("*1@25+14 PING"), c.messages);
  }

  @Test
  void gapDropsThePartialMessageAndResynchronises() {
    Collect c = new Collect();
    RespDecoder d = new RespDecoder(false, SessionLimits.DEFAULTS);
    byte[] a = "$10\r\nhello".getBytes(StandardCharsets.US_ASCII);
    d.decode(a, 0, a.length, 0, 1, c);
    assertTrue(d.gap(a.length, 100));
    byte[] b = "xx\r\n+OK\r\n".getBytes(StandardCharsets.US_ASCII);
    d.decode(b, 0, b.length, a.length + 100, 2, c);
    assertEquals(List.of("+1@114+5 OK"), c.messages);
    assertTrue(d.idle());
  }

  @Test
  void randomBytesNeverThrowAndStayBounded() {
    Random rnd = new Random(42);
    byte[] alphabet = "*$+-:_,#(!=%~>|.;?\r\n0123456789-abcXYZ \"'\\".getBytes(StandardCharsets.US_ASCII);
    for (int round = 0; round < 300; round++) {
      boolean requests = round % 2 == 0;
      RespDecoder d = new RespDecoder(requests, SMALL);
      Collect c = new Collect();
      long offset = 0;
      for (int chunk = 0; chunk < 200; chunk++) {
        byte[] b = new byte[rnd.nextInt(64) + 1];
        for (int i = 0; i < b.length; i++) {
          b[i] = rnd.nextInt(4) == 0 ? (byte) rnd.nextInt(256) : alphabet[rnd.nextInt(alphabet.length)];
        }
        d.decode(b, 0, b.length, offset, chunk, c);
        offset += b.length;
        if (chunk % 17 == 0) {
          d = roundTrip(d, requests, SMALL);
        }
        if (chunk % 50 == 49) {
          d.gap(offset, 7);
          offset += 7;
        }
        ByteArrayOutputStream state = new ByteArrayOutputStream();
        try {
          d.writeTo(new DataOutputStream(state));
        } catch (IOException e) {
          throw new AssertionError(e);
        }
        assertTrue(state.size() < 2 * SMALL.maxLineBytes() + 1024, "state stays bounded: " + state.size());
      }
      assertFalse(c.messages.isEmpty() && c.anomalies.isEmpty());
    }
  }
}
