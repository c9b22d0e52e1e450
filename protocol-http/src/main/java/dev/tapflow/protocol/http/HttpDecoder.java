package dev.tapflow.protocol.http;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;

/**
 * One direction of HTTP/1.x (RFC 9112), incremental: start line and header lines are collected
 * up to a bound, bodies are counted and skipped, never held. Framing: {@code Transfer-Encoding:
 * chunked} (chunk sizes, extensions, trailers), else {@code Content-Length}, else (responses
 * only) until the connection closes; no body for HEAD responses, 1xx, 204 and 304. Interim 1xx
 * responses are not messages (their code is remembered for the final one); a 101 or a 2xx to
 * CONNECT ends HTTP on the connection, and after a request that asks to upgrade the client's
 * bytes wait unread until the server has answered it (they are another protocol after a 101). Bad input is a named anomaly, then the decoder skips to
 * the next line that parses as a start line.
 */
final class HttpDecoder {

  /** What a decoder reports to its session. */
  interface Listener {
    /** A request's head was decoded (its body may follow): what the server will answer next. */
    void requestHead(HttpRequest request);

    /** The method of the request the response being decoded answers, or null when unknown. */
    String answeredMethod();

    void request(HttpRequest request, long offset, long bytes, long firstNs, long lastNs, boolean gap);

    void response(HttpResponse response, long offset, long bytes, long firstNs, long lastNs, boolean gap);

    /** HTTP ends on this connection (101 Switching Protocols, CONNECT tunnel). */
    void switched(String to);

    void anomaly(String name, long offset, String detail);
  }

  private enum State { START_LINE, HEADERS, BODY, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS, UNTIL_CLOSE, STOPPED,
    /** a request asked to upgrade: what the client sends next is not read until the server has answered */
    AWAIT_SWITCH }

  /** Anomaly: a line that is not an HTTP start line where one was due; skipped to the next one. */
  static final String BAD_START_LINE = "HTTP_BAD_START_LINE";
  /** Anomaly: a message head (start line and headers) over {@code maxLineBytes}. */
  static final String HEAD_TOO_LONG = "HTTP_HEAD_TOO_LONG";
  /** Anomaly: a chunk size line that is not hex, or chunk framing broken. */
  static final String BAD_CHUNK = "HTTP_BAD_CHUNK";
  /** Anomaly: a Content-Length that is not a number, or two that differ. */
  static final String BAD_CONTENT_LENGTH = "HTTP_BAD_CONTENT_LENGTH";

  private final boolean requests;
  private final int maxHeadBytes;
  private final int maxPathBytes;
  private final boolean keepQuery;

  private State state = State.START_LINE;
  /** skipping to a start line after bad input or a gap: failures there are not reported again */
  private boolean resyncing;
  private byte[] line = new byte[128];
  private int lineLen;
  private int headBytes;
  private long remaining;

  // the message in progress
  private long msgOffset = -1;
  private long msgFirstNs;
  private boolean msgGap;
  private long contentLength;
  private boolean chunked;
  private long bodyBytes;
  private String method = "";
  private String path = "";
  private String host = "";
  private boolean expectContinue;
  private String upgrade = "";
  private int code;
  private String reason = "";
  private int interim;

  HttpDecoder(boolean requests, int maxHeadBytes, int maxPathBytes, boolean keepQuery) {
    this.requests = requests;
    this.maxHeadBytes = maxHeadBytes;
    this.maxPathBytes = maxPathBytes;
    this.keepQuery = keepQuery;
    reset();
  }

  void feed(byte[] buf, int off, int len, long streamOffset, long tsNs, Listener l) {
    int end = off + len;
    int i = off;
    while (i < end) {
      long pos = streamOffset + (i - off);
      switch (state) {
        case STOPPED, AWAIT_SWITCH -> {
          return;
        }
        case BODY, CHUNK_DATA -> {
          int n = (int) Math.min(remaining, end - i);
          remaining -= n;
          bodyBytes += n;
          i += n;
          if (remaining == 0) {
            if (state == State.BODY) {
              complete(streamOffset + (i - off), tsNs, l);
            } else {
              state = State.CHUNK_END;
            }
          }
        }
        case UNTIL_CLOSE -> {
          bodyBytes += end - i;
          i = end;
        }
        default -> {
          if (state == State.START_LINE && lineLen == 0) {
            byte b = buf[i];
            if (b == '\r' || b == '\n') {
              i++;
              continue; // blank lines between messages (RFC 9112 section 2.2)
            }
            if (msgOffset < 0) {
              msgOffset = pos;
              msgFirstNs = tsNs;
            }
          }
          // the rest of the line in this buffer at once: its bytes count toward the head,
          // and the line keeps up to maxHeadBytes of them
          int lf = indexOf(buf, i, end, (byte) '\n');
          int take = (lf < 0 ? end : lf) - i;
          boolean over = false;
          if ((state == State.START_LINE || state == State.HEADERS) && headBytes + take > maxHeadBytes) {
            take = (int) Math.max(0, maxHeadBytes - headBytes);
            over = true;
          }
          headBytes += take;
          keep(buf, i, Math.min(take, maxHeadBytes - lineLen));
          i += take;
          if (over) {
            headBytes++;
            i++; // the byte that went over is dropped
            l.anomaly(HEAD_TOO_LONG, msgOffset, "head over " + maxHeadBytes + " bytes");
            resync();
            continue;
          }
          if (lf < 0) {
            continue;
          }
          i++; // the LF
          int n = lineLen > 0 && line[lineLen - 1] == '\r' ? lineLen - 1 : lineLen;
          lineLen = 0;
          line(n, streamOffset + (i - off), tsNs, l);
        }
      }
    }
  }

  /** One whole line of {@code n} bytes (without CRLF) in a line state; {@code next} is the offset after it. */
  private void line(int n, long next, long tsNs, Listener l) {
    switch (state) {
      case START_LINE -> {
        if (requests ? requestLine(n) : statusLine(n)) {
          resyncing = false;
          state = State.HEADERS;
        } else {
          if (!resyncing) {
            l.anomaly(BAD_START_LINE, msgOffset, printable(n));
          }
          resync();
        }
      }
      case HEADERS -> {
        if (n > 0) {
          header(n, l);
        } else {
          endOfHead(next, tsNs, l);
        }
      }
      case CHUNK_SIZE -> {
        long size = chunkSize(n);
        if (size < 0) {
          l.anomaly(BAD_CHUNK, next - n - 1, printable(n));
          resync();
        } else if (size == 0) {
          state = State.TRAILERS;
        } else {
          remaining = size;
          state = State.CHUNK_DATA;
        }
      }
      case CHUNK_END -> {
        if (n == 0) {
          state = State.CHUNK_SIZE;
        } else {
          l.anomaly(BAD_CHUNK, next - n - 1, "no CRLF after chunk data");
          resync();
        }
      }
      case TRAILERS -> {
        if (n == 0) {
          complete(next, tsNs, l);
        }
      }
      default -> throw new IllegalStateException(state.name());
    }
  }

  private void endOfHead(long next, long tsNs, Listener l) {
    headBytes = 0;
    if (requests) {
      l.requestHead(head());
      if (chunked) {
        state = State.CHUNK_SIZE;
      } else if (contentLength > 0) {
        remaining = contentLength;
        state = State.BODY;
      } else {
        complete(next, tsNs, l);
      }
      return;
    }
    String answered = l.answeredMethod();
    if (code >= 100 && code < 200 && code != 101) {
      interim = code; // an interim response is not the answer (Expect: 100-continue, 103 Early Hints)
      msgOffset = -1;
      msgGap = false;
      state = State.START_LINE;
      return;
    }
    boolean tunnel = code == 101 || "CONNECT".equals(answered) && code >= 200 && code < 300;
    if (tunnel || "HEAD".equals(answered) || code == 204 || code == 304) {
      complete(next, tsNs, l);
      if (tunnel) {
        state = State.STOPPED;
        l.switched(code == 101 ? "upgrade" : "connect");
      }
    } else if (chunked) {
      state = State.CHUNK_SIZE;
    } else if (contentLength >= 0) {
      remaining = contentLength;
      state = remaining > 0 ? State.BODY : State.START_LINE;
      if (remaining == 0) {
        complete(next, tsNs, l);
      }
    } else {
      state = State.UNTIL_CLOSE;
    }
  }

  private void complete(long end, long tsNs, Listener l) {
    if (requests) {
      l.request(head(), msgOffset, end - msgOffset, msgFirstNs, tsNs, msgGap);
    } else {
      l.response(new HttpResponse(code, reason, interim, bodyBytes, chunked), msgOffset, end - msgOffset, msgFirstNs,
          tsNs, msgGap);
    }
    if (state != State.STOPPED) {
      state = requests && !upgrade.isEmpty() ? State.AWAIT_SWITCH : State.START_LINE;
    }
    reset();
  }

  /** The server did not switch protocols: read the client's bytes again, from the next start line. */
  void resume() {
    if (state == State.AWAIT_SWITCH) {
      resync();
    }
  }

  private HttpRequest head() {
    return new HttpRequest(method, path, host, expectContinue, upgrade);
  }

  private void reset() {
    msgOffset = -1;
    msgGap = false;
    contentLength = requests ? 0 : -1;
    chunked = false;
    bodyBytes = 0;
    headBytes = 0;
    expectContinue = false;
    upgrade = "";
    host = "";
    interim = 0;
  }

  private void resync() {
    resyncing = true;
    state = State.START_LINE;
    lineLen = 0;
    reset();
  }

  /** The connection ended: a response read until close is complete. */
  void close(long tsNs, long end, Listener l) {
    if (state == State.UNTIL_CLOSE) {
      complete(end, tsNs, l);
    }
  }

  /**
   * Bytes {@code [offset, offset+length)} were not captured. A body of known length keeps its
   * framing (the message completes, marked with a gap); otherwise a message whose head was read
   * is reported now, marked, and anything else is dropped; then the decoder resynchronises.
   */
  void gap(long offset, long length, long tsNs, Listener l) {
    switch (state) {
      case STOPPED, AWAIT_SWITCH -> {}
      case UNTIL_CLOSE -> msgGap = true;
      case BODY, CHUNK_DATA -> {
        if (length <= remaining) {
          remaining -= length;
          bodyBytes += length;
          msgGap = true;
          if (remaining == 0) {
            if (state == State.BODY) {
              complete(offset + length, tsNs, l);
            } else {
              state = State.CHUNK_END;
            }
          }
        } else {
          msgGap = true;
          complete(offset + length, tsNs, l);
          resync();
        }
      }
      case CHUNK_SIZE, CHUNK_END, TRAILERS -> {
        msgGap = true;
        complete(offset + length, tsNs, l);
        resync();
      }
      default -> resync(); // a head cut by the gap: its message is lost
    }
  }

  // ---- start lines and headers (RFC 9112 sections 3, 4, 5) ----

  /** {@code method SP request-target SP HTTP-version} */
  private boolean requestLine(int n) {
    int sp1 = indexOf((byte) ' ', 0, n);
    int sp2 = sp1 < 0 ? -1 : indexOf((byte) ' ', sp1 + 1, n);
    if (sp1 <= 0 || sp2 < 0 || n - sp2 - 1 != 8 || !isVersion(sp2 + 1)) {
      return false;
    }
    for (int i = 0; i < sp1; i++) {
      if (!isTokenChar(line[i])) {
        return false;
      }
    }
    method = ascii(0, sp1);
    path = target(sp1 + 1, sp2);
    return true;
  }

  /** {@code HTTP-version SP status-code SP [reason-phrase]} */
  private boolean statusLine(int n) {
    if (n < 12 || !isVersion(0) || line[8] != ' ' || (n > 12 && line[12] != ' ')) {
      return false;
    }
    int c = 0;
    for (int i = 9; i < 12; i++) {
      if (line[i] < '0' || line[i] > '9') {
        return false;
      }
      c = c * 10 + line[i] - '0';
    }
    code = c;
    reason = n > 13 ? ascii(13, Math.min(n, 13 + 64)) : "";
    return true;
  }

  private boolean isVersion(int at) {
    return line[at] == 'H' && line[at + 1] == 'T' && line[at + 2] == 'T' && line[at + 3] == 'P' && line[at + 4] == '/'
        && line[at + 5] == '1' && line[at + 6] == '.' && line[at + 7] >= '0' && line[at + 7] <= '9';
  }

  /** The path of an origin-form or absolute-form target, query dropped unless kept, truncated. */
  private String target(int from, int to) {
    int start = from;
    if (to - from > 7 && (startsWith(from, "http://") || startsWith(from, "https://"))) {
      int slash = indexOf((byte) '/', from + (line[from + 4] == 's' ? 8 : 7), to);
      if (slash < 0) {
        return "/";
      }
      start = slash;
    }
    int stop = to;
    if (!keepQuery) {
      int q = indexOf((byte) '?', start, to);
      if (q >= 0) {
        stop = q;
      }
    }
    return ascii(start, Math.min(stop, start + maxPathBytes));
  }

  private void header(int n, Listener l) {
    int colon = indexOf((byte) ':', 0, n);
    if (colon <= 0 || line[0] == ' ' || line[0] == '\t') {
      return; // obsolete line folding or junk: no header we read
    }
    String name = ascii(0, colon).toLowerCase(Locale.ROOT);
    // only framing headers and Host are read; Authorization, Cookie and the rest are never kept
    switch (name) {
      case "content-length" -> {
        long v = parseLong(colon + 1, n);
        if (v < 0 || (contentLength > 0 && v != contentLength)) {
          l.anomaly(BAD_CONTENT_LENGTH, msgOffset, "Content-Length: " + printable(colon + 1, n));
          resync();
          return;
        }
        contentLength = v;
      }
      case "transfer-encoding" -> chunked = value(colon + 1, n).toLowerCase(Locale.ROOT).endsWith("chunked");
      case "host" -> host = value(colon + 1, Math.min(n, colon + 1 + maxPathBytes));
      case "expect" -> expectContinue = value(colon + 1, n).equalsIgnoreCase("100-continue");
      case "upgrade" -> upgrade = value(colon + 1, Math.min(n, colon + 1 + 64));
      default -> {}
    }
  }

  private long parseLong(int from, int to) {
    String v = value(from, to);
    if (v.isEmpty() || v.length() > 18) {
      return -1;
    }
    long r = 0;
    for (int i = 0; i < v.length(); i++) {
      char ch = v.charAt(i);
      if (ch < '0' || ch > '9') {
        return -1;
      }
      r = r * 10 + ch - '0';
    }
    return r;
  }

  /** {@code chunk-size [ chunk-ext ]}, hex; -1 when not a size. */
  private long chunkSize(int n) {
    long r = 0;
    int i = 0;
    for (; i < n; i++) {
      int d = Character.digit(line[i], 16);
      if (d < 0) {
        break;
      }
      if (i >= 15) {
        return -1;
      }
      r = r * 16 + d;
    }
    return i == 0 || (i < n && line[i] != ';' && line[i] != ' ' && line[i] != '\t') ? -1 : r;
  }

  private static boolean isTokenChar(byte b) {
    return b > 32 && b < 127 && "()<>@,;:\\\"/[]?={}".indexOf(b) < 0;
  }

  private boolean startsWith(int at, String s) {
    for (int i = 0; i < s.length(); i++) {
      if (Character.toLowerCase(line[at + i]) != s.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /** Appends bytes to the line, growing it by doubling up to maxHeadBytes. */
  private void keep(byte[] buf, int from, int n) {
    if (n <= 0) {
      return;
    }
    if (lineLen + n > line.length) {
      int size = line.length;
      while (size < lineLen + n) {
        size *= 2;
      }
      line = Arrays.copyOf(line, Math.min(maxHeadBytes, size));
    }
    System.arraycopy(buf, from, line, lineLen, n);
    lineLen += n;
  }

  private static int indexOf(byte[] b, int from, int to, byte v) {
    for (int i = from; i < to; i++) {
      if (b[i] == v) {
        return i;
      }
    }
    return -1;
  }

  private int indexOf(byte b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (line[i] == b) {
        return i;
      }
    }
    return -1;
  }

  private String value(int from, int to) {
    return ascii(from, to).trim();
  }

  private String ascii(int from, int to) {
    return new String(line, from, to - from, StandardCharsets.ISO_8859_1);
  }

  private String printable(int n) {
    return printable(0, n);
  }

  private String printable(int from, int to) {
    StringBuilder sb = new StringBuilder();
    for (int i = from; i < Math.min(to, from + 40); i++) {
      sb.append(line[i] >= 32 && line[i] < 127 ? (char) line[i] : '.');
    }
    return sb.toString();
  }

  // ---- state ----

  /** Headers whose values are credentials: never held in a saved state (see {@link #savedLine}). */
  private static final String[] CREDENTIAL_HEADERS = {"authorization:", "proxy-authorization:", "cookie:", "set-cookie:"};

  void writeTo(DataOutput out) throws IOException {
    out.writeByte(state.ordinal());
    out.writeBoolean(resyncing);
    out.writeInt(lineLen);
    out.write(savedLine(), 0, lineLen);
    out.writeInt(headBytes);
    out.writeLong(remaining);
    out.writeLong(msgOffset);
    out.writeLong(msgFirstNs);
    out.writeBoolean(msgGap);
    out.writeLong(contentLength);
    out.writeBoolean(chunked);
    out.writeLong(bodyBytes);
    out.writeUTF(method);
    out.writeUTF(path);
    out.writeUTF(host);
    out.writeBoolean(expectContinue);
    out.writeUTF(upgrade);
    out.writeInt(code);
    out.writeUTF(reason);
    out.writeInt(interim);
  }

  /**
   * The header line in progress as a saved state holds it (the state goes to a changelog
   * topic): the value of a credential header (Authorization, Proxy-Authorization, Cookie,
   * Set-Cookie) becomes {@code *}, length kept. Their values are never read, so the restored
   * line makes the same fact; masking again changes nothing.
   */
  private byte[] savedLine() {
    if (state != State.HEADERS) {
      return line;
    }
    for (String name : CREDENTIAL_HEADERS) {
      if (lineLen > name.length() && startsWithIgnoreCase(name)) {
        byte[] out = Arrays.copyOf(line, lineLen);
        for (int i = name.length(); i < lineLen; i++) {
          if (out[i] != ' ' && out[i] != '\t' && out[i] != '\r') {
            out[i] = '*';
          }
        }
        return out;
      }
    }
    return line;
  }

  private boolean startsWithIgnoreCase(String lowerAscii) {
    for (int i = 0; i < lowerAscii.length(); i++) {
      int c = line[i];
      if (c >= 'A' && c <= 'Z') {
        c += 'a' - 'A';
      }
      if (c != lowerAscii.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  void readFrom(DataInput in) throws IOException {
    int s = in.readUnsignedByte();
    if (s >= State.values().length) {
      throw new IOException("bad HTTP decoder state " + s);
    }
    state = State.values()[s];
    resyncing = in.readBoolean();
    lineLen = in.readInt();
    if (lineLen < 0 || lineLen > maxHeadBytes) {
      throw new IOException("bad HTTP line length " + lineLen);
    }
    line = new byte[Math.max(128, lineLen)];
    in.readFully(line, 0, lineLen);
    headBytes = in.readInt();
    remaining = in.readLong();
    msgOffset = in.readLong();
    msgFirstNs = in.readLong();
    msgGap = in.readBoolean();
    contentLength = in.readLong();
    chunked = in.readBoolean();
    bodyBytes = in.readLong();
    method = in.readUTF();
    path = in.readUTF();
    host = in.readUTF();
    expectContinue = in.readBoolean();
    upgrade = in.readUTF();
    code = in.readInt();
    reason = in.readUTF();
    interim = in.readInt();
  }

}
