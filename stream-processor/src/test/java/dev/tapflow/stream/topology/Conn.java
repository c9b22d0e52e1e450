package dev.tapflow.stream.topology;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Transport;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Test helper: one synthetic TCP connection (client a, server b in canonical order) whose
 * segments carry given bytes with given capture times, tracking sequence numbers.
 */
final class Conn {
  static final long MS = 1_000_000L;

  final ConnectionKey key;
  final byte[] keyBytes;
  private long clientSeq = 1000;
  private long serverSeq = 5000;
  private long packetNo;

  Conn(String agent, int clientLastOctet, int clientPort, int serverPort) {
    // client 10.0.0.x sorts before server 10.0.1.1, so a = client
    key = ConnectionKey.newBuilder()
        .setAgent(agent)
        .setTransport(Transport.TCP)
        .setIpA(ByteBuffer.wrap(new byte[] {10, 0, 0, (byte) clientLastOctet}))
        .setPortA(clientPort)
        .setIpB(ByteBuffer.wrap(new byte[] {10, 0, 1, 1}))
        .setPortB(serverPort)
        .build();
    keyBytes = AvroSerde.connectionKey().encode(key);
  }

  Segment syn(long tsNs) {
    return seg(true, tsNs, clientSeq++, 0x02, new byte[0]);
  }

  Segment synAck(long tsNs) {
    return seg(false, tsNs, serverSeq++, 0x12, new byte[0]);
  }

  Segment client(long tsNs, String data) {
    byte[] b = data.getBytes(StandardCharsets.ISO_8859_1);
    Segment s = seg(true, tsNs, clientSeq, 0x18, b);
    clientSeq += b.length;
    return s;
  }

  Segment server(long tsNs, String data) {
    byte[] b = data.getBytes(StandardCharsets.ISO_8859_1);
    Segment s = seg(false, tsNs, serverSeq, 0x18, b);
    serverSeq += b.length;
    return s;
  }

  Segment clientFin(long tsNs) {
    return seg(true, tsNs, clientSeq++, 0x11, new byte[0]);
  }

  Segment serverFin(long tsNs) {
    return seg(false, tsNs, serverSeq++, 0x11, new byte[0]);
  }

  private Segment seg(boolean aToB, long tsNs, long seq, int flags, byte[] payload) {
    return Segment.newBuilder()
        .setTsNs(tsNs)
        .setAToB(aToB)
        .setSeq(seq & 0xFFFFFFFFL)
        .setAck((aToB ? serverSeq : clientSeq) & 0xFFFFFFFFL) // everything the other side sent so far
        .setFlags(flags)
        .setPayload(ByteBuffer.wrap(payload))
        .setPayloadLen(payload.length)
        .setWireLen(payload.length + 54)
        .setPacketNo(++packetNo)
        .build();
  }

  static SegmentBatch batch(Segment... segments) {
    return SegmentBatch.newBuilder().setSegments(new ArrayList<>(List.of(segments))).build();
  }

  static SegmentBatch endOfCapture(long tsNs) {
    return SegmentBatch.newBuilder().setSegments(new ArrayList<>()).setEndOfCapture(true).setEndTsNs(tsNs).build();
  }

  static String resp(String... args) {
    StringBuilder sb = new StringBuilder("*").append(args.length).append("\r\n");
    for (String a : args) {
      sb.append('$').append(a.length()).append("\r\n").append(a).append("\r\n");
    }
    return sb.toString();
  }
}
