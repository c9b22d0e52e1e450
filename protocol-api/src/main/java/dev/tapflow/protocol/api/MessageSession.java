package dev.tapflow.protocol.api;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;

/**
 * The part of a request/response session over TCP that is the same for every protocol: the
 * queue of requests waiting for an answer (bounded), pairing by order or by an id the protocol
 * extracts, TIMEOUT and NO_REPLY, the fact fields, and the serialised form. A plug-in extends it
 * with its two incremental decoders ({@link #decodeClient}, {@link #decodeServer}), what it does
 * after a gap, and how a request and its response become a fact ({@link #fact}); the decoders
 * report whole messages with {@link #request} and {@link #response}.
 *
 * <p>Same contract as {@link ProtocolSession}: a decoder consumes what it is given and keeps its
 * place (never re-parses from the start), bounds everything by {@link SessionLimits}, and reports
 * bad input as a named anomaly and resynchronises instead of throwing. A plug-in that throws
 * anyway loses only its connection: tapflow reports {@code PLUGIN_FAILED} and goes on.
 *
 * @param <Q> a decoded request: what the fact needs of it, small (it waits in the queue and in the state store)
 * @param <R> a decoded response
 */
public abstract class MessageSession<Q, R> implements ProtocolSession {

  /** How a response finds its request. */
  public enum PairBy {
    /** the oldest request waiting (HTTP/1.1, Redis, memcached text): pipelining keeps the order */
    ORDER,
    /** the request with the same {@link #requestId} as the response's {@link #responseId} (Kafka, DNS) */
    ID
  }

  /**
   * What a fact says about one request, besides times, sizes and loss.
   *
   * @param command  upper-case, never null (HTTP: the method)
   * @param resource what was asked for, or null (HTTP: method and path)
   * @param args     the rest, short, or null
   * @param status   OK or ERROR when answered; ignored without a response (TIMEOUT, NO_REPLY)
   * @param error    the server's error code or text, or null
   * @param detail   small protocol detail, never secrets
   */
  public record Fact(String command, String resource, String args, FactStatus status, String error,
      Map<String, String> detail) {}

  /** A request waiting for its answer. */
  private record Pending<Q>(Q request, long offset, long bytes, long firstNs, long lastNs, boolean gap) {}

  protected final SessionLimits limits;
  private final ArrayDeque<Pending<Q>> pending = new ArrayDeque<>();

  protected MessageSession(SessionLimits limits) {
    this.limits = limits;
  }

  // ---- what a plug-in writes ----------------------------------------------------------------

  /** Client-to-server bytes, in stream order; report each whole request with {@link #request}. */
  protected abstract void decodeClient(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput out);

  /** Server-to-client bytes, in stream order; report each whole response with {@link #response}. */
  protected abstract void decodeServer(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput out);

  /**
   * Bytes of one direction were never captured: keep the message if its framing survives (a body
   * of known length) and mark it with a gap, else drop it and resynchronise at a message start.
   */
  protected abstract void decoderGap(boolean clientSide, long streamOffset, long length, long tsNs, SessionOutput out);

  /** How a request (and its response, null without one) becomes a fact's fields. */
  protected abstract Fact fact(Q request, R response);

  /** Writes one queued request; {@link #readRequest} reads it back. */
  protected abstract void writeRequest(DataOutput out, Q request) throws IOException;

  protected abstract Q readRequest(DataInput in) throws IOException;

  /** Writes the decoders' state (where each direction is in its message). */
  protected abstract void writeDecoders(DataOutput out) throws IOException;

  /** The pairing rule; {@link PairBy#ORDER} unless overridden. */
  protected PairBy pairBy() {
    return PairBy.ORDER;
  }

  /** The id a request carries, for {@link PairBy#ID}. */
  protected long requestId(Q request) {
    throw new UnsupportedOperationException("pairing by id needs requestId");
  }

  /** The id a response carries, for {@link PairBy#ID}. */
  protected long responseId(R response) {
    throw new UnsupportedOperationException("pairing by id needs responseId");
  }

  /** False for a request the protocol says is never answered: it becomes a NO_REPLY fact at once. */
  protected boolean expectsReply(Q request) {
    return true;
  }

  /** Called when the connection or capture ends, before the waiting requests time out: finish a message that ends with the connection. */
  protected void closing(long tsNs, SessionOutput out) {}

  // ---- what the decoders call ---------------------------------------------------------------

  /**
   * A whole request.
   *
   * @param offset  stream offset of its first byte (the fact's identity)
   * @param bytes   its length on the wire
   * @param firstNs capture time of its first byte
   * @param lastNs  capture time of its last byte (latency counts from here)
   * @param gap     bytes of it were not captured
   */
  protected final void request(Q request, long offset, long bytes, long firstNs, long lastNs, boolean gap,
      SessionOutput out) {
    out.request(offset, bytes, firstNs, lastNs);
    Pending<Q> p = new Pending<>(request, offset, bytes, firstNs, lastNs, gap);
    if (!expectsReply(request)) {
      report(p, null, -1, -1, 0, false, FactStatus.NO_REPLY, out);
      return;
    }
    if (pending.size() >= limits.maxPendingRequests()) {
      Pending<Q> oldest = pending.poll();
      out.anomaly(anomalyName("TOO_MANY_PENDING"), true, oldest.offset(),
          "more than " + limits.maxPendingRequests() + " requests waiting; the oldest times out");
      report(oldest, null, -1, -1, 0, false, FactStatus.TIMEOUT, out);
    }
    pending.add(p);
  }

  /** A whole response; paired by {@link #pairBy()}, or counted as {@code <NAME>_ORPHAN_RESPONSE}. */
  protected final void response(R response, long offset, long bytes, long firstNs, long lastNs, boolean gap,
      SessionOutput out) {
    Pending<Q> match = null;
    if (pairBy() == PairBy.ORDER) {
      match = pending.poll();
    } else {
      long id = responseId(response);
      for (Iterator<Pending<Q>> it = pending.iterator(); it.hasNext(); ) {
        Pending<Q> p = it.next();
        if (requestId(p.request()) == id) {
          it.remove();
          match = p;
          break;
        }
      }
    }
    if (match == null) {
      out.anomaly(anomalyName("ORPHAN_RESPONSE"), false, offset, "a response without a request waiting");
      return;
    }
    Fact f = fact(match.request(), response);
    out.exchange(exchange(match, f, firstNs, lastNs, bytes, gap, f.status(),
        pairBy() == PairBy.ORDER ? Exchange.Pairing.ORDER : Exchange.Pairing.ID));
  }

  /** The oldest request waiting for an answer, or null: what the next response answers when pairing by order. */
  protected final Q oldestPending() {
    Pending<Q> p = pending.peek();
    return p == null ? null : p.request();
  }

  /** {@code <PROTOCOL>_<what>}, the name of one of this protocol's anomalies. */
  protected final String anomalyName(String what) {
    return protocol().toUpperCase(Locale.ROOT).replace('-', '_') + "_" + what;
  }

  // ---- ProtocolSession ----------------------------------------------------------------------

  @Override
  public final void clientData(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput out) {
    decodeClient(buf, off, len, streamOffset, tsNs, out);
  }

  @Override
  public final void serverData(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput out) {
    decodeServer(buf, off, len, streamOffset, tsNs, out);
  }

  @Override
  public final void gap(boolean clientSide, long streamOffset, long length, long tsNs, SessionOutput out) {
    decoderGap(clientSide, streamOffset, length, tsNs, out);
  }

  @Override
  public void expire(long deadlineNs, SessionOutput out) {
    for (Iterator<Pending<Q>> it = pending.iterator(); it.hasNext(); ) {
      Pending<Q> p = it.next();
      if (p.lastNs() < deadlineNs) {
        it.remove();
        report(p, null, -1, -1, 0, false, FactStatus.TIMEOUT, out);
      } else if (pairBy() == PairBy.ORDER) {
        break; // later requests are younger
      }
    }
  }

  @Override
  public void close(long tsNs, SessionOutput out) {
    closing(tsNs, out);
    Pending<Q> p;
    while ((p = pending.poll()) != null) {
      report(p, null, -1, -1, 0, false, FactStatus.TIMEOUT, out);
    }
  }

  @Override
  public int pendingRequests() {
    return pending.size();
  }

  @Override
  public final void writeTo(DataOutput out) throws IOException {
    out.writeInt(pending.size());
    for (Pending<Q> p : pending) {
      out.writeLong(p.offset());
      out.writeLong(p.bytes());
      out.writeLong(p.firstNs());
      out.writeLong(p.lastNs());
      out.writeBoolean(p.gap());
      writeRequest(out, p.request());
    }
    writeDecoders(out);
  }

  /** Reads what {@link #writeTo} wrote before the decoders' state; the protocol's {@code readSession} calls it first. */
  protected final void readPending(DataInput in) throws IOException {
    int n = in.readInt();
    if (n < 0 || n > limits.maxPendingRequests()) {
      throw new IOException("bad pending request count in state: " + n);
    }
    for (int i = 0; i < n; i++) {
      long offset = in.readLong();
      long bytes = in.readLong();
      long firstNs = in.readLong();
      long lastNs = in.readLong();
      boolean gap = in.readBoolean();
      pending.add(new Pending<>(readRequest(in), offset, bytes, firstNs, lastNs, gap));
    }
  }

  private void report(Pending<Q> p, R response, long respFirstNs, long respLastNs, long respBytes, boolean respGap,
      FactStatus status, SessionOutput out) {
    Fact f = fact(p.request(), response);
    out.exchange(exchange(p, f, respFirstNs, respLastNs, respBytes, respGap, status, Exchange.Pairing.NONE));
  }

  private static Exchange exchange(Pending<?> p, Fact f, long respFirstNs, long respLastNs, long respBytes,
      boolean respGap, FactStatus status, Exchange.Pairing pairing) {
    boolean answered = respFirstNs >= 0;
    return new Exchange(f.command(), f.resource(), f.args(), status, answered ? f.error() : null, p.offset(),
        p.firstNs(), p.lastNs(), p.bytes(), respFirstNs, respLastNs, respBytes, p.gap(), respGap, pairing,
        f.detail() == null ? Map.of() : f.detail());
  }
}
