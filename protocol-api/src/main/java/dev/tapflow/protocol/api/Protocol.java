package dev.tapflow.protocol.api;

import java.io.DataInput;
import java.io.IOException;

/**
 * A protocol tapflow decodes: how to recognise it and how to start (or restore) a session.
 * Built-in protocols and plug-ins implement this same interface and are found the same way,
 * by {@link java.util.ServiceLoader} ({@code META-INF/services/dev.tapflow.protocol.api.Protocol});
 * a plug-in's jar goes on the classpath or in the plug-ins folder ({@code --plugins DIR},
 * default {@code ~/.tapflow/plugins}). An implementation needs a public no-argument constructor.
 *
 * <p>For a request/response protocol over TCP, {@link MessageProtocol} and {@link MessageSession}
 * do the pairing, gaps, limits and state: a plug-in writes a per-direction decoder and says how a
 * message becomes a fact.
 */
public interface Protocol {

  /** Name on facts and in configuration: {@code redis}, ... */
  String name();

  /** Default server ports, used when neither a SYN nor configuration says who the server is. */
  int[] defaultPorts();

  /**
   * The plug-in's version, shown by {@code tapflow protocols}: by default its jar's
   * {@code Implementation-Version}, else {@code unknown}.
   */
  default String version() {
    String v = getClass().getPackage().getImplementationVersion();
    return v == null ? "unknown" : v;
  }

  /**
   * Looks at the first bytes one side sent and says whether they look like this protocol,
   * and from which side.
   */
  Probe probe(byte[] buf, int off, int len);

  ProtocolSession newSession(SessionLimits limits);

  /**
   * For text protocols' probes: the index of the first {@code \n} in the first {@code max} of
   * {@code len} bytes at {@code off}, or -1 when the first line is not complete there.
   */
  static int firstLineFeed(byte[] buf, int off, int len, int max) {
    int end = off + Math.min(len, max);
    for (int i = off; i < end; i++) {
      if (buf[i] == '\n') {
        return i;
      }
    }
    return -1;
  }

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
