package dev.tapflow.stream.topology;

import dev.tapflow.schemas.LatencyFact;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * What a latency window aggregates over: one agent's view of one command of one protocol on
 * one server endpoint. Its byte form (each text length-prefixed, then the port) is
 * unambiguous, so a key made of it followed by more bytes never matches another group's.
 */
record LatencyGroup(String agent, String protocol, String serverIp, int serverPort, String command) {

  static LatencyGroup of(LatencyFact f) {
    return new LatencyGroup(f.getAgent(), f.getProtocol(), f.getServerIp(), f.getServerPort(), f.getCommand());
  }

  byte[] toBytes() {
    byte[][] texts = {utf8(agent), utf8(protocol), utf8(serverIp), utf8(command)};
    int n = 4;
    for (byte[] t : texts) {
      n += 4 + t.length;
    }
    ByteBuffer b = ByteBuffer.allocate(n);
    for (byte[] t : texts) {
      b.putInt(t.length).put(t);
    }
    return b.putInt(serverPort).array();
  }

  /** Reads a group at the buffer's position, leaving it just after. */
  static LatencyGroup read(ByteBuffer b) {
    String agent = text(b);
    String protocol = text(b);
    String serverIp = text(b);
    String command = text(b);
    return new LatencyGroup(agent, protocol, serverIp, b.getInt(), command);
  }

  private static String text(ByteBuffer b) {
    byte[] t = new byte[b.getInt()];
    b.get(t);
    return new String(t, StandardCharsets.UTF_8);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
