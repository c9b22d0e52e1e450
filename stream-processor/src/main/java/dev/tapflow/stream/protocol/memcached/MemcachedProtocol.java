package dev.tapflow.stream.protocol.memcached;

import dev.tapflow.protocol.api.DatagramProtocol;
import dev.tapflow.protocol.api.DatagramSession;
import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.DataInput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * memcached over TCP and UDP, text and binary. The content probe is strict, as it decides the
 * protocol of connections on unknown ports:
 *
 * <ul>
 *   <li>binary: a whole 24-byte header with magic 0x80 (REQUEST) or 0x81 (RESPONSE), a
 *       known opcode, data type 0, extras + key within the body and a body under 1 MiB;
 *   <li>text: a complete first line (CRLF) whose first word is a known command followed by
 *       a space or the line end (REQUEST), or a known response word (RESPONSE), printable.
 * </ul>
 *
 * A UDP datagram probes as memcached when its frame header ({@link MemcachedUdpSession}) starts
 * a message (sequence number 0 of a non-zero total; a request is one datagram) and its payload
 * passes the TCP probe.
 */
public final class MemcachedProtocol implements DatagramProtocol {

  public static final String NAME = "memcached";

  private static final int PROBE_LINE_MAX = 2048;

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int[] defaultPorts() {
    return new int[] {11211};
  }

  @Override
  public int[] defaultDatagramPorts() {
    return new int[] {11211};
  }

  @Override
  public Probe probeDatagram(byte[] buf, int off, int len) {
    if (len <= MemcachedUdpSession.FRAME_HEADER) {
      return Probe.NO;
    }
    int seq = MemcachedUdpSession.u16(buf, off + 2);
    int total = MemcachedUdpSession.u16(buf, off + 4);
    if (seq != 0 || total == 0) {
      return Probe.NO; // only a message's first datagram shows where it starts
    }
    Probe p = probe(buf, off + MemcachedUdpSession.FRAME_HEADER, len - MemcachedUdpSession.FRAME_HEADER);
    return p == Probe.REQUEST && total != 1 ? Probe.NO : p;
  }

  @Override
  public Probe probe(byte[] buf, int off, int len) {
    if (len <= 0) {
      return Probe.NO;
    }
    int b0 = buf[off] & 0xff;
    if (b0 == MemcachedBinaryDecoder.REQUEST_MAGIC || b0 == MemcachedBinaryDecoder.RESPONSE_MAGIC) {
      return binaryProbe(buf, off, len, b0);
    }
    int lf = Protocol.firstLineFeed(buf, off, len, PROBE_LINE_MAX);
    if (lf <= off || buf[lf - 1] != '\r') { // a line feed first: the byte before it is not this message's
      return Probe.NO;
    }
    for (int i = off; i < lf - 1; i++) {
      int c = buf[i] & 0xff;
      if (c < 0x20 || c >= 0x7f) {
        return Probe.NO;
      }
    }
    String line = new String(buf, off, lf - 1 - off, StandardCharsets.ISO_8859_1);
    int sp = line.indexOf(' ');
    String word = sp < 0 ? line : line.substring(0, sp);
    if (MemcachedTextDecoder.isCommand(word.toLowerCase(Locale.ROOT)) && word.equals(word.toLowerCase(Locale.ROOT))) {
      return Probe.REQUEST;
    }
    if (MemcachedTextDecoder.isResponse(word)) {
      return Probe.RESPONSE;
    }
    return Probe.NO;
  }

  private static Probe binaryProbe(byte[] b, int off, int len, int magic) {
    if (len < MemcachedBinaryDecoder.HEADER) {
      return Probe.NO;
    }
    int opcode = b[off + 1] & 0xff;
    int keyLen = ((b[off + 2] & 0xff) << 8) | (b[off + 3] & 0xff);
    int extras = b[off + 4] & 0xff;
    int dataType = b[off + 5] & 0xff;
    long body = ((long) (b[off + 8] & 0xff) << 24) | ((b[off + 9] & 0xff) << 16) | ((b[off + 10] & 0xff) << 8)
        | (b[off + 11] & 0xff);
    if (MemcachedOpcodes.name(opcode) == null || dataType != 0 || keyLen + extras > body || body > (1 << 20)) {
      return Probe.NO;
    }
    return magic == MemcachedBinaryDecoder.REQUEST_MAGIC ? Probe.REQUEST : Probe.RESPONSE;
  }

  @Override
  public ProtocolSession newSession(SessionLimits limits) {
    return new MemcachedSession(limits);
  }

  @Override
  public ProtocolSession readSession(DataInput in, SessionLimits limits) throws IOException {
    return MemcachedSession.readFrom(in, limits);
  }

  @Override
  public DatagramSession newDatagramSession(SessionLimits limits) {
    return new MemcachedUdpSession(limits);
  }

  @Override
  public DatagramSession readDatagramSession(DataInput in, SessionLimits limits) throws IOException {
    return MemcachedUdpSession.readFrom(in, limits);
  }
}
