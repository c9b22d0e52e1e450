package dev.tapflow.stream.protocol.memcached;

import dev.tapflow.protocol.api.DecoderListener;
import java.util.function.Consumer;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Map;

/**
 * One memcached TCP connection, text or binary (decided by the first byte: 0x80 from the
 * client, or 0x81 from the server, means binary). Pairing rules:
 *
 * <ul>
 *   <li><b>Text</b>: memcached answers in order, one response each. {@code noreply} and
 *       {@code quit} are NO_REPLY at once and never take a response. Meta quiet ({@code q})
 *       requests stay pending: a response with a code the quiet head cannot return (its
 *       suppressed success code, a code of another command, {@code MN}) shows the quiet
 *       head got nothing (NO_REPLY); any other response answers it (the server answers in
 *       order; a quiet request with no response followed by a request answered with a code
 *       the quiet one could also have returned is ambiguous, and is paired with the quiet
 *       one, unless the response returns an opaque ({@code O}) or key ({@code k}) that the
 *       quiet request does not carry).
 *   <li><b>Binary</b>: a response answers the oldest pending request with its opcode and
 *       opaque. Every older pending request got no response: quiet ones are NO_REPLY (a
 *       quiet success or GetQ/GetKQ miss), others TIMEOUT (with {@code MEMCACHED_MISSING_RESPONSE}).
 *       A Stat response is many packets and ends with an empty-key packet: one fact.
 *       Status 0 is OK, any other ERROR with the status name.
 *   <li><b>Quiet requests left at the end</b> ({@link #expire}, {@link #close}) are NO_REPLY,
 *       not TIMEOUT: the protocol says they are answered only on error.
 *   <li><b>Causality</b>: a response captured before the head request's last byte cannot
 *       answer it: {@code MEMCACHED_ORPHAN_RESPONSE}, as is any response with nothing pending.
 *   <li><b>Gaps</b>: a server-side gap times out everything pending (with
 *       {@code response_gap}); in the text protocol a client-side gap too, as the replies to
 *       requests it held would shift pairs (replies to the lost requests then meet an empty
 *       queue or causality and are orphans). Binary responses carry their request's opaque,
 *       so a client-side gap costs only the requests in it.
 * </ul>
 *
 * Hits and misses of retrievals (get/gets/gat/gats, mg, binary Get*) are on each such fact's
 * {@code detail} ({@code hits}, {@code misses}: keys found and not found) and counted on the
 * session ({@link #hits()}, {@link #misses()}).
 */
public final class MemcachedSession implements ProtocolSession {

  /** set by a response handler for the fact it is about to emit (not state: consumed in the same call) */
  private Map<String, String> factDetail = Map.of();

  public static final String ORPHAN_RESPONSE = "MEMCACHED_ORPHAN_RESPONSE";
  public static final String MISSING_RESPONSE = "MEMCACHED_MISSING_RESPONSE";
  public static final String TOO_MANY_PENDING = "MEMCACHED_TOO_MANY_PENDING";
  public static final String GAP = "MEMCACHED_GAP";
  public static final String INCOMPLETE_AT_CLOSE = "MEMCACHED_INCOMPLETE_AT_CLOSE";

  private static final int STATE_FORMAT = 1;
  private static final byte MODE_UNKNOWN = 0;
  private static final byte MODE_TEXT = 1;
  private static final byte MODE_BINARY = 2;

  /** A request waiting for its response (mutable: a Stat response arrives in parts). */
  private static final class Pending {
    String command;
    String resource;
    String args;
    long offset;
    long firstNs;
    long lastNs;
    long bytes;
    boolean quiet;
    int keys;
    int opcode;
    int opaque;
    long respFirstNs = -1;
    long respBytes;
  }

  private final SessionLimits limits;
  private byte mode = MODE_UNKNOWN;
  private MemcachedTextDecoder textClient;
  private MemcachedTextDecoder textServer;
  private MemcachedBinaryDecoder binClient;
  private MemcachedBinaryDecoder binServer;
  private final ArrayDeque<Pending> pending = new ArrayDeque<>();
  private long hits;
  private long misses;
  private boolean evicting;

  private SessionOutput out;
  private final DecoderListener<MemcachedMessage> textClientListener = listener(this::onRequest, true);
  private final DecoderListener<MemcachedMessage> textServerListener = listener(this::onTextResponse, false);
  private final DecoderListener<MemcachedMessage> binClientListener = listener(this::onRequest, true);
  private final DecoderListener<MemcachedMessage> binServerListener = listener(this::onBinaryResponse, false);

  public MemcachedSession(SessionLimits limits) {
    this.limits = limits;
  }

  @Override
  public String protocol() {
    return MemcachedProtocol.NAME;
  }

  /** Retrieval keys answered with a value so far. */
  public long hits() {
    return hits;
  }

  /** Retrieval keys answered without a value so far. */
  public long misses() {
    return misses;
  }

  private void setMode(byte m) {
    mode = m;
    if (m == MODE_TEXT) {
      textClient = new MemcachedTextDecoder(true, limits);
      textServer = new MemcachedTextDecoder(false, limits);
    } else {
      binClient = new MemcachedBinaryDecoder(true, limits);
      binServer = new MemcachedBinaryDecoder(false, limits);
    }
  }

  @Override
  public void clientData(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput o) {
    feed(true, buf, off, len, streamOffset, tsNs, o);
  }

  @Override
  public void serverData(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput o) {
    feed(false, buf, off, len, streamOffset, tsNs, o);
  }

  private void feed(boolean clientSide, byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput o) {
    if (len <= 0) {
      return;
    }
    if (mode == MODE_UNKNOWN) {
      int b = buf[off] & 0xff;
      setMode(clientSide ? (b == MemcachedBinaryDecoder.REQUEST_MAGIC ? MODE_BINARY : MODE_TEXT)
          : (b == MemcachedBinaryDecoder.RESPONSE_MAGIC ? MODE_BINARY : MODE_TEXT));
    }
    boolean started = mode == MODE_TEXT ? (clientSide ? textClient : textServer).started()
        : (clientSide ? binClient : binServer).started();
    long next = mode == MODE_TEXT ? (clientSide ? textClient : textServer).nextOffset()
        : (clientSide ? binClient : binServer).nextOffset();
    if (started && streamOffset > next) {
      gap(clientSide, next, streamOffset - next, tsNs, o);
    }
    out = o;
    try {
      if (mode == MODE_TEXT) {
        (clientSide ? textClient : textServer).decode(buf, off, len, streamOffset, tsNs,
            clientSide ? textClientListener : textServerListener);
      } else {
        (clientSide ? binClient : binServer).decode(buf, off, len, streamOffset, tsNs,
            clientSide ? binClientListener : binServerListener);
      }
    } finally {
      out = null;
    }
  }

  // ---- requests ----------------------------------------------------------------------------

  private void onRequest(MemcachedMessage m) {
    out.request(m.offset(), m.length(), m.firstNs(), m.lastNs());
    Pending p = new Pending();
    p.command = m.command();
    p.resource = m.key();
    p.args = m.args();
    p.offset = m.offset();
    p.firstNs = m.firstNs();
    p.lastNs = m.lastNs();
    p.bytes = m.length();
    p.quiet = m.quiet();
    p.keys = m.keys();
    p.opcode = m.opcode();
    p.opaque = m.opaque();
    if (m.noreply()) {
      emit(p, FactStatus.NO_REPLY, null, -1, -1, 0, false);
      return;
    }
    if (pending.size() >= Math.max(1, limits.maxPendingRequests())) {
      Pending old = pending.pollFirst();
      if (!evicting) {
        out.anomaly(TOO_MANY_PENDING, true, old.offset, "more than " + limits.maxPendingRequests() + " pending requests");
        evicting = true;
      }
      emit(old, old.quiet ? FactStatus.NO_REPLY : FactStatus.TIMEOUT, null, -1, -1, 0, false);
    }
    pending.addLast(p);
  }

  // ---- text responses ----------------------------------------------------------------------

  /**
   * Could this response code answer this quiet meta request? The {@code q} flag hides the
   * success code (mg: EN; ms, md, ma: HD; protocol.txt "Meta ..."; memcached 1.6 still sends
   * NF for a quiet md), errors always come, and each command has its own set of codes
   * (ms answers NF only in append/prepend/replace mode, {@code MA}/{@code MP}/{@code MR}).
   */
  private static boolean quietCanAnswer(Pending p, String code) {
    if (Words.is(code, "ERROR") || Words.is(code, "CLIENT_ERROR") || Words.is(code, "SERVER_ERROR")) {
      return true;
    }
    return switch (p.command) {
      case "MG" -> Words.is(code, "VA") || Words.is(code, "HD");
      case "MS" -> Words.is(code, "NS") || Words.is(code, "EX") || Words.is(code, "NF") && msModeNeedsItem(p.args);
      case "MD" -> Words.is(code, "NF") || Words.is(code, "EX");
      case "MA" -> Words.is(code, "VA") || Words.is(code, "NF") || Words.is(code, "NS") || Words.is(code, "EX");
      case "MN" -> Words.is(code, "MN");
      default -> true;
    };
  }

  /** A meta response that returns an opaque ({@code O}) or key ({@code k}) answers only the request with the same. */
  private static boolean sameMetaIdentity(Pending p, MemcachedMessage m) {
    if (m.args() != null && !m.args().equals(metaFlag(p.args, 'O'))) {
      return false;
    }
    return m.key() == null || m.key().equals(p.resource);
  }

  private static String metaFlag(String args, char flag) {
    if (args == null) {
      return null;
    }
    for (String f : args.split(" ")) {
      if (f.length() > 1 && f.charAt(0) == flag) {
        return f;
      }
    }
    return null;
  }

  private static boolean msModeNeedsItem(String args) {
    if (args == null) {
      return false;
    }
    for (String f : args.split(" ")) {
      if (f.length() == 2 && f.charAt(0) == 'M' && "APRapr".indexOf(f.charAt(1)) >= 0) {
        return true;
      }
    }
    return false;
  }

  private void onTextResponse(MemcachedMessage m) {
    while (true) {
      Pending head = pending.peekFirst();
      if (head == null) {
        out.anomaly(ORPHAN_RESPONSE, false, m.offset(), "response with no pending request");
        return;
      }
      if (m.firstNs() < head.lastNs) {
        out.anomaly(ORPHAN_RESPONSE, false, m.offset(), "response captured before the pending request was complete");
        return;
      }
      if (head.quiet && (!quietCanAnswer(head, m.command()) || !sameMetaIdentity(head, m))) {
        pending.pollFirst();
        if (Words.is(head.command, "MG")) {
          misses++;
        }
        emit(head, FactStatus.NO_REPLY, null, -1, -1, 0, false);
        continue;
      }
      pending.pollFirst();
      evicting = false;
      if (head.keys > 0) {
        hits += m.hits();
        misses += Math.max(0, head.keys - m.hits());
        retrieval(m.hits(), Math.max(0, head.keys - m.hits()));
      } else if (Words.is(head.command, "MG")) {
        if (Words.is(m.command(), "EN")) {
          misses++;
          retrieval(0, 1);
        } else if (!m.error()) {
          hits++;
          retrieval(1, 0);
        }
      }
      emit(head, m.error() ? FactStatus.ERROR : FactStatus.OK, m.errorText(), m.firstNs(), m.lastNs(), m.length(), false);
      return;
    }
  }

  // ---- binary responses --------------------------------------------------------------------

  private void onBinaryResponse(MemcachedMessage m) {
    Pending match = null;
    for (Pending p : pending) {
      if (p.opcode == m.opcode() && p.opaque == m.opaque() && p.lastNs <= m.firstNs()) {
        match = p;
        break;
      }
    }
    if (match == null) {
      out.anomaly(ORPHAN_RESPONSE, false, m.offset(), "response with no pending " + m.command() + " request");
      return;
    }
    // memcached answers in order: everything before the match got no response
    while (pending.peekFirst() != match) {
      Pending p = pending.pollFirst();
      if (p.quiet) {
        if (isGet(p.opcode)) {
          misses++;
        }
        emit(p, FactStatus.NO_REPLY, null, -1, -1, 0, false);
      } else {
        out.anomaly(MISSING_RESPONSE, true, p.offset, p.command + " got no response before a later one");
        emit(p, FactStatus.TIMEOUT, null, -1, -1, 0, false);
      }
    }
    if (match.respFirstNs < 0) {
      match.respFirstNs = m.firstNs();
    }
    match.respBytes += m.length();
    if (m.opcode() == MemcachedOpcodes.STAT && m.keyLength() > 0 && m.status() == 0) {
      return; // one stat of many; the empty-key packet ends the response
    }
    pending.pollFirst();
    evicting = false;
    if (isGet(match.opcode)) {
      if (m.status() == 0) {
        hits++;
        retrieval(1, 0);
      } else if (m.status() == 1) {
        misses++;
        retrieval(0, 1);
      }
    }
    emit(match, m.status() == 0 ? FactStatus.OK : FactStatus.ERROR, m.errorText(), match.respFirstNs, m.lastNs(),
        match.respBytes, false);
  }

  private static boolean isGet(int opcode) {
    return switch (opcode) {
      case 0x00, 0x09, 0x0c, 0x0d, 0x1d, 0x1e, 0x23, 0x24 -> true;
      default -> false;
    };
  }

  /** The next fact is a retrieval with these hits and misses (its {@code detail}). */
  private void retrieval(long hitCount, long missCount) {
    factDetail = Map.of("hits", Long.toString(hitCount), "misses", Long.toString(missCount));
  }

  private void emit(Pending p, FactStatus status, String error, long respFirst, long respLast, long respBytes, boolean loss) {
    Exchange.Pairing pairing = respFirst < 0 ? Exchange.Pairing.NONE
        : mode == MODE_BINARY ? Exchange.Pairing.ID : Exchange.Pairing.ORDER;
    Map<String, String> detail = factDetail;
    factDetail = Map.of();
    out.exchange(new Exchange(p.command, p.resource, p.args, status, error, p.offset, p.firstNs, p.lastNs, p.bytes,
        respFirst, respLast, respBytes, false, loss, pairing, detail));
  }

  // ---- loss, time, end ---------------------------------------------------------------------

  @Override
  public void gap(boolean clientSide, long streamOffset, long length, long tsNs, SessionOutput o) {
    out = o;
    try {
      boolean partial = false;
      if (mode == MODE_TEXT) {
        partial = (clientSide ? textClient : textServer).gap(streamOffset, length);
      } else if (mode == MODE_BINARY) {
        partial = (clientSide ? binClient : binServer).gap(streamOffset, length);
      }
      o.anomaly(GAP, clientSide, streamOffset, length + " bytes not captured" + (partial ? "; partial message dropped" : ""));
      if (mode == MODE_BINARY && clientSide) {
        return; // replies carry their request's opaque: the known pending requests still pair exactly
      }
      while (!pending.isEmpty()) {
        Pending p = pending.pollFirst();
        emit(p, p.quiet && !clientSide ? FactStatus.NO_REPLY : FactStatus.TIMEOUT, null, -1, -1, 0, true);
      }
    } finally {
      out = null;
    }
  }

  @Override
  public void expire(long deadlineNs, SessionOutput o) {
    out = o;
    try {
      while (!pending.isEmpty() && pending.peekFirst().lastNs < deadlineNs) {
        Pending p = pending.pollFirst();
        emit(p, p.quiet ? FactStatus.NO_REPLY : FactStatus.TIMEOUT, null, -1, -1, 0, false);
      }
    } finally {
      out = null;
    }
  }

  @Override
  public void close(long tsNs, SessionOutput o) {
    out = o;
    try {
      if (mode == MODE_TEXT) {
        incomplete(textClient.idle() || textClient.resynchronising(), true);
        incomplete(textServer.idle() || textServer.resynchronising(), false);
      } else if (mode == MODE_BINARY) {
        incomplete(binClient.idle() || binClient.resynchronising(), true);
        incomplete(binServer.idle() || binServer.resynchronising(), false);
      }
      while (!pending.isEmpty()) {
        Pending p = pending.pollFirst();
        emit(p, p.quiet ? FactStatus.NO_REPLY : FactStatus.TIMEOUT, null, -1, -1, 0, false);
      }
    } finally {
      out = null;
    }
  }

  private void incomplete(boolean fine, boolean clientSide) {
    if (!fine) {
      long at = mode == MODE_TEXT ? (clientSide ? textClient : textServer).nextOffset()
          : (clientSide ? binClient : binServer).nextOffset();
      out.anomaly(INCOMPLETE_AT_CLOSE, clientSide, at, "connection ended inside a message");
    }
  }

  @Override
  public int pendingRequests() {
    return pending.size();
  }

  // ---- state -------------------------------------------------------------------------------

  @Override
  public void writeTo(DataOutput o) throws IOException {
    o.writeByte(STATE_FORMAT);
    o.writeByte(mode);
    o.writeLong(hits);
    o.writeLong(misses);
    o.writeBoolean(evicting);
    o.writeInt(pending.size());
    for (Pending p : pending) {
      writeString(o, p.command);
      writeString(o, p.resource);
      writeString(o, p.args);
      o.writeLong(p.offset);
      o.writeLong(p.firstNs);
      o.writeLong(p.lastNs);
      o.writeLong(p.bytes);
      o.writeBoolean(p.quiet);
      o.writeInt(p.keys);
      o.writeInt(p.opcode);
      o.writeInt(p.opaque);
      o.writeLong(p.respFirstNs);
      o.writeLong(p.respBytes);
    }
    if (mode == MODE_TEXT) {
      textClient.writeTo(o);
      textServer.writeTo(o);
    } else if (mode == MODE_BINARY) {
      binClient.writeTo(o);
      binServer.writeTo(o);
    }
  }

  static MemcachedSession readFrom(DataInput in, SessionLimits limits) throws IOException {
    if (in.readByte() != STATE_FORMAT) {
      throw new IOException("unknown memcached session state format");
    }
    MemcachedSession s = new MemcachedSession(limits);
    s.mode = in.readByte();
    if (s.mode < MODE_UNKNOWN || s.mode > MODE_BINARY) {
      throw new IOException("bad mode " + s.mode);
    }
    s.hits = in.readLong();
    s.misses = in.readLong();
    s.evicting = in.readBoolean();
    int n = in.readInt();
    if (n < 0 || n > limits.maxPendingRequests() + 1) {
      throw new IOException("bad pending count " + n);
    }
    for (int i = 0; i < n; i++) {
      Pending p = new Pending();
      p.command = readString(in);
      p.resource = readString(in);
      p.args = readString(in);
      p.offset = in.readLong();
      p.firstNs = in.readLong();
      p.lastNs = in.readLong();
      p.bytes = in.readLong();
      p.quiet = in.readBoolean();
      p.keys = in.readInt();
      p.opcode = in.readInt();
      p.opaque = in.readInt();
      p.respFirstNs = in.readLong();
      p.respBytes = in.readLong();
      s.pending.addLast(p);
    }
    if (s.mode == MODE_TEXT) {
      s.textClient = MemcachedTextDecoder.readFrom(in, true, limits);
      s.textServer = MemcachedTextDecoder.readFrom(in, false, limits);
    } else if (s.mode == MODE_BINARY) {
      s.binClient = MemcachedBinaryDecoder.readFrom(in, true, limits);
      s.binServer = MemcachedBinaryDecoder.readFrom(in, false, limits);
    }
    return s;
  }

  static void writeString(DataOutput o, String s) throws IOException {
    if (s == null) {
      o.writeInt(-1);
      return;
    }
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    o.writeInt(b.length);
    o.write(b);
  }

  static String readString(DataInput in) throws IOException {
    int n = in.readInt();
    if (n == -1) {
      return null;
    }
    if (n < 0 || n > (1 << 20)) {
      throw new IOException("bad string length " + n);
    }
    byte[] b = new byte[n];
    in.readFully(b);
    return new String(b, StandardCharsets.UTF_8);
  }

  /** A decoder listener handing messages to {@code onMessage} and anomalies, with their direction, to this call's output. */
  private DecoderListener<MemcachedMessage> listener(Consumer<MemcachedMessage> onMessage, boolean clientSide) {
    return new DecoderListener<>() {
      @Override
      public void message(MemcachedMessage m) {
        onMessage.accept(m);
      }

      @Override
      public void anomaly(String name, long streamOffset, String detail) {
        out.anomaly(name, clientSide, streamOffset, detail);
      }
    };
  }
}
