package dev.tapflow.stream.protocol.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tapflow.protocol.api.DatagramProtocol;
import dev.tapflow.protocol.api.DatagramSession;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Test-only: one UDP flow's session fed datagram by datagram the way the flow tracker feeds
 * it (positions are running packet numbers), its state written and read back after every
 * datagram, so every test also proves the session continues from its stored state.
 */
public final class DatagramFeeder {

  public final SessionRecording out;
  private final DatagramProtocol protocol;
  private final SessionLimits limits;
  private DatagramSession session;
  private long packet;

  public DatagramFeeder(DatagramProtocol protocol, SessionLimits limits, SessionRecording out) {
    this.protocol = protocol;
    this.limits = limits;
    this.out = out;
    this.session = protocol.newDatagramSession(limits);
  }

  public DatagramFeeder(DatagramProtocol protocol) {
    this(protocol, SessionLimits.DEFAULTS, new SessionRecording());
  }

  public DatagramSession session() {
    return session;
  }

  public DatagramFeeder client(byte[] d, long tsNs) {
    session.clientDatagram(d, 0, d.length, ++packet, false, tsNs, out);
    session = roundTrip(session, protocol, limits);
    return this;
  }

  public DatagramFeeder server(byte[] d, long tsNs) {
    session.serverDatagram(d, 0, d.length, ++packet, false, tsNs, out);
    session = roundTrip(session, protocol, limits);
    return this;
  }

  /** The session written and read back; the copy must write the same bytes and read them all. */
  public static DatagramSession roundTrip(DatagramSession s, DatagramProtocol protocol, SessionLimits limits) {
    try {
      byte[] state = stateOf(s);
      DataInputStream in = new DataInputStream(new ByteArrayInputStream(state));
      DatagramSession back = protocol.readDatagramSession(in, limits);
      assertEquals(0, in.available(), protocol.name() + ": state read back whole");
      assertArrayEquals(state, stateOf(back), protocol.name() + ": state read back the same");
      return back;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static byte[] stateOf(DatagramSession s) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    s.writeTo(new DataOutputStream(bytes));
    return bytes.toByteArray();
  }
}
