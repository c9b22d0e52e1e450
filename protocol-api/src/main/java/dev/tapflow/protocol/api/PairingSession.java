package dev.tapflow.protocol.api;

import java.io.DataOutput;
import java.io.IOException;

/**
 * What every protocol session has, whatever carries its messages: the requests waiting for
 * an answer, their end by time or by the flow's end, and a serialised form. A TCP
 * connection's session is fed byte streams ({@link ProtocolSession}); a UDP flow's session
 * is fed datagrams ({@link DatagramSession}).
 */
public interface PairingSession {

  /** The protocol's name as it appears on facts: {@code redis}, {@code memcached}, ... */
  String protocol();

  /** Requests whose last byte was captured before {@code deadlineNs} and are still unanswered become TIMEOUT exchanges. */
  void expire(long deadlineNs, SessionOutput out);

  /** The flow or the capture ended: every pending request is reported (TIMEOUT). */
  void close(long tsNs, SessionOutput out);

  /** Number of requests waiting for an answer. */
  int pendingRequests();

  /** Writes the whole state; the protocol's factory reads it back. */
  void writeTo(DataOutput out) throws IOException;
}
