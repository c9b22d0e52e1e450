package dev.tapflow.protocol.api;

/**
 * The decoding and pairing state of one TCP connection for one protocol: both directions'
 * incremental decoders and the pending requests. Fed the reassembled bytes of each
 * direction in stream order; reports finished exchanges and anomalies to a
 * {@link SessionOutput}. Never throws on input; every buffer, count and queue is bounded
 * by a named limit. Serialisable ({@link #writeTo}) so that it lives in a state store and a
 * restarted processor continues mid-message.
 */
public interface ProtocolSession extends PairingSession {

  /**
   * Bytes of the client-to-server stream.
   *
   * @param streamOffset offset of {@code buf[off]} in that stream
   * @param tsNs         capture time of the segment that carried these bytes
   */
  void clientData(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput out);

  /** Bytes of the server-to-client stream; as {@link #clientData}. */
  void serverData(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput out);

  /**
   * Bytes {@code [streamOffset, streamOffset + length)} of one direction were never
   * captured. The session drops the message they cut, counts it, and resynchronises.
   */
  void gap(boolean clientSide, long streamOffset, long length, long tsNs, SessionOutput out);
}
