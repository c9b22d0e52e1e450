package dev.tapflow.stream.protocol.dns;

import dev.tapflow.protocol.api.DatagramProtocol;
import dev.tapflow.protocol.api.DatagramSession;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.DataInput;
import java.io.IOException;

/**
 * DNS over UDP and TCP, port 53 by default. The content probes decide the protocol of flows
 * on other ports, so they are strict: a plausible header ({@link DnsDecoder#plausibleHeader})
 * and a message that dnsjava parses whole, a query asking one question. Over TCP the message
 * follows its 2-byte length; when the probed bytes end before the message does, its header
 * and question must be there and read.
 */
public final class DnsProtocol implements DatagramProtocol {

  public static final String NAME = "dns";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int[] defaultPorts() {
    return new int[] {53};
  }

  @Override
  public int[] defaultDatagramPorts() {
    return new int[] {53};
  }

  @Override
  public Probe probeDatagram(byte[] buf, int off, int len) {
    if (len < DnsDecoder.HEADER || !DnsDecoder.plausibleHeader(buf, off, len)) {
      return Probe.NO;
    }
    return verdict(DnsDecoder.parse(buf, off, len, 0, 0, 0, len), true);
  }

  @Override
  public Probe probe(byte[] buf, int off, int len) {
    if (len < 2 + DnsDecoder.HEADER) {
      return Probe.NO;
    }
    int msgLen = DnsDecoder.u16(buf, off);
    if (!DnsDecoder.plausibleHeader(buf, off + 2, msgLen)) {
      return Probe.NO;
    }
    boolean whole = len - 2 >= msgLen;
    return verdict(DnsDecoder.parse(buf, off + 2, whole ? msgLen : len - 2, 0, 0, 0, msgLen), whole);
  }

  private static Probe verdict(DnsMessage m, boolean whole) {
    boolean readable = whole ? m.malformed() == null : m.qname() != null;
    if (!readable || (!m.response() && m.qname() == null)) {
      return Probe.NO;
    }
    return m.response() ? Probe.RESPONSE : Probe.REQUEST;
  }

  @Override
  public ProtocolSession newSession(SessionLimits limits) {
    return DnsSession.overTcp(limits);
  }

  @Override
  public ProtocolSession readSession(DataInput in, SessionLimits limits) throws IOException {
    return DnsSession.readFrom(in, limits, true);
  }

  @Override
  public DatagramSession newDatagramSession(SessionLimits limits) {
    return DnsSession.overUdp(limits);
  }

  @Override
  public DatagramSession readDatagramSession(DataInput in, SessionLimits limits) throws IOException {
    return DnsSession.readFrom(in, limits, false);
  }
}
