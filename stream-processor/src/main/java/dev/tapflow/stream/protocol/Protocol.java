package dev.tapflow.stream.protocol;

import java.io.DataInput;
import java.io.IOException;

/** A protocol tapflow decodes: how to recognise it and how to start (or restore) a session. */
public interface Protocol {

  /** Name on facts and in configuration: {@code redis}, ... */
  String name();

  /** Default server ports, used when neither a SYN nor configuration says who the server is. */
  int[] defaultPorts();

  /**
   * Looks at the first bytes one side sent and says whether they look like this protocol,
   * and from which side.
   */
  Probe probe(byte[] buf, int off, int len);

  ProtocolSession newSession(SessionLimits limits);

  ProtocolSession readSession(DataInput in, SessionLimits limits) throws IOException;

  /** What a probe concluded about some bytes. */
  enum Probe {
    /** not this protocol, or cannot tell */
    NO,
    /** looks like a request: the sender is the client */
    REQUEST,
    /** looks like a response: the sender is the server */
    RESPONSE,
    /** looks like this protocol, but could be either direction */
    EITHER
  }
}
