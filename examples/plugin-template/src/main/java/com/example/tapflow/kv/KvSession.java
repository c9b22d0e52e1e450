package com.example.tapflow.kv;

import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.MessageSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;

/**
 * One kv connection. {@link MessageSession} holds the requests waiting for an answer, pairs
 * them (by order here; override {@code pairBy}, {@code requestId} and {@code responseId} to
 * pair by an id), times them out and writes the queue to the state store. This class adds the
 * two incremental decoders (here one {@link LineDecoder} per direction), what a gap does, and
 * how a request and its answer become a fact.
 */
final class KvSession extends MessageSession<KvSession.Request, KvSession.Response> {

  /** A request as the fact needs it; small, it waits in the queue. */
  record Request(String command, String key) {}

  /** An answer. */
  record Response(boolean ok, String error) {}

  private final LineDecoder client;
  private final LineDecoder server;

  KvSession(SessionLimits limits) {
    super(limits);
    client = new LineDecoder(limits.maxLineBytes());
    server = new LineDecoder(limits.maxLineBytes());
  }

  static KvSession read(DataInput in, SessionLimits limits) throws IOException {
    KvSession s = new KvSession(limits);
    s.readPending(in);
    s.client.readFrom(in);
    s.server.readFrom(in);
    return s;
  }

  @Override
  public String protocol() {
    return KvProtocol.NAME;
  }

  @Override
  protected void decodeClient(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput out) {
    client.feed(buf, off, len, streamOffset, tsNs, (line, offset, bytes, firstNs, lastNs, gap) -> {
      String[] words = line.split(" ", 3);
      String key = words.length > 1 ? words[1] : null;
      request(new Request(words[0].toUpperCase(Locale.ROOT), key), offset, bytes, firstNs, lastNs, gap, out);
    }, name -> out.anomaly(anomalyName(name), true, streamOffset, null));
  }

  @Override
  protected void decodeServer(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput out) {
    server.feed(buf, off, len, streamOffset, tsNs, (line, offset, bytes, firstNs, lastNs, gap) -> {
      boolean ok = line.equals("OK") || line.startsWith("OK ");
      String error = ok ? null : line.startsWith("ERR ") ? line.substring(4) : line;
      response(new Response(ok, error), offset, bytes, firstNs, lastNs, gap, out);
    }, name -> out.anomaly(anomalyName(name), false, streamOffset, null));
  }

  @Override
  protected void decoderGap(boolean clientSide, long streamOffset, long length, long tsNs, SessionOutput out) {
    // a line cut by a gap is lost: drop it and start again after the next line feed
    (clientSide ? client : server).skipLine();
  }

  @Override
  protected Fact fact(Request q, Response r) {
    if (r == null) {
      return new Fact(q.command(), q.key(), null, FactStatus.TIMEOUT, null, Map.of());
    }
    return new Fact(q.command(), q.key(), null, r.ok() ? FactStatus.OK : FactStatus.ERROR, r.error(), Map.of());
  }

  @Override
  protected void writeRequest(DataOutput out, Request q) throws IOException {
    out.writeUTF(q.command());
    out.writeUTF(q.key() == null ? "" : q.key());
  }

  @Override
  protected Request readRequest(DataInput in) throws IOException {
    String command = in.readUTF();
    String key = in.readUTF();
    return new Request(command, key.isEmpty() ? null : key);
  }

  @Override
  protected void writeDecoders(DataOutput out) throws IOException {
    client.writeTo(out);
    server.writeTo(out);
  }

  /**
   * Lines ending in CRLF, incremental: bytes are kept only up to the line bound; a longer line
   * is the anomaly {@code KV_LINE_TOO_LONG} and is skipped.
   */
  static final class LineDecoder {
    interface Lines {
      void line(String line, long offset, long bytes, long firstNs, long lastNs, boolean gap);
    }

    interface Anomalies {
      void anomaly(String name);
    }

    private final int maxLine;
    private byte[] line = new byte[64];
    private int lineLen;
    private long lineOffset = -1;
    private long lineFirstNs;
    private boolean skipping;

    LineDecoder(int maxLine) {
      this.maxLine = maxLine;
    }

    void feed(byte[] buf, int off, int len, long streamOffset, long tsNs, Lines lines, Anomalies anomalies) {
      for (int i = off; i < off + len; i++) {
        byte b = buf[i];
        if (lineOffset < 0) {
          lineOffset = streamOffset + (i - off);
          lineFirstNs = tsNs;
        }
        if (b == '\n') {
          int n = lineLen > 0 && line[lineLen - 1] == '\r' ? lineLen - 1 : lineLen;
          if (!skipping) {
            lines.line(new String(line, 0, n, StandardCharsets.ISO_8859_1), lineOffset,
                streamOffset + (i - off) + 1 - lineOffset, lineFirstNs, tsNs, false);
          }
          skipping = false;
          lineLen = 0;
          lineOffset = -1;
        } else if (!skipping) {
          if (lineLen == maxLine) {
            anomalies.anomaly("LINE_TOO_LONG");
            skipping = true;
          } else {
            if (lineLen == line.length) {
              line = java.util.Arrays.copyOf(line, Math.min(maxLine, line.length * 2));
            }
            line[lineLen++] = b;
          }
        }
      }
    }

    void skipLine() {
      skipping = true;
      lineLen = 0;
    }

    void writeTo(DataOutput out) throws IOException {
      out.writeInt(lineLen);
      out.write(line, 0, lineLen);
      out.writeLong(lineOffset);
      out.writeLong(lineFirstNs);
      out.writeBoolean(skipping);
    }

    void readFrom(DataInput in) throws IOException {
      lineLen = in.readInt();
      if (lineLen < 0 || lineLen > maxLine) {
        throw new IOException("bad line length in state: " + lineLen);
      }
      line = new byte[Math.max(64, lineLen)];
      in.readFully(line, 0, lineLen);
      lineOffset = in.readLong();
      lineFirstNs = in.readLong();
      skipping = in.readBoolean();
    }
  }
}
