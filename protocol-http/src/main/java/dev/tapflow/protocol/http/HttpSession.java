package dev.tapflow.protocol.http;

import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.MessageSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One HTTP/1.x connection: requests and responses pair by order (keep-alive and pipelining;
 * RFC 9112 section 9.3), interim 1xx responses are not answers, and after a 101 or a CONNECT
 * tunnel nothing more is decoded. The server's decoder must know which method it answers (HEAD
 * and CONNECT change the framing): the methods of requests whose head was read, in order, wait
 * in {@link #heads} until a final response takes theirs.
 */
final class HttpSession extends MessageSession<HttpRequest, HttpResponse> {

  private final HttpDecoder client;
  private final HttpDecoder server;
  /** methods of requests whose head was read and that no final response answered yet */
  private final ArrayDeque<String> heads = new ArrayDeque<>();
  private boolean switched;
  private final Listener listener = new Listener();
  /** the output of the call in progress: decoders report through the session's own listener */
  private SessionOutput out;

  HttpSession(SessionLimits limits, boolean keepQuery) {
    super(limits);
    client = new HttpDecoder(true, limits.maxLineBytes(), limits.maxArgBytes(), keepQuery);
    server = new HttpDecoder(false, limits.maxLineBytes(), limits.maxArgBytes(), keepQuery);
  }

  static HttpSession read(DataInput in, SessionLimits limits, boolean keepQuery) throws IOException {
    HttpSession s = new HttpSession(limits, keepQuery);
    s.readPending(in);
    s.client.readFrom(in);
    s.server.readFrom(in);
    int n = in.readInt();
    if (n < 0 || n > limits.maxPendingRequests()) {
      throw new IOException("bad HTTP head count " + n);
    }
    for (int i = 0; i < n; i++) {
      s.heads.add(in.readUTF());
    }
    s.switched = in.readBoolean();
    return s;
  }

  @Override
  public String protocol() {
    return HttpProtocol.NAME;
  }

  @Override
  protected void decodeClient(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput o) {
    if (!switched) {
      out = o;
      client.feed(buf, off, len, streamOffset, tsNs, listener);
    }
  }

  @Override
  protected void decodeServer(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput o) {
    if (!switched) {
      out = o;
      server.feed(buf, off, len, streamOffset, tsNs, listener);
    }
  }

  @Override
  protected void decoderGap(boolean clientSide, long streamOffset, long length, long tsNs, SessionOutput o) {
    out = o;
    (clientSide ? client : server).gap(streamOffset, length, tsNs, listener);
  }

  @Override
  protected void closing(long tsNs, SessionOutput o) {
    out = o;
    server.close(tsNs, Long.MAX_VALUE, listener);
  }

  @Override
  protected Fact fact(HttpRequest q, HttpResponse r) {
    Map<String, String> detail = new LinkedHashMap<>();
    if (!q.host().isEmpty()) {
      detail.put("host", q.host());
    }
    if (q.expectContinue()) {
      detail.put("expect", "100-continue");
    }
    if (r == null) {
      return new Fact(q.method(), q.method() + " " + q.path(), null, FactStatus.TIMEOUT, null, detail);
    }
    detail.put("status_code", Integer.toString(r.code()));
    if (r.interim() != 0) {
      detail.put("interim", Integer.toString(r.interim()));
    }
    if (r.code() == 101 && !q.upgrade().isEmpty()) {
      detail.put("upgrade", q.upgrade());
    }
    detail.put("body_bytes", Long.toString(r.bodyBytes()));
    if (r.chunked()) {
      detail.put("chunked", "true");
    }
    boolean error = r.code() >= 400;
    String err = error ? (r.code() + " " + r.reason()).trim() : null;
    return new Fact(q.method(), q.method() + " " + q.path(), null, error ? FactStatus.ERROR : FactStatus.OK, err,
        detail);
  }

  @Override
  protected void writeRequest(DataOutput o, HttpRequest q) throws IOException {
    o.writeUTF(q.method());
    o.writeUTF(q.path());
    o.writeUTF(q.host());
    o.writeBoolean(q.expectContinue());
    o.writeUTF(q.upgrade());
  }

  @Override
  protected HttpRequest readRequest(DataInput in) throws IOException {
    return new HttpRequest(in.readUTF(), in.readUTF(), in.readUTF(), in.readBoolean(), in.readUTF());
  }

  @Override
  protected void writeDecoders(DataOutput o) throws IOException {
    client.writeTo(o);
    server.writeTo(o);
    o.writeInt(heads.size());
    for (String m : heads) {
      o.writeUTF(m);
    }
    o.writeBoolean(switched);
  }

  /** Between the decoders and the pairing queue. */
  private final class Listener implements HttpDecoder.Listener {
    @Override
    public void requestHead(HttpRequest request) {
      if (heads.size() < limits.maxPendingRequests()) {
        heads.add(request.method());
      }
    }

    @Override
    public String answeredMethod() {
      return heads.peek();
    }

    @Override
    public void request(HttpRequest request, long offset, long bytes, long firstNs, long lastNs, boolean gap) {
      HttpSession.this.request(request, offset, bytes, firstNs, lastNs, gap, out);
    }

    @Override
    public void response(HttpResponse response, long offset, long bytes, long firstNs, long lastNs, boolean gap) {
      heads.poll();
      if (heads.isEmpty() && response.code() != 101) {
        client.resume(); // the request that asked to upgrade was answered without a switch
      }
      HttpSession.this.response(response, offset, bytes, firstNs, lastNs, gap, out);
    }

    @Override
    public void switched(String to) {
      switched = true;
    }

    @Override
    public void anomaly(String name, long offset, String detail) {
      out.anomaly(name, false, offset, detail);
    }
  }
}
