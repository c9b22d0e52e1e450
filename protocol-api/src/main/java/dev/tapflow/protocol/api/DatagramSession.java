package dev.tapflow.protocol.api;

/**
 * The pairing state of one UDP flow for one protocol. Each datagram is one whole message
 * (or, for protocols that split responses, one numbered part of one): there is no stream,
 * no reassembly and no gap. A datagram's position is the agent's packet number of the
 * packet that carried it; it plays the part a stream offset plays on TCP (a request's
 * {@code requestOffset}, an anomaly's offset) and is stable however processing started.
 *
 * <p>Same contract as {@link ProtocolSession} otherwise: never throws on input, every count
 * and buffer bounded by a named limit, serialisable.
 */
public interface DatagramSession extends PairingSession {

  /**
   * One datagram from the client.
   *
   * @param position the agent's packet number of the datagram
   * @param cut      the capture holds fewer bytes than were sent (snap length)
   * @param tsNs     capture time (of the last fragment, for a reassembled IP datagram)
   */
  void clientDatagram(byte[] buf, int off, int len, long position, boolean cut, long tsNs, SessionOutput out);

  /** One datagram from the server; as {@link #clientDatagram}. */
  void serverDatagram(byte[] buf, int off, int len, long position, boolean cut, long tsNs, SessionOutput out);
}
