package dev.tapflow.stream.protocol;

import java.io.DataOutput;
import java.io.IOException;

/**
 * The decoding and pairing state of one connection for one protocol: both directions'
 * incremental decoders and the pending requests. Fed the reassembled bytes of each
 * direction in stream order; reports finished exchanges and anomalies to a
 * {@link SessionOutput}. Never throws on input; every buffer, count and queue is bounded
 * by a named limit. Serialisable ({@link #writeTo}) so that it lives in a state store and a
 * restarted processor continues mid-message.
 */
public interface ProtocolSession {

  /** The protocol's name as it appears on facts: {@code redis}, {@code memcached}, ... */
  String protocol();

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

  /** Requests whose last byte was captured before {@code deadlineNs} and are still unanswered become TIMEOUT exchanges. */
  void expire(long deadlineNs, SessionOutput out);

  /** The connection or the capture ended: every pending request is reported (TIMEOUT). */
  void close(long tsNs, SessionOutput out);

  /** Number of requests waiting for an answer. */
  int pendingRequests();

  /** Writes the whole state; the protocol's factory reads it back. */
  void writeTo(DataOutput out) throws IOException;
}
