package dev.tapflow.stream.protocol.memcached;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.DatagramSession;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.protocol.testing.DatagramFeeder;
import dev.tapflow.stream.protocol.testing.SessionRecording;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class MemcachedUdpSessionTest {

  private static final MemcachedProtocol MEMCACHED = new MemcachedProtocol();

  /** One datagram: the 8-byte frame header, then the payload. */
  static byte[] frame(int requestId, int seq, int total, byte[] payload) {
    return ByteBuffer.allocate(8 + payload.length).putShort((short) requestId).putShort((short) seq)
        .putShort((short) total).putShort((short) 0).put(payload).array();
  }

  static byte[] text(String s) {
    return s.getBytes(StandardCharsets.ISO_8859_1);
  }

  /** A binary packet: 24-byte header, extras, key, value. */
  static byte[] binary(boolean request, int opcode, int status, String key, byte[] extras, byte[] value) {
    byte[] k = text(key);
    return ByteBuffer.allocate(24 + extras.length + k.length + value.length).put((byte) (request ? 0x80 : 0x81))
        .put((byte) opcode).putShort((short) k.length).put((byte) extras.length).put((byte) 0).putShort((short) status)
        .putInt(extras.length + k.length + value.length).putInt(0).putLong(0).put(extras).put(k).put(value).array();
  }

  private static DatagramFeeder flow() {
    return new DatagramFeeder(MEMCACHED);
  }

  @Test
  void aGetAndItsAnswerPairByRequestId() {
    DatagramFeeder f = flow().client(frame(7, 0, 1, text("get k1\r\n")), 100)
        .server(frame(7, 0, 1, text("VALUE k1 0 5\r\nhello\r\nEND\r\n")), 180);
    assertEquals(List.of("GET OK"), f.out.summary());
    Exchange e = f.out.exchanges.get(0);
    assertEquals(80, e.responseFirstNs() - e.requestLastNs());
    assertEquals(Exchange.Pairing.ID, e.pairing());
    assertEquals(1, e.requestOffset(), "the request datagram's packet number");
    assertEquals("7", e.detail().get("request_id"));
    assertEquals("udp", e.detail().get("transport"));
    assertEquals("1", e.detail().get("hits"));
    assertEquals(0, f.session().pendingRequests());
  }

  /** Datagrams 0..3 of one answer, in any arrival order: one fact; bytes after a hole take the time it was filled. */
  @Test
  void anAnswerOfSeveralDatagramsIsReassembledBySequenceNumber() {
    byte[] value = new byte[5000];
    Arrays.fill(value, (byte) 'v');
    byte[] whole = concat(text("VALUE big 0 5000\r\n"), value, text("\r\nEND\r\n"));
    int[][] orders = {{0, 1, 2, 3}, {3, 1, 0, 2}, {1, 2, 3, 0}};
    for (int[] order : orders) {
      DatagramFeeder f = flow().client(frame(9, 0, 1, text("get big\r\n")), 0);
      for (int i = 0; i < order.length; i++) {
        int seq = order[i];
        byte[] part = Arrays.copyOfRange(whole, seq * 1400, Math.min(whole.length, (seq + 1) * 1400));
        f.server(frame(9, seq, 4, part), 10 + i);
      }
      String id = Arrays.toString(order);
      assertEquals(List.of("GET OK"), f.out.summary(), id);
      Exchange e = f.out.exchanges.get(0);
      assertEquals(whole.length, e.responseBytes(), id);
      int firstAt = indexOf(order, 0);
      assertEquals(10 + firstAt, e.responseFirstNs(), id + ": datagram 0 arrived then");
      assertEquals(10 + order.length - 1, e.responseLastNs(), id);
      assertEquals(List.of(), f.out.anomalies, id);
    }
  }

  /** memcached 1.6 answers a multi-key get in runs numbered from 0: one per value, one for END. */
  @Test
  void aMultiKeyGetAnsweredInSeveralRunsIsOneAnswer() {
    DatagramFeeder f = flow().client(frame(106, 0, 1, text("get k1 big nokey\r\n")), 0)
        .server(frame(106, 0, 1, text("VALUE k1 0 5\r\nhello\r\n")), 10)
        .server(frame(106, 0, 2, text("VALUE big 0 3\r\n")), 11)
        .server(frame(106, 1, 2, text("abc\r\n")), 12)
        .server(frame(106, 0, 1, text("END\r\n")), 13);
    assertEquals(List.of("GET OK"), f.out.summary());
    Exchange e = f.out.exchanges.get(0);
    assertEquals(10, e.responseFirstNs());
    assertEquals(13, e.responseLastNs());
    assertEquals("2", e.detail().get("hits"));
    assertEquals("1", e.detail().get("misses"));
    assertEquals(List.of(), f.out.anomalies);
  }

  @Test
  void noreplyIsNoReplyAtOnceAndQuietAtTheEnd() {
    byte[] extras = new byte[8];
    DatagramFeeder f = flow().client(frame(1, 0, 1, text("set k 0 0 1 noreply\r\nx\r\n")), 0)
        .client(frame(2, 0, 1, binary(true, 0x11, 0, "q", extras, text("v"))), 1);
    assertEquals(List.of("SET NO_REPLY"), f.out.summary());
    assertEquals(1, f.session().pendingRequests());
    f.session().close(2, f.out);
    assertEquals(List.of("SET NO_REPLY", "SetQ NO_REPLY"), f.out.summary());
    assertTrue(f.out.exchanges.stream().noneMatch(Exchange::hasResponse));
  }

  /** memcached 1.6 acknowledges a quiet binary request with a bare frame header: nothing else comes. */
  @Test
  void anEmptyAnswerEndsTheWaitOfAQuietRequest() {
    DatagramFeeder f = flow().client(frame(3, 0, 1, binary(true, 0x11, 0, "q", new byte[8], text("v"))), 0)
        .server(frame(3, 0, 0, new byte[0]), 5);
    assertEquals(List.of("SetQ NO_REPLY"), f.out.summary());
    assertEquals(0, f.session().pendingRequests());
    assertEquals(List.of(), f.out.anomalies);
  }

  @Test
  void binaryStatusesAndHits() {
    DatagramFeeder f = flow().client(frame(4, 0, 1, binary(true, 0x0c, 0, "nokey", new byte[0], new byte[0])), 0)
        .server(frame(4, 0, 1, binary(false, 0x0c, 1, "", new byte[0], text("Not found"))), 3);
    Exchange e = f.out.exchanges.get(0);
    assertEquals(FactStatus.ERROR, e.status());
    assertEquals("Key not found", e.error());
    assertEquals("1", e.detail().get("misses"));
  }

  @Test
  void anAnswerMissingADatagramIsATimeoutWithResponseGap() {
    DatagramFeeder f = flow().client(frame(5, 0, 1, text("get big\r\n")), 0)
        .server(frame(5, 0, 3, text("VALUE big 0 3000\r\n")), 10)
        .server(frame(5, 2, 3, text("tail\r\nEND\r\n")), 12);
    assertEquals(List.of(), f.out.exchanges);
    f.session().expire(1, f.out);
    assertEquals(List.of("GET TIMEOUT"), f.out.summary());
    assertTrue(f.out.exchanges.get(0).responseGap());
    assertEquals(0, f.session().pendingRequests());
  }

  @Test
  void orphansDuplicatesAndBadFramesAreCounted() {
    DatagramFeeder f = flow().server(frame(8, 0, 1, text("STORED\r\n")), 0)
        .client(frame(9, 0, 2, text("get a\r\n")), 1)
        .client(new byte[4], 2)
        .client(frame(10, 0, 1, text("get k\r\n")), 3)
        .server(frame(10, 0, 2, text("VALUE k 0 1\r\n")), 4)
        .server(frame(10, 0, 2, text("VALUE k 0 1\r\n")), 5)
        .server(frame(10, 5, 2, text("x")), 6)
        .server(frame(10, 1, 2, text("x\r\nEND\r\n")), 7);
    assertEquals(List.of("GET OK"), f.out.summary());
    assertEquals(List.of(MemcachedSession.ORPHAN_RESPONSE, MemcachedUdpSession.BAD_FRAME,
        MemcachedUdpSession.BAD_FRAME, MemcachedUdpSession.DUPLICATE_DATAGRAM, MemcachedUdpSession.BAD_FRAME),
        f.out.anomalyNames());
  }

  @Test
  void outOfOrderDatagramsHeldAreBounded() {
    DatagramFeeder f = flow().client(frame(11, 0, 1, text("get huge\r\n")), 0);
    byte[] chunk = new byte[60_000];
    for (int seq = 1; seq <= 20; seq++) {
      f.server(frame(11, seq, 40, chunk), seq);
    }
    // the 18th datagram would exceed 1 MiB held: the answer is given up, the rest are orphans
    assertEquals(List.of(MemcachedUdpSession.REASSEMBLY_LIMIT, MemcachedSession.GAP, MemcachedSession.ORPHAN_RESPONSE,
        MemcachedSession.ORPHAN_RESPONSE), f.out.anomalyNames());
    assertEquals(List.of("GET TIMEOUT"), f.out.summary());
    assertTrue(f.out.exchanges.get(0).responseGap());
    assertEquals(0, f.session().pendingRequests());
  }

  @Test
  void pendingRequestsAreBounded() {
    SessionLimits two = new SessionLimits(2, 1 << 20, 16, 8, 1024, 64);
    SessionRecording out = new SessionRecording();
    DatagramSession s = MEMCACHED.newDatagramSession(two);
    for (int i = 0; i < 4; i++) {
      byte[] d = frame(i, 0, 1, text("get k" + i + "\r\n"));
      s.clientDatagram(d, 0, d.length, i, false, i, out);
    }
    assertEquals(2, s.pendingRequests());
    assertEquals(List.of("GET TIMEOUT", "GET TIMEOUT"), out.summary());
    assertEquals(List.of(MemcachedSession.TOO_MANY_PENDING), out.anomalyNames());
  }

  @Test
  void probes() {
    byte[] req = frame(1, 0, 1, text("get k\r\n"));
    byte[] resp = frame(1, 0, 1, text("END\r\n"));
    assertEquals(Protocol.Probe.REQUEST, MEMCACHED.probeDatagram(req, 0, req.length));
    assertEquals(Protocol.Probe.RESPONSE, MEMCACHED.probeDatagram(resp, 0, resp.length));
    byte[] split = frame(1, 0, 2, text("get k\r\n"));
    assertEquals(Protocol.Probe.NO, MEMCACHED.probeDatagram(split, 0, split.length), "requests are one datagram");
    byte[] middle = frame(1, 1, 2, text("END\r\n"));
    assertEquals(Protocol.Probe.NO, MEMCACHED.probeDatagram(middle, 0, middle.length));
    byte[] bin = frame(2, 0, 1, binary(true, 0x00, 0, "k", new byte[0], new byte[0]));
    assertEquals(Protocol.Probe.REQUEST, MEMCACHED.probeDatagram(bin, 0, bin.length));
    assertFalse(MEMCACHED.probeDatagram(new byte[8], 0, 8) != Protocol.Probe.NO);
  }

  private static int indexOf(int[] a, int v) {
    for (int i = 0; i < a.length; i++) {
      if (a[i] == v) {
        return i;
      }
    }
    return -1;
  }

  private static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }
}
