package dev.tapflow.stream.protocol.memcached;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.Protocol.Probe;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Pairing rules, limits and anomalies on hand-made input; the probe. */
class MemcachedSessionTest {

  private static final MemcachedProtocol PROTOCOL = new MemcachedProtocol();

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  /** A small scripted connection: each step is one side's bytes at a time. */
  private static final class Conn {
    final ProtocolSession s;
    final Recording out = new Recording();
    long c;
    long sv;

    Conn(SessionLimits limits) {
      s = PROTOCOL.newSession(limits);
    }

    Conn() {
      this(SessionLimits.DEFAULTS);
    }

    Conn client(long ts, byte[] b) {
      s.clientData(b, 0, b.length, c, ts, out);
      c += b.length;
      return this;
    }

    Conn server(long ts, byte[] b) {
      s.serverData(b, 0, b.length, sv, ts, out);
      sv += b.length;
      return this;
    }

    Conn client(long ts, String text) {
      return client(ts, ascii(text));
    }

    Conn server(long ts, String text) {
      return server(ts, ascii(text));
    }
  }

  static byte[] binary(int magic, int opcode, String key, int extras, int valueLen, int opaque, int status) {
    byte[] k = ascii(key);
    ByteBuffer b = ByteBuffer.allocate(24 + extras + k.length + valueLen);
    b.put((byte) magic).put((byte) opcode).putShort((short) k.length).put((byte) extras).put((byte) 0)
        .putShort((short) status).putInt(extras + k.length + valueLen).putInt(opaque).putLong(0);
    b.position(24 + extras);
    b.put(k);
    return b.array();
  }

  @Test
  void latencyCountsFromTheDataBlocksLastByte() {
    Conn c = new Conn().client(1_000, "set k 0 0 5\r\n").client(5_000, "hello\r\n").server(6_000, "STORED\r\n");
    Exchange e = c.out.exchanges.get(0);
    assertEquals("SET", e.command());
    assertEquals("k", e.resource());
    assertEquals(1_000, e.requestFirstNs());
    assertEquals(5_000, e.requestLastNs());
    assertEquals(20, e.requestBytes());
    assertEquals(6_000, e.responseFirstNs());
  }

  @Test
  void noreplyNeverStealsAReply() {
    Conn c = new Conn().client(1, "set a 0 0 1 noreply\r\nx\r\nget a b\r\n").server(2, "VALUE a 0 1\r\nx\r\nEND\r\n");
    assertEquals(List.of("SET NO_REPLY", "GET OK"), c.out.summary());
    assertFalse(c.out.exchanges.get(0).hasResponse());
    assertEquals(21, c.out.exchanges.get(1).responseBytes());
    MemcachedSession s = (MemcachedSession) c.s;
    assertEquals(1, s.hits());
    assertEquals(1, s.misses());
  }

  @Test
  void errorsAreErrorFacts() {
    Conn c = new Conn().client(1, "incr k 1\r\n").server(2, "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n");
    assertEquals(FactStatus.ERROR, c.out.exchanges.get(0).status());
    assertEquals("CLIENT_ERROR cannot increment or decrement non-numeric value", c.out.exchanges.get(0).error());
  }

  @Test
  void aResponseWithNothingPendingIsAnOrphan() {
    // captured before the request was complete: cannot answer it
    Conn c = new Conn().client(1, "get k\r\n").server(0, "END\r\n").server(2, "END\r\n").server(3, "STORED\r\n");
    assertEquals(List.of(MemcachedSession.ORPHAN_RESPONSE, MemcachedSession.ORPHAN_RESPONSE), c.out.anomalyNames());
    assertEquals(List.of(0L, 10L), c.out.anomalies.stream().map(Recording.Anomaly::streamOffset).toList());
    assertEquals(List.of("GET OK"), c.out.summary());
  }

  @Test
  void lineTooLongIsSkippedAndTheNextCommandDecoded() {
    SessionLimits small = new SessionLimits(100, 10, 16, 4, 64, 256);
    Conn c = new Conn(small).client(1, "get " + "a".repeat(100) + "\r\nget k\r\n").server(2, "END\r\n");
    assertEquals(List.of(MemcachedTextDecoder.LINE_TOO_LONG), c.out.anomalyNames());
    assertEquals(0, c.out.anomalies.get(0).streamOffset());
    assertEquals(List.of("GET OK"), c.out.summary());
  }

  @Test
  void dataBlockOverTheLimitIsSkippedNotKept() {
    SessionLimits small = new SessionLimits(100, 10, 16, 4, 64, 256);
    Conn c = new Conn(small).client(1, "set k 0 0 20\r\n" + "x".repeat(20) + "\r\nget k\r\n")
        .server(2, "SERVER_ERROR object too large for cache\r\nEND\r\n");
    assertEquals(List.of(MemcachedTextDecoder.BODY_TOO_LARGE), c.out.anomalyNames());
    assertEquals(List.of("SET ERROR", "GET OK"), c.out.summary());
  }

  @Test
  void dataBlockWithoutCrlfIsReported() {
    Conn c = new Conn().client(1, "set k 0 0 2\r\nabcd\r\nget k\r\n");
    assertEquals(List.of(MemcachedTextDecoder.BAD_DATA_TERMINATOR), c.out.anomalyNames());
    assertEquals(15, c.out.anomalies.get(0).streamOffset());
  }

  @Test
  void garbageResynchronisesAtAKnownCommand() {
    Conn c = new Conn().client(1, "\u0001\u0002zz\r\nnonsense\r\nget k\r\n").server(2, "END\r\n");
    assertEquals(List.of(MemcachedTextDecoder.BAD_LINE), c.out.anomalyNames());
    assertEquals(List.of("GET OK"), c.out.summary());
  }

  @Test
  void quietMetaRequestsGetNoReplyWhenTheBatchCloses() {
    Conn c = new Conn().client(1, "mg a v q\r\nmg b v q\r\nmn\r\n").server(2, "VA 1\r\nx\r\nMN\r\n");
    assertEquals(List.of("MG OK", "MG NO_REPLY", "MN OK"), c.out.summary());
  }

  @Test
  void expireTimesOutRequestsButQuietOnesAreNoReply() {
    Conn c = new Conn().client(1, "get k\r\nmg x q\r\n");
    c.s.expire(10, c.out);
    assertEquals(List.of("GET TIMEOUT", "MG NO_REPLY"), c.out.summary());
    assertEquals(0, c.s.pendingRequests());
  }

  @Test
  void serverGapTimesOutWhatIsPending() {
    Conn c = new Conn().client(1, "get k\r\n").server(2, "VALUE k 0 3\r\n");
    c.s.serverData(ascii("END\r\n"), 0, 5, 100, 3, c.out);
    assertEquals(List.of("GET TIMEOUT"), c.out.summary());
    assertTrue(c.out.exchanges.get(0).loss());
    assertTrue(c.out.anomalyNames().contains(MemcachedSession.GAP));
  }

  @Test
  void clientGapDropsThePartialRequestAndResynchronises() {
    Conn c = new Conn().client(1, "get a\r\nset k 0 0 5\r\nhe");
    // 10 bytes of the client stream never captured: the rest of the set, and more
    c.s.clientData(ascii("xx\r\nget b\r\n"), 0, 11, c.c + 10, 2, c.out);
    c.server(3, "END\r\n");
    assertEquals(List.of("GET TIMEOUT", "GET OK"), c.out.summary());
    assertTrue(c.out.exchanges.get(0).loss());
    assertEquals(List.of(MemcachedSession.GAP), c.out.anomalyNames());
  }

  @Test
  void binaryPairsByOpaqueAndClosesQuietBatches() {
    Conn c = new Conn()
        .client(1, concat(binary(0x80, 0x0d, "x", 0, 0, 1, 0), binary(0x80, 0x0d, "k", 0, 0, 2, 0),
            binary(0x80, 0x0a, "", 0, 0, 3, 0)))
        .server(2, concat(binary(0x81, 0x0d, "k", 4, 5, 2, 0), binary(0x81, 0x0a, "", 0, 0, 3, 0)));
    assertEquals(List.of("GetKQ NO_REPLY", "GetKQ OK", "Noop OK"), c.out.summary());
    assertEquals(List.of(), c.out.anomalyNames());
  }

  @Test
  void binaryErrorStatusAndClose() {
    Conn c = new Conn()
        .client(1, concat(binary(0x80, 0x00, "nope", 0, 0, 7, 0), binary(0x80, 0x11, "q", 8, 1, 8, 0),
            binary(0x80, 0x0c, "k", 0, 0, 9, 0)))
        .server(2, binary(0x81, 0x00, "", 0, 9, 7, 1));
    c.s.close(3, c.out);
    assertEquals(List.of("Get ERROR", "SetQ NO_REPLY", "GetK TIMEOUT"), c.out.summary());
    assertEquals("Key not found", c.out.exchanges.get(0).error());
  }

  @Test
  void binaryGarbageResynchronisesAtAPlausibleHeader() {
    byte[] junk = {(byte) 0x80, 0x7f, 0, 0, 0, 9, 1, 2, 3};
    Conn c = new Conn().client(1, concat(junk, binary(0x80, 0x0a, "", 0, 0, 5, 0)))
        .server(2, binary(0x81, 0x0a, "", 0, 0, 5, 0));
    assertEquals(List.of("Noop OK"), c.out.summary());
    assertEquals(List.of(MemcachedBinaryDecoder.BAD_HEADER), c.out.anomalyNames());
    assertEquals(0, c.out.anomalies.get(0).streamOffset());
  }

  @Test
  void binaryBodyOverTheLimit() {
    SessionLimits small = new SessionLimits(100, 10, 16, 4, 64, 256);
    Conn c = new Conn(small).client(1, binary(0x80, 0x01, "k", 8, 100, 1, 0));
    assertEquals(List.of(MemcachedBinaryDecoder.BODY_TOO_LARGE), c.out.anomalyNames());
  }

  @Test
  void tooManyPendingEvictsTheOldest() {
    SessionLimits small = new SessionLimits(2, 1 << 20, 16, 4, 1024, 256);
    Conn c = new Conn(small).client(1, "get a\r\nget b\r\nget c\r\n");
    assertEquals(List.of("GET TIMEOUT"), c.out.summary());
    assertEquals(List.of(MemcachedSession.TOO_MANY_PENDING), c.out.anomalyNames());
    assertEquals(2, c.s.pendingRequests());
  }

  @Test
  void randomInputNeverThrowsAndStaysBounded() {
    Random rnd = new Random(42);
    SessionLimits small = new SessionLimits(50, 4096, 16, 4, 256, 64);
    for (int run = 0; run < 300; run++) {
      ProtocolSession s = PROTOCOL.newSession(small);
      Recording out = new Recording();
      long[] off = new long[2];
      boolean text = rnd.nextBoolean();
      for (int i = 0; i < 40; i++) {
        boolean client = rnd.nextBoolean();
        byte[] b = new byte[rnd.nextInt(64) + 1];
        rnd.nextBytes(b);
        if (text && rnd.nextInt(3) == 0) {
          b = ascii(List.of("get a b\r\n", "VALUE a 0 2\r\nxy\r\n", "END\r\n", "set k 0 0 3\r\n", "mg a q\r\n",
              "MN\r\n", "STAT x 1\r\n").get(rnd.nextInt(7)));
        }
        int k = client ? 0 : 1;
        if (client) {
          s.clientData(b, 0, b.length, off[k], i, out);
        } else {
          s.serverData(b, 0, b.length, off[k], i, out);
        }
        off[k] += b.length;
        s = Feeder.roundTrip(s, small);
        assertTrue(s.pendingRequests() <= 50);
      }
      s.close(100, out);
      assertEquals(0, s.pendingRequests());
    }
  }

  @Test
  void probe() {
    assertEquals(Probe.REQUEST, probe(ascii("get foo\r\n")));
    assertEquals(Probe.REQUEST, probe(ascii("set foo 0 0 3\r\nbar\r\n")));
    assertEquals(Probe.REQUEST, probe(ascii("mn\r\n")));
    assertEquals(Probe.RESPONSE, probe(ascii("VALUE foo 0 3\r\nbar\r\nEND\r\n")));
    assertEquals(Probe.RESPONSE, probe(ascii("STORED\r\n")));
    assertEquals(Probe.NO, probe(ascii("GET / HTTP/1.1\r\nHost: x\r\n")));
    assertEquals(Probe.NO, probe(ascii("*1\r\n$4\r\nPING\r\n")));
    assertEquals(Probe.NO, probe(ascii("+OK\r\n")));
    assertEquals(Probe.NO, probe(ascii("get foo")));
    assertEquals(Probe.NO, probe(ascii("getx foo\r\n")));
    assertEquals(Probe.REQUEST, probe(binary(0x80, 0x0c, "k", 0, 0, 1, 0)));
    assertEquals(Probe.RESPONSE, probe(binary(0x81, 0x0c, "k", 4, 3, 1, 0)));
    byte[] bad = binary(0x80, 0x0c, "k", 0, 0, 1, 0);
    bad[5] = 7; // data type must be 0
    assertEquals(Probe.NO, probe(bad));
    assertEquals(Probe.NO, probe(new byte[] {(byte) 0x80, 1, 2}));
  }

  private static Probe probe(byte[] b) {
    return PROTOCOL.probe(b, 0, b.length);
  }

  private static byte[] concat(byte[]... parts) {
    List<Byte> all = new ArrayList<>();
    for (byte[] p : parts) {
      for (byte x : p) {
        all.add(x);
      }
    }
    byte[] out = new byte[all.size()];
    for (int i = 0; i < out.length; i++) {
      out[i] = all.get(i);
    }
    return out;
  }
}
