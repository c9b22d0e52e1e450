package dev.tapflow.protocol.http;

import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.DataInput;
import java.io.IOException;

/**
 * HTTP/1.0 and 1.1 over TCP (RFC 9112), the worked example of a protocol plug-in: it uses only
 * the protocol API and is found by {@link java.util.ServiceLoader}. Facts: {@code command} is the
 * method, {@code resource} the method and path ({@code GET /index.html}; the query string is
 * dropped unless the system property {@value #KEEP_QUERY_PROPERTY} is {@code true}),
 * {@code status} ERROR for 4xx and 5xx with {@code error} the status line's code and reason;
 * {@code detail}: {@code status_code}, {@code body_bytes}, {@code host}, and when they apply
 * {@code chunked}, {@code interim} (a 100 Continue or other 1xx seen first), {@code expect},
 * {@code upgrade}. No header value but Host is read into a fact: Authorization and Cookie never are.
 *
 * <p>Probe: REQUEST for a first line {@code TOKEN SP target SP HTTP/1.x}, RESPONSE for
 * {@code HTTP/1.x NNN}; it needs the whole first line.
 */
public final class HttpProtocol implements Protocol {

  public static final String NAME = "http";
  /** {@code -Dtapflow.http.keep-query=true} keeps the query string in the resource. */
  public static final String KEEP_QUERY_PROPERTY = "tapflow.http.keep-query";

  /** Bytes a probe looks at for the first line. */
  private static final int PROBE_LINE_MAX = 2048;

  private final boolean keepQuery = Boolean.getBoolean(KEEP_QUERY_PROPERTY);

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int[] defaultPorts() {
    return new int[] {80, 8080};
  }

  @Override
  public Probe probe(byte[] buf, int off, int len) {
    int lf = Protocol.firstLineFeed(buf, off, len, PROBE_LINE_MAX);
    if (lf < 0) {
      return Probe.NO;
    }
    int lineEnd = lf > off && buf[lf - 1] == '\r' ? lf - 1 : lf;
    if (lineEnd - off >= 12 && version(buf, off) && buf[off + 8] == ' ' && digits(buf, off + 9, 3)) {
      return Probe.RESPONSE;
    }
    int sp = off;
    while (sp < lineEnd && buf[sp] >= 'A' && buf[sp] <= 'Z') {
      sp++;
    }
    if (sp == off || sp >= lineEnd || buf[sp] != ' ' || lineEnd - off < 14) {
      return Probe.NO;
    }
    return buf[lineEnd - 9] == ' ' && version(buf, lineEnd - 8) ? Probe.REQUEST : Probe.NO;
  }

  private static boolean version(byte[] b, int at) {
    return b[at] == 'H' && b[at + 1] == 'T' && b[at + 2] == 'T' && b[at + 3] == 'P' && b[at + 4] == '/'
        && b[at + 5] == '1' && b[at + 6] == '.' && b[at + 7] >= '0' && b[at + 7] <= '9';
  }

  private static boolean digits(byte[] b, int at, int n) {
    for (int i = at; i < at + n; i++) {
      if (b[i] < '0' || b[i] > '9') {
        return false;
      }
    }
    return true;
  }

  @Override
  public ProtocolSession newSession(SessionLimits limits) {
    return new HttpSession(limits, keepQuery);
  }

  @Override
  public ProtocolSession readSession(DataInput in, SessionLimits limits) throws IOException {
    return HttpSession.read(in, limits, keepQuery);
  }
}
