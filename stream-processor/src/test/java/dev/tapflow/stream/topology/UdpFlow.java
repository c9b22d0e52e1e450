package dev.tapflow.stream.topology;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Transport;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Test helper: one synthetic UDP flow between endpoint a (10.0.0.x) and b (10.0.1.1 unless
 * given), as the capture agent publishes it: datagrams with seq, ack and flags 0 and the
 * agent's running packet number.
 */
final class UdpFlow {
  final ConnectionKey key;
  final byte[] keyBytes;
  private long packetNo;

  UdpFlow(String agent, int aLastOctet, int portA, int portB) {
    this(agent, new byte[] {10, 0, 0, (byte) aLastOctet}, portA, new byte[] {10, 0, 1, 1}, portB);
  }

  UdpFlow(String agent, byte[] ipA, int portA, byte[] ipB, int portB) {
    key = ConnectionKey.newBuilder().setAgent(agent).setTransport(Transport.UDP).setIpA(ByteBuffer.wrap(ipA))
        .setPortA(portA).setIpB(ByteBuffer.wrap(ipB)).setPortB(portB).build();
    keyBytes = AvroSerde.connectionKey().encode(key);
  }

  /** A datagram from a to b. */
  Segment ab(long tsNs, byte[] payload) {
    return datagram(true, tsNs, payload, payload.length);
  }

  /** A datagram from b to a. */
  Segment ba(long tsNs, byte[] payload) {
    return datagram(false, tsNs, payload, payload.length);
  }

  /** Skips packet numbers, as other flows' packets would. */
  UdpFlow skip(long packets) {
    packetNo += packets;
    return this;
  }

  Segment datagram(boolean aToB, long tsNs, byte[] payload, int wireLen) {
    return Segment.newBuilder().setTsNs(tsNs).setAToB(aToB).setSeq(0).setAck(0).setFlags(0)
        .setPayload(ByteBuffer.wrap(payload)).setPayloadLen(wireLen).setWireLen(wireLen + 42).setPacketNo(++packetNo)
        .build();
  }

  static SegmentBatch batch(Segment... segments) {
    return SegmentBatch.newBuilder().setSegments(new ArrayList<>(List.of(segments))).build();
  }
}
