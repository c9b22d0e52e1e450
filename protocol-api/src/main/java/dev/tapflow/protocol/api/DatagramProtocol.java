package dev.tapflow.protocol.api;

import java.io.DataInput;
import java.io.IOException;

/** A protocol that also runs over UDP: how to recognise one of its datagrams, and its datagram sessions. */
public interface DatagramProtocol extends Protocol {

  /** Default UDP server ports, used when configuration does not name one. */
  int[] defaultDatagramPorts();

  /** Looks at one datagram's payload and says whether it is this protocol, and from which side. */
  Probe probeDatagram(byte[] buf, int off, int len);

  DatagramSession newDatagramSession(SessionLimits limits);

  DatagramSession readDatagramSession(DataInput in, SessionLimits limits) throws IOException;
}
