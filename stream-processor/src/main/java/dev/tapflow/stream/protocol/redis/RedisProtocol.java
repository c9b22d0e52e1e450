package dev.tapflow.stream.protocol.redis;

import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.DataInput;
import java.io.IOException;

/**
 * Redis (RESP2/RESP3 over TCP). The content probe is deliberately strict, because it decides
 * the protocol of connections on unknown ports: it needs a complete first line and says
 *
 * <ul>
 *   <li>REQUEST for an array of bulk strings ({@code *<n>\r\n$}) or an inline command line
 *       whose first word is a known command (and which is not an HTTP request line);
 *   <li>RESPONSE for a simple reply: {@code +<text>}, {@code -<CODE> <text>}, {@code :<int>},
 *       {@code $<len>} / {@code $-1}, or a RESP3 map/set/push/attribute/null header;
 *   <li>NO for anything else: binary data, HTTP, text protocols whose words Redis lacks.
 * </ul>
 */
public final class RedisProtocol implements Protocol {

  public static final String NAME = "redis";

  /** Bytes a probe looks at for the first line. */
  private static final int PROBE_LINE_MAX = 512;

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int[] defaultPorts() {
    return new int[] {6379};
  }

  @Override
  public Probe probe(byte[] buf, int off, int len) {
    if (len < 3) {
      return Probe.NO;
    }
    int lf = Protocol.firstLineFeed(buf, off, len, PROBE_LINE_MAX);
    if (lf < 0) {
      return Probe.NO; // need a whole first line
    }
    int lineEnd = lf > off && buf[lf - 1] == '\r' ? lf - 1 : lf;
    int lineLen = lineEnd - off;
    byte t = buf[off];
    switch (t) {
      case '*' -> {
        long n = RespDecoder.parseLong(buf, off + 1, lineLen - 1);
        if (lineEnd != lf - 1 || n < 1 || n > 1024 * 1024) {
          return Probe.NO;
        }
        // *<n>\r\n <here> a request's elements are bulk strings
        if (lf + 1 < off + len) {
          return buf[lf + 1] == '$' ? Probe.REQUEST : Probe.NO;
        }
        return Probe.REQUEST;
      }
      case '+' -> {
        return lineEnd == lf - 1 && lineLen > 1 && printable(buf, off + 1, lineEnd) ? Probe.RESPONSE : Probe.NO;
      }
      case '-' -> {
        int i = off + 1;
        while (i < lineEnd && buf[i] >= 'A' && buf[i] <= 'Z') {
          i++;
        }
        boolean ok = i - off >= 3 && (i == lineEnd || buf[i] == ' ') && printable(buf, i, lineEnd);
        return ok && lineEnd == lf - 1 ? Probe.RESPONSE : Probe.NO;
      }
      case ':', '$' -> {
        long n = RespDecoder.parseLong(buf, off + 1, lineLen - 1);
        boolean ok = n != Long.MIN_VALUE && (t == ':' || n >= -1) && lineEnd == lf - 1;
        return ok ? Probe.RESPONSE : Probe.NO;
      }
      case '%', '~', '>', '|' -> {
        long n = RespDecoder.parseLong(buf, off + 1, lineLen - 1);
        return n >= 0 && n <= 1024 * 1024 && lineEnd == lf - 1 ? Probe.RESPONSE : Probe.NO;
      }
      case '_' -> {
        return lineLen == 1 && lineEnd == lf - 1 ? Probe.RESPONSE : Probe.NO;
      }
      default -> {
        return RedisCommands.looksLikeInlineCommand(buf, off, lineLen) ? Probe.REQUEST : Probe.NO;
      }
    }
  }

  private static boolean printable(byte[] b, int from, int to) {
    for (int i = from; i < to; i++) {
      int c = b[i] & 0xff;
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return false;
      }
    }
    return true;
  }

  @Override
  public ProtocolSession newSession(SessionLimits limits) {
    return new RedisSession(limits);
  }

  @Override
  public ProtocolSession readSession(DataInput in, SessionLimits limits) throws IOException {
    return RedisSession.readFrom(in, limits);
  }
}
