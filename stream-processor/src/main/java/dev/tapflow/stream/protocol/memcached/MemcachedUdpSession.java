package dev.tapflow.stream.protocol.memcached;

import dev.tapflow.protocol.api.DatagramSession;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * memcached over UDP (protocol.txt, "UDP protocol"): every datagram starts with an 8-byte
 * frame header, then text or binary protocol bytes as over TCP.
 *
 * <pre>
 * request id(2) sequence number(2) total datagrams(2) reserved(2) | payload
 * </pre>
 *
 * A request is one datagram (memcached reads nothing else); its response carries the same
 * request id and may span {@code total} datagrams, numbered 0..total-1, whose payloads
 * concatenated in sequence order are a TCP-protocol response. memcached 1.6 answers a
 * multi-key get with several such runs, each numbered from 0: one per value, one for
 * {@code END}; a run that starts after the previous one completed continues the response,
 * which ends where its message ends (the decoder says so). It acknowledges a quiet binary
 * request with a bare frame header (total 0, no payload): that request got nothing, and is
 * NO_REPLY at once.
 *
 * <p>Each request datagram gets its own {@link MemcachedSession}, fed the request as its
 * client stream and the reassembled response as its server stream, so text, meta and binary
 * semantics are TCP's: {@code noreply} is NO_REPLY at once, a quiet binary request left
 * unanswered is NO_REPLY at the window or the end, hits and misses are on the facts. A
 * response datagram goes to the oldest request with its request id that still waits. Response datagrams are fed in sequence order as they arrive; out-of-order ones
 * wait (at most {@link #MAX_PARKED_BYTES} per flow, else {@link #REASSEMBLY_LIMIT}), so a
 * datagram's time is when the datagrams before it had all arrived, as for TCP bytes after a
 * hole. A response still incomplete when its request expires or the flow ends makes that
 * request a TIMEOUT with {@code response_gap}.
 *
 * <p>Facts: pairing {@code id} (a response) or {@code none}; {@code request_offset} is the
 * request datagram's packet number; detail adds {@code transport=udp} and {@code request_id}.
 */
public final class MemcachedUdpSession implements DatagramSession {

  /** A datagram shorter than the frame header, a request over several datagrams, a sequence number not below the total. */
  public static final String BAD_FRAME = "MEMCACHED_UDP_BAD_FRAME";
  /** A response datagram seen twice (the copy is ignored). */
  public static final String DUPLICATE_DATAGRAM = "MEMCACHED_UDP_DUPLICATE_DATAGRAM";
  /** Out-of-order response datagrams exceeded {@link #MAX_PARKED_BYTES}: that response is given up. */
  public static final String REASSEMBLY_LIMIT = "MEMCACHED_UDP_REASSEMBLY_LIMIT";

  static final int FRAME_HEADER = 8;
  /** Payload bytes of out-of-order response datagrams held per flow (default 1 MiB). */
  static final int MAX_PARKED_BYTES = 1 << 20;

  private static final int STATE_FORMAT = 1;

  /** An out-of-order response datagram waiting for those before it. */
  private record Part(long tsNs, boolean cut, byte[] payload) {}

  /** One request datagram, its session, and the reassembly of its response. */
  private static final class Request {
    int requestId;
    long position;
    long tsNs;
    MemcachedSession session;
    /** datagrams in the response; 0 until one arrived */
    int total;
    int nextSeq;
    long serverOffset;
    final TreeMap<Integer, Part> parked = new TreeMap<>();

    boolean responseStarted() {
      return total > 0;
    }

    boolean responseComplete() {
      return total > 0 && nextSeq == total;
    }
  }

  private final SessionLimits limits;
  private final ArrayDeque<Request> requests = new ArrayDeque<>();
  private long parkedBytes;
  private boolean evicting;

  public MemcachedUdpSession(SessionLimits limits) {
    this.limits = limits;
  }

  @Override
  public String protocol() {
    return MemcachedProtocol.NAME;
  }

  static int u16(byte[] b, int i) {
    return ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
  }

  @Override
  public void clientDatagram(byte[] buf, int off, int len, long position, boolean cut, long tsNs, SessionOutput o) {
    if (len <= FRAME_HEADER) {
      o.anomaly(BAD_FRAME, true, position, len + " bytes: no payload after the 8-byte frame header");
      return;
    }
    int seq = u16(buf, off + 2);
    int total = u16(buf, off + 4);
    if (seq != 0 || total != 1) {
      o.anomaly(BAD_FRAME, true, position, "request datagram " + seq + " of " + total + ": memcached takes one-datagram requests");
      return;
    }
    Request r = new Request();
    r.requestId = u16(buf, off);
    r.position = position;
    r.tsNs = tsNs;
    r.session = new MemcachedSession(limits);
    SessionOutput ro = output(r, o);
    r.session.clientData(buf, off + FRAME_HEADER, len - FRAME_HEADER, 0, tsNs, ro);
    if (cut) {
      r.session.gap(true, len - FRAME_HEADER, 1, tsNs, ro);
    }
    if (r.session.pendingRequests() == 0) {
      return; // noreply, or nothing decodable
    }
    // one datagram may hold several requests: the bound is on requests, not datagrams
    int max = Math.max(1, limits.maxPendingRequests());
    while (!requests.isEmpty() && pendingRequests() + r.session.pendingRequests() > max) {
      Request oldest = requests.pollFirst();
      if (!evicting) {
        o.anomaly(MemcachedSession.TOO_MANY_PENDING, true, oldest.position,
            "more than " + limits.maxPendingRequests() + " pending requests");
        evicting = true;
      }
      end(oldest, tsNs, o);
    }
    requests.addLast(r);
  }

  @Override
  public void serverDatagram(byte[] buf, int off, int len, long position, boolean cut, long tsNs, SessionOutput o) {
    if (len < FRAME_HEADER || len == FRAME_HEADER && u16(buf, off + 4) != 0) {
      o.anomaly(BAD_FRAME, false, position, len + " bytes: no payload after the 8-byte frame header");
      return;
    }
    int id = u16(buf, off);
    int seq = u16(buf, off + 2);
    int total = u16(buf, off + 4);
    Request r = waiting(id, tsNs);
    if (len == FRAME_HEADER) {
      // an empty answer (total 0): what the request still waits for never comes
      if (r != null) {
        r.session.expire(Long.MAX_VALUE, output(r, o));
        requests.remove(r);
        unpark(r);
      }
      return;
    }
    if (seq >= total) {
      o.anomaly(BAD_FRAME, false, position, "datagram " + seq + " of " + total);
      return;
    }
    if (r == null) {
      o.anomaly(MemcachedSession.ORPHAN_RESPONSE, false, position, "response datagram for request id " + id
          + " with no pending request");
      return;
    }
    if (r.responseComplete() && seq == 0 || !r.responseStarted()) {
      r.total = total; // the first run, or the next run of a response that goes on
      r.nextSeq = 0;
    } else if (r.total != total) {
      o.anomaly(BAD_FRAME, false, position, "request id " + id + ": total " + total + " in a run of " + r.total);
      return;
    }
    if (seq < r.nextSeq || r.parked.containsKey(seq)) {
      o.anomaly(DUPLICATE_DATAGRAM, false, position, "request id " + id + " datagram " + seq + " again");
      return;
    }
    byte[] payload = java.util.Arrays.copyOfRange(buf, off + FRAME_HEADER, off + len);
    if (seq > r.nextSeq) {
      if (parkedBytes + payload.length > MAX_PARKED_BYTES) {
        o.anomaly(REASSEMBLY_LIMIT, false, position, "more than " + MAX_PARKED_BYTES
            + " bytes of out-of-order response datagrams");
        requests.remove(r);
        end(r, tsNs, o);
        return;
      }
      r.parked.put(seq, new Part(tsNs, cut, payload));
      parkedBytes += payload.length;
      return;
    }
    SessionOutput ro = output(r, o);
    feed(r, payload, cut, tsNs, ro);
    while (!r.parked.isEmpty() && r.parked.firstKey() == r.nextSeq) {
      Part p = r.parked.pollFirstEntry().getValue();
      parkedBytes -= p.payload().length;
      feed(r, p.payload(), p.cut(), tsNs, ro); // bytes after a filled hole take the time it was filled
    }
    if (r.session.pendingRequests() == 0) {
      requests.remove(r);
      unpark(r);
      evicting = false;
    }
  }

  /** The oldest request with this id, captured by {@code tsNs}, still waiting for (more of) its answer. */
  private Request waiting(int requestId, long tsNs) {
    for (Request q : requests) {
      if (q.requestId == requestId && q.tsNs <= tsNs && (q.session.pendingRequests() > 0 || !q.responseComplete())) {
        return q;
      }
    }
    return null;
  }

  private void feed(Request r, byte[] payload, boolean cut, long tsNs, SessionOutput ro) {
    r.session.serverData(payload, 0, payload.length, r.serverOffset, tsNs, ro);
    r.serverOffset += payload.length;
    r.nextSeq++;
    if (cut) {
      r.session.gap(false, r.serverOffset, 1, tsNs, ro);
      r.serverOffset += 1;
    }
  }

  /** Ends a request: a response begun and not complete is a gap, then what is pending is reported. */
  private void end(Request r, long tsNs, SessionOutput o) {
    SessionOutput ro = output(r, o);
    if (r.responseStarted() && !r.responseComplete()) {
      r.session.gap(false, r.serverOffset, 1, tsNs, ro);
    }
    r.session.close(tsNs, ro);
    unpark(r);
  }

  private void unpark(Request r) {
    for (Part p : r.parked.values()) {
      parkedBytes -= p.payload().length;
    }
    r.parked.clear();
  }

  @Override
  public void expire(long deadlineNs, SessionOutput o) {
    List<Request> done = new ArrayList<>();
    for (Request r : requests) {
      if (r.tsNs >= deadlineNs) {
        break;
      }
      SessionOutput ro = output(r, o);
      if (r.responseStarted() && !r.responseComplete()) {
        r.session.gap(false, r.serverOffset, 1, deadlineNs, ro);
      }
      r.session.expire(deadlineNs, ro);
      if (r.session.pendingRequests() == 0) {
        done.add(r);
      }
    }
    for (Request r : done) {
      requests.remove(r);
      unpark(r);
    }
  }

  @Override
  public void close(long tsNs, SessionOutput o) {
    while (!requests.isEmpty()) {
      end(requests.pollFirst(), tsNs, o);
    }
  }

  @Override
  public int pendingRequests() {
    int n = 0;
    for (Request r : requests) {
      n += r.session.pendingRequests();
    }
    return n;
  }

  /**
   * The request's session reports through this: request offsets become the request
   * datagram's packet number (plus the byte index, for a second request in one datagram),
   * pairing is by request id, and the detail says so.
   */
  private static SessionOutput output(Request r, SessionOutput o) {
    return new SessionOutput() {
      @Override
      public void exchange(Exchange e) {
        Map<String, String> detail = new TreeMap<>(e.detail());
        detail.put("transport", "udp");
        detail.put("request_id", Integer.toString(r.requestId));
        o.exchange(new Exchange(e.command(), e.resource(), e.args(), e.status(), e.error(),
            r.position + e.requestOffset(), e.requestFirstNs(), e.requestLastNs(), e.requestBytes(),
            e.responseFirstNs(), e.responseLastNs(), e.responseBytes(), e.requestGap(), e.responseGap(),
            e.hasResponse() ? Exchange.Pairing.ID : Exchange.Pairing.NONE, Collections.unmodifiableMap(detail)));
      }

      @Override
      public void anomaly(String name, boolean clientSide, long streamOffset, String detail) {
        o.anomaly(name, clientSide, clientSide ? r.position + streamOffset : streamOffset, detail);
      }
    };
  }

  // ---- state -------------------------------------------------------------------------------

  @Override
  public void writeTo(DataOutput o) throws IOException {
    o.writeByte(STATE_FORMAT);
    o.writeBoolean(evicting);
    o.writeInt(requests.size());
    for (Request r : requests) {
      o.writeShort(r.requestId);
      o.writeLong(r.position);
      o.writeLong(r.tsNs);
      o.writeShort(r.total);
      o.writeShort(r.nextSeq);
      o.writeLong(r.serverOffset);
      o.writeInt(r.parked.size());
      for (Map.Entry<Integer, Part> e : r.parked.entrySet()) {
        o.writeShort(e.getKey());
        o.writeLong(e.getValue().tsNs());
        o.writeBoolean(e.getValue().cut());
        o.writeInt(e.getValue().payload().length);
        o.write(e.getValue().payload());
      }
      r.session.writeTo(o);
    }
  }

  static MemcachedUdpSession readFrom(DataInput in, SessionLimits limits) throws IOException {
    if (in.readByte() != STATE_FORMAT) {
      throw new IOException("unknown memcached UDP session state format");
    }
    MemcachedUdpSession s = new MemcachedUdpSession(limits);
    s.evicting = in.readBoolean();
    int n = in.readInt();
    if (n < 0 || n > Math.max(1, limits.maxPendingRequests())) {
      throw new IOException("bad request count " + n);
    }
    for (int i = 0; i < n; i++) {
      Request r = new Request();
      r.requestId = in.readUnsignedShort();
      r.position = in.readLong();
      r.tsNs = in.readLong();
      r.total = in.readUnsignedShort();
      r.nextSeq = in.readUnsignedShort();
      r.serverOffset = in.readLong();
      int parts = in.readInt();
      if (parts < 0 || parts > 65535) {
        throw new IOException("bad parked count " + parts);
      }
      for (int k = 0; k < parts; k++) {
        int seq = in.readUnsignedShort();
        long ts = in.readLong();
        boolean cut = in.readBoolean();
        int len = in.readInt();
        if (len < 0 || s.parkedBytes + len > MAX_PARKED_BYTES) {
          throw new IOException("bad parked datagram length " + len);
        }
        byte[] payload = new byte[len];
        in.readFully(payload);
        r.parked.put(seq, new Part(ts, cut, payload));
        s.parkedBytes += len;
      }
      r.session = MemcachedSession.readFrom(in, limits);
      s.requests.addLast(r);
    }
    return s;
  }
}
