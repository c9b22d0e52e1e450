package dev.tapflow.capture;

import static dev.tapflow.capture.TestFrames.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Transport;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SegmentBatcherTest {
  static final long T0 = 1_700_000_000_000_000_000L;
  static final long MS = 1_000_000L;

  record Emitted(ConnectionKey key, SegmentBatch batch) {
    List<Long> packetNos() {
      return batch.getSegments().stream().map(Segment::getPacketNo).toList();
    }
  }

  final List<Emitted> out = new ArrayList<>();
  final CaptureStats stats = new CaptureStats();
  final DecodedPacket p = new DecodedPacket();
  long packetNo;
  SegmentBatcher batcher = batcher(SegmentBatcher.Options.defaults());

  SegmentBatcher batcher(SegmentBatcher.Options o) {
    return new SegmentBatcher("agent-1", (k, b) -> out.add(new Emitted(k, b)), stats, o);
  }

  /** Feeds one raw IP packet at {@code ts}; returns its packet number. */
  long feed(long ts, byte[] ipPacket) {
    long no = ++packetNo;
    stats.packet(ts, ipPacket.length, ipPacket.length);
    SkipReason r = PacketDecoder.decode(LinkType.RAW, ipPacket, 0, ipPacket.length, ipPacket.length, p);
    if (r != null) {
      stats.skip(r);
      batcher.advanceTo(ts);
    } else {
      batcher.accept(p, ts, ipPacket.length, no);
    }
    return no;
  }

  /** client 10.0.0.2:port -> server 10.0.0.1:6379 (so the server is endpoint a). */
  static byte[] c2s(int clientPort, int flags, String payload) {
    return ipv4("10.0.0.2", "10.0.0.1", 6, tcp(clientPort, 6379, 100, 200, flags, 64, ascii(payload)));
  }

  static byte[] s2c(int clientPort, int flags, String payload) {
    return ipv4("10.0.0.1", "10.0.0.2", 6, tcp(6379, clientPort, 200, 100, flags, 64, ascii(payload)));
  }

  static String payload(Segment s) {
    ByteBuffer b = s.getPayload().duplicate();
    byte[] a = new byte[b.remaining()];
    b.get(a);
    return new String(a, java.nio.charset.StandardCharsets.ISO_8859_1);
  }

  @Test
  void segmentFieldsKeyAndDirection() {
    feed(T0, c2s(40000, PSH | ACK, "GET k\r\n"));
    feed(T0 + 1000, s2c(40000, PSH | ACK, "$1\r\nv\r\n"));
    batcher.finish();
    assertEquals(1, out.size());
    ConnectionKey k = out.get(0).key();
    assertEquals("agent-1", k.getAgent());
    assertEquals(Transport.TCP, k.getTransport());
    assertEquals(ByteBuffer.wrap(addr("10.0.0.1")), k.getIpA());
    assertEquals(6379, k.getPortA());
    assertEquals(ByteBuffer.wrap(addr("10.0.0.2")), k.getIpB());
    assertEquals(40000, k.getPortB());
    List<Segment> segs = out.get(0).batch().getSegments();
    Segment req = segs.get(0);
    assertEquals(T0, req.getTsNs());
    assertFalse(req.getAToB(), "client (b) to server (a)");
    assertEquals(100, req.getSeq());
    assertEquals(200, req.getAck());
    assertEquals(PSH | ACK, req.getFlags());
    assertEquals(64, req.getWindow());
    assertEquals("GET k\r\n", payload(req));
    assertEquals(7, req.getPayloadLen());
    assertEquals(20 + 20 + 7, req.getWireLen());
    assertEquals(1, req.getPacketNo());
    Segment resp = segs.get(1);
    assertTrue(resp.getAToB());
    assertEquals("$1\r\nv\r\n", payload(resp));
    assertEquals(2, resp.getPacketNo());
    assertEquals(0, resp.getPayload().position());
    assertEquals(0, resp.getPayload().arrayOffset(), "payload buffers are exactly the payload");
    SegmentBatch b = out.get(0).batch();
    assertFalse(b.getEndOfCapture());
    assertEquals(T0 / MS, BatchListener.timestampMs(b));
  }

  @Test
  void canonicalOrderComparesAddressBytesUnsignedThenPort() {
    // 200.0.0.1 > 10.0.0.1 unsigned (a signed byte compare would say otherwise)
    feed(T0, ipv4("200.0.0.1", "10.0.0.1", 6, tcp(1, 2, 0, 0, SYN, 0, new byte[0])));
    // same address: the lower port is a
    feed(T0, ipv4("127.0.0.1", "127.0.0.1", 6, tcp(50000, 6379, 0, 0, SYN, 0, new byte[0])));
    // IPv6: fe80:: > 2001:db8:: unsigned
    feed(T0, ipv6("fe80::1", "2001:db8::9", 17, udp(53, 53, ascii("q"))));
    // IPv6 differing only in the low half
    feed(T0, ipv6("2001:db8::ff00:0:1", "2001:db8::1", 17, udp(9, 9, ascii("q"))));
    batcher.finish();
    assertEquals(4, out.size());
    ConnectionKey k1 = out.get(0).key();
    assertEquals(ByteBuffer.wrap(addr("10.0.0.1")), k1.getIpA());
    assertEquals(2, k1.getPortA());
    assertFalse(out.get(0).batch().getSegments().get(0).getAToB());
    ConnectionKey k2 = out.get(1).key();
    assertEquals(6379, k2.getPortA());
    assertEquals(50000, k2.getPortB());
    assertFalse(out.get(1).batch().getSegments().get(0).getAToB());
    ConnectionKey k3 = out.get(2).key();
    assertEquals(Transport.UDP, k3.getTransport());
    assertEquals(16, k3.getIpA().remaining());
    assertEquals(ByteBuffer.wrap(addr("2001:db8::9")), k3.getIpA());
    assertEquals(ByteBuffer.wrap(addr("fe80::1")), k3.getIpB());
    assertFalse(out.get(2).batch().getSegments().get(0).getAToB());
    assertEquals(ByteBuffer.wrap(addr("2001:db8::1")), out.get(3).key().getIpA());
  }

  @Test
  void bothDirectionsShareOneBatchAndKeyInstance() {
    for (int i = 0; i < 3; i++) {
      feed(T0 + i * 10 * MS, c2s(40000, PSH | ACK, "req" + i));
      feed(T0 + i * 10 * MS + MS, s2c(40000, PSH | ACK, "resp" + i));
    }
    batcher.finish();
    assertEquals(3, out.size(), "time bound splits every 10 ms round trip");
    for (Emitted e : out) {
      assertSame(out.get(0).key(), e.key(), "the ConnectionKey is built once per connection");
      assertEquals(2, e.batch().getSegments().size());
    }
    assertEquals(List.of(1L, 2L), out.get(0).packetNos());
    assertEquals(List.of(5L, 6L), out.get(2).packetNos());
  }

  @Test
  void pureAcksAreCountedNotPublishedButSynFinRstAndDataAre() {
    feed(T0, c2s(1, SYN, ""));
    feed(T0 + 1, s2c(1, SYN | ACK, ""));
    feed(T0 + 2, c2s(1, ACK, ""));               // pure ACK
    feed(T0 + 3, c2s(1, ACK | PSH, "x"));
    feed(T0 + 4, s2c(1, ACK, ""));               // pure ACK
    feed(T0 + 5, s2c(1, ACK | 0x20, ""));         // ACK+URG, still no data: pure ACK
    feed(T0 + 6, s2c(2, RST, ""));
    feed(T0 + 7, c2s(1, FIN | ACK, ""));
    batcher.finish();
    assertEquals(3, stats.skipped(SkipReason.PURE_ACK));
    assertEquals(5, stats.segments());
    List<Long> published = out.stream().flatMap(e -> e.packetNos().stream()).sorted().toList();
    assertEquals(List.of(1L, 2L, 4L, 7L, 8L), published);
    assertEquals(stats.packets(), stats.segments() + stats.skippedTotal());
  }

  @Test
  void finAndRstFlushAtOnce() {
    feed(T0, c2s(1, PSH | ACK, "a"));
    feed(T0 + 1, c2s(1, FIN | ACK, ""));
    assertEquals(1, out.size(), "FIN flushes");
    assertEquals(List.of(1L, 2L), out.get(0).packetNos());
    feed(T0 + 2, s2c(1, FIN | ACK, ""));
    assertEquals(2, out.size(), "the other FIN flushes a batch of its own");
    feed(T0 + 3, c2s(2, PSH | ACK, "b"));
    feed(T0 + 4, s2c(2, RST | ACK, ""));
    assertEquals(3, out.size(), "RST flushes");
    assertEquals(List.of(4L, 5L), out.get(2).packetNos());
    assertEquals(0, batcher.openBatches());
  }

  @Test
  void timeBoundFlushesWhenCaptureTimeReachesFirstSegmentPlusBound() {
    feed(T0, c2s(1, PSH | ACK, "a"));
    feed(T0 + 4 * MS, s2c(1, PSH | ACK, "b"));
    feed(T0 + 5 * MS - 1, c2s(2, PSH | ACK, "other connection"));
    assertTrue(out.isEmpty(), "not yet: 5 ms - 1 ns");
    feed(T0 + 5 * MS, c2s(3, PSH | ACK, "a third"));
    assertEquals(1, out.size(), "capture time advanced by another connection flushes it");
    assertEquals(List.of(1L, 2L), out.get(0).packetNos());
    // a skipped packet advances capture time too
    feed(T0 + 10 * MS, ipv4("9.9.9.9", "8.8.8.8", 1, new byte[8]));
    assertEquals(3, out.size());
    assertEquals(List.of(3L), out.get(1).packetNos());
    assertEquals(List.of(4L), out.get(2).packetNos());
    assertEquals(1, stats.skipped(SkipReason.NOT_TCP_OR_UDP));
  }

  @Test
  void timeBoundWithTheNewPacketStartingTheNextBatch() {
    feed(T0, c2s(1, PSH | ACK, "a"));
    feed(T0 + 6 * MS, c2s(1, PSH | ACK, "b"));
    feed(T0 + 7 * MS, c2s(1, PSH | ACK, "c"));
    batcher.finish();
    assertEquals(List.of(1L), out.get(0).packetNos());
    assertEquals(List.of(2L, 3L), out.get(1).packetNos());
  }

  @Test
  void sizeBoundKeepsOrderAcrossBatches() {
    batcher = batcher(SegmentBatcher.Options.defaults().withMaxBatchBytes(100));
    for (int i = 0; i < 10; i++) {
      feed(T0 + i, c2s(1, PSH | ACK, "x".repeat(40)));
    }
    assertEquals(3, out.size(), "flushed on reaching 100 bytes: every third 40-byte segment");
    batcher.finish();
    assertEquals(4, out.size());
    List<Long> all = out.stream().flatMap(e -> e.packetNos().stream()).toList();
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L), all);
    assertEquals(List.of(1L, 2L, 3L), out.get(0).packetNos());
    assertEquals(List.of(10L), out.get(3).packetNos());
  }

  @Test
  void defaultSizeBoundIs64KiB() {
    for (int i = 0; i < 20; i++) {
      feed(T0 + i, c2s(1, PSH | ACK, "y".repeat(4096)));
    }
    assertEquals(1, out.size());
    assertEquals(16, out.get(0).batch().getSegments().size());
  }

  @Test
  void segmentCountBound() {
    batcher = batcher(SegmentBatcher.Options.defaults().withMaxBatchSegments(2));
    feed(T0, ipv4("1.1.1.1", "2.2.2.2", 17, udp(5353, 53, ascii("q1"))));
    feed(T0 + 1, ipv4("2.2.2.2", "1.1.1.1", 17, udp(53, 5353, ascii("r1"))));
    feed(T0 + 2, ipv4("1.1.1.1", "2.2.2.2", 17, udp(5353, 53, ascii("q2"))));
    batcher.finish();
    assertEquals(2, out.size());
    Segment udp = out.get(0).batch().getSegments().get(0);
    assertEquals(0, udp.getSeq());
    assertEquals(0, udp.getAck());
    assertEquals(0, udp.getFlags());
    assertEquals(0, udp.getWindow());
    assertEquals("q1", payload(udp));
    assertTrue(udp.getAToB());
    assertEquals(Transport.UDP, out.get(0).key().getTransport());
  }

  @Test
  void tooManyConnectionsFlushTheLeastRecentlyActive() {
    batcher = batcher(SegmentBatcher.Options.defaults().withMaxConnections(2));
    feed(T0, c2s(1, PSH | ACK, "one"));
    feed(T0 + 1, c2s(2, PSH | ACK, "two"));
    feed(T0 + 2, c2s(1, PSH | ACK, "one again"));   // connection 1 is now the most recent
    assertTrue(out.isEmpty());
    feed(T0 + 3, c2s(3, PSH | ACK, "three"));       // evicts connection 2
    assertEquals(1, out.size());
    assertEquals(2, out.get(0).key().getPortB());
    assertEquals(2, batcher.connections());
    feed(T0 + 4, c2s(2, PSH | ACK, "two again"));   // back: evicts 1, gets a new key
    assertEquals(2, out.size());
    assertEquals(1, out.get(1).key().getPortB());
    assertEquals(List.of(1L, 3L), out.get(1).packetNos());
    batcher.finish();
    assertEquals(List.of(4L), out.get(2).packetNos(), "finish flushes the oldest open batch first");
    assertEquals(List.of(5L), out.get(3).packetNos());
    assertEquals(0, batcher.connections());
  }

  @Test
  void bufferedBytesBoundFlushesTheOldestBatch() {
    batcher = batcher(SegmentBatcher.Options.defaults().withMaxBufferedBytes(250));
    feed(T0, c2s(1, PSH | ACK, "a".repeat(100)));
    feed(T0 + 1, c2s(2, PSH | ACK, "b".repeat(100)));
    assertTrue(out.isEmpty());
    feed(T0 + 2, c2s(3, PSH | ACK, "c".repeat(100)));
    assertEquals(1, out.size());
    assertEquals(1, out.get(0).key().getPortB());
    assertEquals(200, batcher.bufferedBytes());
  }

  @Test
  void staleTimeEntriesNeverFlushANewerBatchEarly() {
    batcher = batcher(SegmentBatcher.Options.defaults().withMaxBatchBytes(10));
    feed(T0, c2s(1, PSH | ACK, "0123456789"));        // opens and flushes at once (size)
    feed(T0 + 3 * MS, c2s(1, PSH | ACK, "x"));         // a new batch at 3 ms
    feed(T0 + 6 * MS, c2s(2, PSH | ACK, "y"));         // 6 ms: the first batch's entry is stale
    assertEquals(1, out.size(), "the batch opened at 3 ms is not due before 8 ms");
    feed(T0 + 8 * MS, c2s(2, ACK, ""));                // pure ACK, still advances time
    assertEquals(2, out.size());
    assertEquals(List.of(2L), out.get(1).packetNos());
  }

  @Test
  void manyConnectionsAndBatchesStayBoundedWhenTimeStandsStill() {
    batcher = batcher(SegmentBatcher.Options.defaults().withMaxBatchBytes(1).withMaxConnections(1000));
    for (int i = 0; i < 200_000; i++) {
      feed(T0, c2s(i % 5000, PSH | ACK, "z"));
    }
    assertEquals(200_000, out.size());
    assertEquals(0, batcher.openBatches());
    assertEquals(1000, batcher.connections());
  }

  @Test
  void emittedBatchesAreNotTouchedAfterwards() {
    feed(T0, c2s(1, PSH | ACK, "a"));
    feed(T0 + 6 * MS, c2s(1, PSH | ACK, "b"));
    List<Segment> first = out.get(0).batch().getSegments();
    feed(T0 + 7 * MS, c2s(1, PSH | ACK, "c"));
    batcher.finish();
    assertEquals(1, first.size());
    assertEquals(2, out.get(1).batch().getSegments().size());
  }

  @Test
  void optionsMustBePositive() {
    assertThrows(IllegalArgumentException.class, () -> SegmentBatcher.Options.defaults().withMaxBatchDelayNs(0));
    assertThrows(IllegalArgumentException.class, () -> SegmentBatcher.Options.defaults().withMaxConnections(0));
  }
}
