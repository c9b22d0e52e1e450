package dev.tapflow.stream.protocol.dns;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Type;

/**
 * Which response answers which query on one flow (a UDP 5-tuple or a TCP connection): the
 * one with the same ID (RFC 1035 section 7.3; RFC 7766 section 7: over TCP too, in any
 * order). Decisions:
 *
 * <ul>
 *   <li><b>Retransmits</b>: a query with the ID and question of one still pending is the
 *       client asking again, not a second request: one fact, whose {@code request_last_ns} is
 *       the last copy's capture time (so latency counts from the copy the server most likely
 *       answered; {@code response_first_ns - request_first_ns} is what the client waited) and
 *       whose detail says {@code retransmits}.
 *   <li>A query with a pending ID but another question: the client reused the ID, so the
 *       older query can no longer be told from it: the older one is a TIMEOUT and
 *       {@link #ID_REUSED} is raised.
 *   <li><b>Duplicate responses</b>: a response whose ID was answered recently on this flow
 *       (the last {@link #ANSWERED_KEPT}) is counted ({@link #DUPLICATE_RESPONSE}) and pairs
 *       with nothing. Any other response without its query is {@link #ORPHAN_RESPONSE}.
 *   <li>A response that does not parse whole but whose header names a pending query answers
 *       it (the client got an answer, however broken): status from the header's rcode,
 *       detail {@code malformed}.
 *   <li>Queries never answered become TIMEOUT at the window or the flow's end; if bytes of
 *       the server's stream were lost while one was pending, with {@code response_gap}.
 * </ul>
 *
 * Facts: command = the query type ({@code A}, {@code AAAA}, {@code TYPE65534}), or the
 * opcode's name when it is not QUERY ({@code UPDATE}, {@code NOTIFY}) or there is no
 * question; resource = the question's name as sent (case kept: resolvers randomise it,
 * 0x20 encoding), without the final dot; status OK for rcode NOERROR, else ERROR with the
 * rcode's name ({@code NXDOMAIN}); detail {@code id}, {@code qclass}, {@code rcode},
 * {@code answers}, {@code transport}, and when they apply {@code qtype} (opcodes other than
 * QUERY), {@code truncated} (the TC bit), {@code retransmits}, {@code malformed}.
 */
final class DnsCorrelator {

  static final String ORPHAN_RESPONSE = "DNS_ORPHAN_RESPONSE";
  static final String DUPLICATE_RESPONSE = "DNS_DUPLICATE_RESPONSE";
  static final String TOO_MANY_PENDING = "DNS_TOO_MANY_PENDING";
  static final String ID_REUSED = "DNS_ID_REUSED";

  /** Answered IDs remembered per flow, to tell a duplicate response from an orphan. */
  static final int ANSWERED_KEPT = 16;

  private static final int STATE_FORMAT = 1;

  /** A query waiting for its response. */
  private static final class Pending {
    int id;
    int opcode;
    String qname;
    int qtype;
    int qclass;
    long offset;
    long firstNs;
    long lastNs;
    long bytes;
    int retransmits;
    boolean requestGap;
    boolean serverGap;

    boolean sameQuestion(DnsMessage m) {
      return opcode == m.opcode() && qtype == m.qtype() && qclass == m.qclass()
          && (qname == null ? m.qname() == null : qname.equalsIgnoreCase(m.qname()));
    }
  }

  private final SessionLimits limits;
  private final String transport;
  /** by ID, in order of each query's latest copy, so the head is the first to time out */
  private final LinkedHashMap<Integer, Pending> pending = new LinkedHashMap<>();
  private final int[] answered = new int[ANSWERED_KEPT];
  private int answeredCount;
  private boolean evicting;

  /** @param transport {@code udp} or {@code tcp}, on every fact's detail */
  DnsCorrelator(SessionLimits limits, String transport) {
    this.limits = limits;
    this.transport = transport;
  }

  int pendingCount() {
    return pending.size();
  }

  /** A query from the client; {@code cut}: bytes of it were not captured. */
  void query(DnsMessage m, boolean cut, SessionOutput out) {
    Pending old = pending.get(m.id());
    if (old != null && old.sameQuestion(m)) {
      pending.remove(m.id());
      old.lastNs = Math.max(old.lastNs, m.lastNs()); // a copy delivered with an earlier time (reassembly after a hole) never ends it before it began
      old.retransmits++;
      old.requestGap |= cut;
      pending.put(m.id(), old);
      return;
    }
    if (old != null) {
      out.anomaly(ID_REUSED, true, m.offset(), "ID " + m.id() + " reused for another question while pending");
      pending.remove(m.id());
      timeout(old, out);
    }
    if (pending.size() >= Math.max(1, limits.maxPendingRequests())) {
      Iterator<Pending> it = pending.values().iterator();
      Pending oldest = it.next();
      it.remove();
      if (!evicting) {
        out.anomaly(TOO_MANY_PENDING, true, oldest.offset, "more than " + limits.maxPendingRequests() + " pending queries");
        evicting = true;
      }
      timeout(oldest, out);
    }
    Pending p = new Pending();
    p.id = m.id();
    p.opcode = m.opcode();
    p.qname = m.qname();
    p.qtype = m.qtype();
    p.qclass = m.qclass();
    p.offset = m.offset();
    p.firstNs = m.firstNs();
    p.lastNs = m.lastNs();
    p.bytes = m.length();
    p.requestGap = cut;
    pending.put(p.id, p);
  }

  /** A response from the server; {@code cut}: bytes of it were not captured. */
  void response(DnsMessage m, boolean cut, SessionOutput out) {
    Pending p = pending.remove(m.id());
    if (p == null) {
      boolean duplicate = false;
      for (int k = 0; k < Math.min(answeredCount, ANSWERED_KEPT); k++) {
        duplicate |= answered[k] == m.id();
      }
      out.anomaly(duplicate ? DUPLICATE_RESPONSE : ORPHAN_RESPONSE, false, m.offset(),
          (duplicate ? "another response to ID " : "no pending query with ID ") + m.id());
      return;
    }
    answered[answeredCount++ % ANSWERED_KEPT] = m.id();
    if (answeredCount == 2 * ANSWERED_KEPT) {
      answeredCount = ANSWERED_KEPT; // keeps the ring position modulo ANSWERED_KEPT, and the count from overflowing
    }
    evicting = false;
    Map<String, String> detail = detail(p);
    detail.put("rcode", Rcode.string(m.rcode()));
    detail.put("answers", Integer.toString(m.answers()));
    if (m.truncated()) {
      detail.put("truncated", "true");
    }
    if (m.malformed() != null) {
      detail.put("malformed", "true");
    }
    boolean ok = m.rcode() == Rcode.NOERROR;
    out.exchange(new Exchange(command(p), p.qname, null, ok ? FactStatus.OK : FactStatus.ERROR,
        ok ? null : Rcode.string(m.rcode()), p.offset, p.firstNs, p.lastNs, p.bytes, m.firstNs(), m.lastNs(),
        m.length(), p.requestGap, cut, Exchange.Pairing.ID, Collections.unmodifiableMap(detail)));
  }

  /** Bytes of the server's stream were not captured: a pending query's response may have been among them. */
  void serverGap() {
    pending.values().forEach(p -> p.serverGap = true);
  }

  void expire(long deadlineNs, SessionOutput out) {
    Iterator<Pending> it = pending.values().iterator();
    while (it.hasNext()) {
      Pending p = it.next();
      if (p.lastNs >= deadlineNs) {
        break;
      }
      it.remove();
      timeout(p, out);
    }
  }

  void closeAll(SessionOutput out) {
    Iterator<Pending> it = pending.values().iterator();
    while (it.hasNext()) {
      Pending p = it.next();
      it.remove();
      timeout(p, out);
    }
  }

  private void timeout(Pending p, SessionOutput out) {
    out.exchange(new Exchange(command(p), p.qname, null, FactStatus.TIMEOUT, null, p.offset, p.firstNs, p.lastNs,
        p.bytes, -1, -1, 0, p.requestGap, p.serverGap, Exchange.Pairing.NONE, Collections.unmodifiableMap(detail(p))));
  }

  private static String command(Pending p) {
    if (p.opcode == Opcode.QUERY && p.qtype >= 0) {
      return Type.string(p.qtype);
    }
    return Opcode.string(p.opcode);
  }

  private Map<String, String> detail(Pending p) {
    Map<String, String> d = new TreeMap<>();
    d.put("id", Integer.toString(p.id));
    d.put("transport", transport);
    if (p.qclass >= 0) {
      d.put("qclass", DClass.string(p.qclass));
    }
    if (p.opcode != Opcode.QUERY && p.qtype >= 0) {
      d.put("qtype", Type.string(p.qtype));
    }
    if (p.retransmits > 0) {
      d.put("retransmits", Integer.toString(p.retransmits));
    }
    return d;
  }

  // ---- state -------------------------------------------------------------------------------

  void writeTo(DataOutput o) throws IOException {
    o.writeByte(STATE_FORMAT);
    o.writeBoolean(evicting);
    o.writeInt(answeredCount);
    for (int k = 0; k < Math.min(answeredCount, ANSWERED_KEPT); k++) {
      o.writeShort(answered[k]);
    }
    o.writeInt(pending.size());
    for (Pending p : pending.values()) {
      o.writeShort(p.id);
      o.writeByte(p.opcode);
      writeString(o, p.qname);
      o.writeInt(p.qtype);
      o.writeInt(p.qclass);
      o.writeLong(p.offset);
      o.writeLong(p.firstNs);
      o.writeLong(p.lastNs);
      o.writeLong(p.bytes);
      o.writeInt(p.retransmits);
      o.writeBoolean(p.requestGap);
      o.writeBoolean(p.serverGap);
    }
  }

  static DnsCorrelator readFrom(DataInput in, SessionLimits limits, String transport) throws IOException {
    if (in.readByte() != STATE_FORMAT) {
      throw new IOException("unknown DNS pairing state format");
    }
    DnsCorrelator c = new DnsCorrelator(limits, transport);
    c.evicting = in.readBoolean();
    c.answeredCount = in.readInt();
    if (c.answeredCount < 0 || c.answeredCount >= 2 * ANSWERED_KEPT) {
      throw new IOException("bad answered count " + c.answeredCount);
    }
    for (int k = 0; k < Math.min(c.answeredCount, ANSWERED_KEPT); k++) {
      c.answered[k] = in.readUnsignedShort();
    }
    int n = in.readInt();
    if (n < 0 || n > Math.max(1, limits.maxPendingRequests())) {
      throw new IOException("bad pending count " + n);
    }
    for (int i = 0; i < n; i++) {
      Pending p = new Pending();
      p.id = in.readUnsignedShort();
      p.opcode = in.readUnsignedByte();
      p.qname = readString(in);
      p.qtype = in.readInt();
      p.qclass = in.readInt();
      p.offset = in.readLong();
      p.firstNs = in.readLong();
      p.lastNs = in.readLong();
      p.bytes = in.readLong();
      p.retransmits = in.readInt();
      p.requestGap = in.readBoolean();
      p.serverGap = in.readBoolean();
      c.pending.put(p.id, p);
    }
    return c;
  }

  private static void writeString(DataOutput o, String s) throws IOException {
    if (s == null) {
      o.writeShort(-1);
      return;
    }
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    o.writeShort(b.length);
    o.write(b);
  }

  private static String readString(DataInput in) throws IOException {
    int n = in.readShort();
    if (n == -1) {
      return null;
    }
    if (n < 0 || n > 4 * 255) { // a name is at most 255 bytes; escapes (\DDD) at most quadruple it
      throw new IOException("bad name length " + n);
    }
    byte[] b = new byte[n];
    in.readFully(b);
    return new String(b, StandardCharsets.UTF_8);
  }
}
