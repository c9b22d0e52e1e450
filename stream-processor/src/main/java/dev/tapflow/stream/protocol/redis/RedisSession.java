package dev.tapflow.stream.protocol.redis;

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
import java.util.Iterator;

/**
 * One Redis connection: a {@link RespDecoder} per direction and the pairing of replies with
 * requests. Redis answers the commands of a connection strictly in order, one reply each,
 * so pairing is by order (pipelining is just a longer queue) once the messages that are not
 * replies, and the commands that get none, are set aside:
 *
 * <ul>
 *   <li><b>CLIENT REPLY OFF / SKIP</b> (https://redis.io/docs/latest/commands/client-reply/):
 *       modelled on Redis' own flags. While OFF every command gets NO_REPLY at once, until
 *       CLIENT REPLY ON, which is answered. SKIP gets no reply and silences the next command;
 *       SKIP while OFF is ignored, as Redis ignores it. RESET turns replies back ON.
 *   <li><b>Pushes are never replies.</b> RESP3: every {@code >} frame. RESP2: an array whose
 *       first element is {@code message pmessage smessage subscribe psubscribe ssubscribe
 *       unsubscribe punsubscribe sunsubscribe}, but only while the connection is in
 *       subscribe context (a (P|S)SUBSCRIBE or (P|S)UNSUBSCRIBE was sent and not undone).
 *       The confirmations of (P|S)(UN)SUBSCRIBE are such pushes (N channels, N of them), so
 *       those commands get NO_REPLY at once (as Zeek's pubsub baseline logs them with no
 *       reply); inside MULTI they are answered {@code +QUEUED} like any command. Subscribe
 *       context ends when RESET is answered, or when an unsubscribe confirmation counts zero
 *       subscriptions left and no subscribe confirmation is still due.
 *   <li><b>Attributes</b> ({@code |}) belong to the reply that follows them (the decoder
 *       folds them in).
 *   <li><b>Causality</b>: a reply whose first byte was captured before the head request's
 *       last byte cannot answer it; it is an orphan ({@code RESP_ORPHAN_RESPONSE}), as is any
 *       reply with nothing pending (a capture that starts with a server reply).
 *   <li><b>Timeouts and late replies</b>: {@link #expire} reports the oldest pending
 *       requests as TIMEOUT; since Redis still owes them their replies, the session counts
 *       them and the next that many replies are consumed as late ({@code RESP_LATE_RESPONSE}),
 *       never paired with a younger request. The same holds for requests evicted by
 *       {@code maxPendingRequests} ({@code RESP_TOO_MANY_PENDING}, raised once per episode:
 *       again only after a reply has been paired).
 *   <li><b>Gaps</b>: a gap inside a bulk body loses no framing (the declared length says
 *       where the message ends): the message completes, marked lossy, and pairs as usual.
 *       A client-side gap that cuts a request whose command was captured keeps that request
 *       in the queue ({@code request_gap}); whole requests may have been in the gap, so a
 *       marker follows it: replies captured before the next known request was complete
 *       answer the lost ones ({@code RESP_RESPONSE_TO_LOST_REQUEST}), and the first one after
 *       it retires the marker and pairs as {@code after_gap}. A server-side gap that cuts a
 *       reply whose start was captured gives the head request that reply
 *       ({@code response_gap}); any number of whole replies may have followed in the gap, so
 *       every other pending request becomes TIMEOUT with {@code response_gap}; replies still
 *       owed to them then meet an empty queue or causality and become orphans instead of
 *       shifting pairs.
 * </ul>
 */
public final class RedisSession implements ProtocolSession {

  /** A reply with no request that it can answer. */
  public static final String ORPHAN_RESPONSE = "RESP_ORPHAN_RESPONSE";
  /** A reply to a request already reported as TIMEOUT (it was consumed, not paired). */
  public static final String LATE_RESPONSE = "RESP_LATE_RESPONSE";
  /** More than {@code maxPendingRequests} requests waiting: the oldest became TIMEOUT. */
  public static final String TOO_MANY_PENDING = "RESP_TOO_MANY_PENDING";
  /** Bytes of one direction were never captured. */
  public static final String GAP = "RESP_GAP";
  /** A reply to a request that was lost in a client-side gap. */
  public static final String RESPONSE_TO_LOST_REQUEST = "RESP_RESPONSE_TO_LOST_REQUEST";
  /** The connection ended in the middle of a message. */
  public static final String INCOMPLETE_AT_CLOSE = "RESP_INCOMPLETE_AT_CLOSE";

  private static final int STATE_FORMAT = 2;

  /** What a request does to the connection when it is answered. */
  private static final byte EFFECT_NONE = 0;
  private static final byte EFFECT_HELLO2 = 2;
  private static final byte EFFECT_HELLO3 = 3;
  private static final byte EFFECT_RESET = 4;

  /** A request waiting for its reply, or a marker for requests lost in a client-side gap. */
  private record Pending(
      boolean marker, String command, String resource, String args, long offset,
      long firstNs, long lastNs, long bytes, byte effect, boolean requestGap) {}

  /** A reply held while a gap marker is unresolved: what a fact needs of it. */
  private record Held(long offset, long firstNs, long lastNs, long bytes, boolean error, String errorText,
      boolean lossy) {}

  private final SessionLimits limits;
  private RespDecoder client;
  private RespDecoder server;
  private final ArrayDeque<Pending> pending = new ArrayDeque<>();
  /**
   * Replies waiting while a gap marker is at the head of the queue and the known requests
   * after it are complete: some answer the lost requests, the rest the known ones, in order.
   * Resolved by alignment from the end once the client moves on ({@link #resolveHeld}).
   */
  private final ArrayDeque<Held> held = new ArrayDeque<>();
  private int pendingRequests;
  /** replies Redis still owes to requests already reported as TIMEOUT */
  private long lateReplies;
  /** an eviction was reported and the queue has not drained below the bound since (one anomaly per episode) */
  private boolean evicting;
  /**
   * An orphan reply was reported and no reply has paired since: further orphans are not
   * reported (after a gap in a large nested reply, every element the resynchronised decoder
   * finds is an orphan; one anomaly says it).
   */
  private boolean orphaning;

  // Redis' CLIENT REPLY flags: OFF, SKIP (this command is silenced), SKIP_NEXT
  private boolean replyOff;
  private boolean skipThis;
  private boolean inMulti;
  /** RESP2 subscribe context: push-shaped arrays are pushes */
  private boolean subscribed;
  private long subscribeConfirmationsDue;
  /** the connection speaks RESP3 (HELLO 3 answered, or a RESP3-only frame seen) */
  private boolean resp3;

  // set for the duration of one call
  private SessionOutput out;
  private final DecoderListener<RespMessage> clientListener = listener(this::onRequest, true);
  private final DecoderListener<RespMessage> serverListener = listener(this::onReply, false);

  public RedisSession(SessionLimits limits) {
    this.limits = limits;
    this.client = new RespDecoder(true, limits);
    this.server = new RespDecoder(false, limits);
  }

  @Override
  public String protocol() {
    return RedisProtocol.NAME;
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
    RespDecoder d = clientSide ? client : server;
    if (d.started() && streamOffset > d.nextOffset()) {
      gap(clientSide, d.nextOffset(), streamOffset - d.nextOffset(), tsNs, o);
    }
    out = o;
    try {
      d.decode(buf, off, len, streamOffset, tsNs, clientSide ? clientListener : serverListener);
    } finally {
      out = null;
    }
  }

  // ---- requests ----------------------------------------------------------------------------

  private void onRequest(RespMessage m) {
    out.request(m.offset(), m.length(), m.firstTsNs(), m.lastTsNs());
    if (!held.isEmpty()) {
      resolveHeld(m.firstTsNs(), false);
    }
    String command = RedisCommands.commandName(m);
    RedisCommands.Request r = RedisCommands.describe(m, command, limits.maxArgBytes(), limits.keepValues());
    boolean reply = expectsReply(m, command);
    byte effect = EFFECT_NONE;
    if (command.equals("HELLO") && m.itemCount() > 1) {
      effect = m.itemEqualsIgnoreCase(1, "3") ? EFFECT_HELLO3 : m.itemEqualsIgnoreCase(1, "2") ? EFFECT_HELLO2 : EFFECT_NONE;
    } else if (command.equals("RESET")) {
      effect = EFFECT_RESET;
    }
    Pending p = new Pending(false, r.command(), r.resource(), r.args(), m.offset(),
        m.firstTsNs(), m.lastTsNs(), m.length(), effect, m.isLossy());
    if (!reply) {
      emit(p, FactStatus.NO_REPLY, null, null, false, Exchange.Pairing.NONE);
      return;
    }
    enqueue(p);
  }

  private void enqueue(Pending p) {
    if (pendingRequests >= Math.max(1, limits.maxPendingRequests())) {
      evictOldest();
    }
    pending.addLast(p);
    pendingRequests++;
  }

  /**
   * Does Redis answer this command? Applies the command's effect on the connection's reply
   * mode, MULTI and subscribe context, in the order Redis applies them.
   */
  private boolean expectsReply(RespMessage m, String command) {
    boolean reply;
    boolean clientReply = !inMulti && command.equals("CLIENT") && m.elements() == 3
        && m.itemEqualsIgnoreCase(1, "REPLY");
    boolean skipNext = false;
    if (clientReply && m.itemEqualsIgnoreCase(2, "ON")) {
      replyOff = false;
      skipThis = false;
      reply = true;
    } else if (clientReply && m.itemEqualsIgnoreCase(2, "OFF")) {
      replyOff = true;
      reply = false;
    } else if (clientReply && m.itemEqualsIgnoreCase(2, "SKIP")) {
      skipNext = !replyOff; // Redis ignores SKIP while OFF
      reply = false;
    } else if (command.equals("RESET")) {
      replyOff = false;
      skipThis = false;
      inMulti = false;
      reply = true;
    } else {
      reply = !replyOff && !skipThis;
    }
    // after each command Redis clears SKIP and turns SKIP_NEXT into SKIP
    skipThis = skipNext;

    int flags = RedisCommands.flags(command);
    boolean subscribe = (flags & RedisCommands.F_SUBSCRIBE) != 0;
    if (!inMulti && (subscribe && m.elements() > 1 || (flags & RedisCommands.F_UNSUBSCRIBE) != 0)) {
      // confirmations are pushes (one per channel), not replies
      if (reply) {
        subscribed = true;
        if (subscribe) {
          subscribeConfirmationsDue += m.elements() - 1;
        }
      }
      reply = false;
    }
    if (command.equals("MULTI")) {
      inMulti = true;
    } else if (command.equals("EXEC") || command.equals("DISCARD")) {
      inMulti = false;
    }
    return reply;
  }

  private void evictOldest() {
    while (!pending.isEmpty()) {
      Pending p = pending.pollFirst();
      if (!p.marker()) {
        pendingRequests--;
        lateReplies++;
        if (!evicting) {
          out.anomaly(TOO_MANY_PENDING, true, p.offset(), "more than " + limits.maxPendingRequests() + " pending requests");
          evicting = true;
        }
        emit(p, FactStatus.TIMEOUT, null, null, false, Exchange.Pairing.NONE);
        return;
      }
    }
  }

  // ---- replies -----------------------------------------------------------------------------

  private void onReply(RespMessage m) {
    if (m.isResp3Push()) {
      resp3 = true;
      trackSubscriptions(m);
      return; // a push is never a reply
    }
    if (!resp3 && subscribed && m.type() == '*' && isPubSubKind(m)) {
      trackSubscriptions(m);
      return;
    }
    if (isResp3Only(m.type()) || m.hasAttributes()) {
      resp3 = true;
    }
    pair(m);
  }

  private static boolean isPubSubKind(RespMessage m) {
    if (m.itemCount() == 0) {
      return false;
    }
    byte t = m.itemType(0);
    if (t != '$' && t != '+') {
      return false;
    }
    return switch (m.itemLatin1(0)) {
      case "message", "pmessage", "smessage", "subscribe", "psubscribe", "ssubscribe",
          "unsubscribe", "punsubscribe", "sunsubscribe" -> m.itemComplete(0);
      default -> false;
    };
  }

  /** Follows (un)subscribe confirmations to know when RESP2 subscribe context ends. */
  private void trackSubscriptions(RespMessage m) {
    if (m.itemCount() == 0) {
      return;
    }
    String kind = m.itemLatin1(0);
    if (kind.endsWith("unsubscribe")) {
      if (m.itemCount() > 2 && m.itemInteger(2) == 0 && subscribeConfirmationsDue == 0) {
        subscribed = false;
      }
    } else if (kind.endsWith("subscribe") && subscribeConfirmationsDue > 0) {
      subscribeConfirmationsDue--;
    }
  }

  private static boolean isResp3Only(byte t) {
    return switch (t) {
      case '_', ',', '#', '(', '!', '=', '%', '~' -> true;
      default -> false;
    };
  }

  private void pair(RespMessage m) {
    if (lateReplies > 0) {
      lateReplies--;
      out.anomaly(LATE_RESPONSE, false, m.offset(), "reply to a request already reported as TIMEOUT");
      return;
    }
    while (true) {
      Pending head = pending.peekFirst();
      if (head == null) {
        orphan(m.offset(), "reply with no pending request");
        return;
      }
      if (head.marker()) {
        Pending next = firstRequestAfterHead();
        if (next == null || m.firstTsNs() < next.lastNs()) {
          out.anomaly(RESPONSE_TO_LOST_REQUEST, false, m.offset(), "reply to a request lost in a gap");
          return;
        }
        // it may answer a lost request or a known one: wait until the client moves on
        if (held.size() >= Math.max(1, limits.maxPendingRequests())) {
          Held oldest = held.pollFirst();
          out.anomaly(TOO_MANY_PENDING, false, oldest.offset(), "more than " + limits.maxPendingRequests()
              + " replies held after a gap");
        }
        held.addLast(new Held(m.offset(), m.firstTsNs(), m.lastTsNs(), m.length(), m.isError(),
            m.isError() ? RedisCommands.scrubError(errorText(m)) : null, m.isLossy())); // whose it is is not known yet
        return;
      }
      if (m.firstTsNs() < head.lastNs()) {
        orphan(m.offset(), "reply captured before the pending request was complete");
        return;
      }
      pending.pollFirst();
      pendingRequests--;
      evicting = false;
      orphaning = false;
      boolean error = m.isError();
      String errorText = error ? errorText(m) : null;
      if (error && RedisCommands.redacted(head.resource(), head.args())) {
        errorText = RedisCommands.scrubError(errorText);
      }
      applyEffect(head.effect(), error);
      emit(head, error ? FactStatus.ERROR : FactStatus.OK, m, errorText, m.isLossy(), Exchange.Pairing.ORDER);
      return;
    }
  }

  /**
   * Pairs the replies held behind a gap marker. The marker's group is the known requests
   * after it (up to another marker); Redis answered the lost requests first and the known
   * ones after, one reply each, so once every reply of the group is in, the last
   * {@code n} held replies answer the {@code n} known requests and the others the lost ones.
   * The group is complete when at least {@code n} replies are held and the client sent its
   * next request after the last of them ({@code nextRequestNs}: a client that waits for its
   * replies, alone or by pipelined batch), or when {@code force} (time-out, close). A pair
   * that breaks causality (reply before its request) is not made.
   */
  private void resolveHeld(long nextRequestNs, boolean force) {
    Pending head = pending.peekFirst();
    if (head == null || !head.marker() || held.isEmpty()) {
      return;
    }
    int n = 0;
    Iterator<Pending> it = pending.iterator();
    it.next();
    while (it.hasNext() && !it.next().marker()) {
      n++;
    }
    boolean complete = held.size() >= n && held.peekLast().firstNs() <= nextRequestNs;
    if (!complete && !force) {
      return;
    }
    pending.pollFirst(); // the marker
    if (held.size() < n) {
      // forced before every reply came: which reply is whose cannot be known
      for (int i = 0; i < n; i++) {
        Pending p = pending.pollFirst();
        pendingRequests--;
        emit(p, FactStatus.TIMEOUT, null, null, true, Exchange.Pairing.NONE);
      }
      while (!held.isEmpty()) {
        out.anomaly(RESPONSE_TO_LOST_REQUEST, false, held.pollFirst().offset(), "reply after a gap that cannot be paired");
      }
      return;
    }
    while (held.size() > n) {
      out.anomaly(RESPONSE_TO_LOST_REQUEST, false, held.pollFirst().offset(), "reply to a request lost in a gap");
    }
    for (int i = 0; i < n; i++) {
      Pending p = pending.pollFirst();
      pendingRequests--;
      Held h = held.pollFirst();
      if (h.firstNs() < p.lastNs()) {
        out.anomaly(ORPHAN_RESPONSE, false, h.offset(), "reply after a gap captured before the request it would answer");
        emit(p, FactStatus.TIMEOUT, null, null, true, Exchange.Pairing.NONE);
        continue;
      }
      applyEffect(p.effect(), h.error());
      out.exchange(new Exchange(p.command(), p.resource(), p.args(), h.error() ? FactStatus.ERROR : FactStatus.OK,
          h.errorText(), p.offset(), p.firstNs(), p.lastNs(), p.bytes(), h.firstNs(), h.lastNs(), h.bytes(),
          p.requestGap(), h.lossy(), Exchange.Pairing.AFTER_GAP));
    }
    evicting = false;
  }

  private void orphan(long offset, String detail) {
    if (!orphaning) {
      out.anomaly(ORPHAN_RESPONSE, false, offset, detail + " (further orphans before the next pair are not reported)");
      orphaning = true;
    }
  }

  private Pending firstRequestAfterHead() {
    Iterator<Pending> it = pending.iterator();
    it.next();
    while (it.hasNext()) {
      Pending p = it.next();
      if (!p.marker()) {
        return p;
      }
    }
    return null;
  }

  private String errorText(RespMessage m) {
    if (m.itemCount() == 0) {
      return "";
    }
    String s = m.itemText(0);
    return s.length() > limits.maxArgBytes() ? s.substring(0, limits.maxArgBytes()) + "..." : s;
  }

  private void applyEffect(byte effect, boolean error) {
    if (error) {
      return;
    }
    switch (effect) {
      case EFFECT_HELLO3 -> resp3 = true;
      case EFFECT_HELLO2 -> resp3 = false;
      case EFFECT_RESET -> {
        // RESET leaves subscribe context and returns to RESP2
        resp3 = false;
        subscribed = false;
        subscribeConfirmationsDue = 0;
      }
      default -> { }
    }
  }

  private void emit(Pending p, FactStatus status, RespMessage reply, String error, boolean responseGap,
      Exchange.Pairing pairing) {
    out.exchange(new Exchange(p.command(), p.resource(), p.args(), status, error, p.offset(),
        p.firstNs(), p.lastNs(), p.bytes(),
        reply == null ? -1 : reply.firstTsNs(), reply == null ? -1 : reply.lastTsNs(),
        reply == null ? 0 : reply.length(), p.requestGap(), responseGap, pairing));
  }

  // ---- loss, time, end ---------------------------------------------------------------------

  @Override
  public void gap(boolean clientSide, long streamOffset, long length, long tsNs, SessionOutput o) {
    out = o;
    try {
      RespDecoder d = clientSide ? client : server;
      RespMessage cut = d.partialMessage();
      boolean partial = d.gap(streamOffset, length);
      if (!partial && cut != null) {
        return; // the gap fell inside a bulk body: the message goes on, marked lossy
      }
      o.anomaly(GAP, clientSide, streamOffset, length + " bytes not captured" + (partial ? "; partial message dropped" : ""));
      if (clientSide) {
        if (partial && cut != null && cut.itemCount() > 0 && cut.itemComplete(0)) {
          // the request's start was captured: its command is known and it takes its place in
          // the queue (Redis answers it, with whatever its lost bytes said)
          String command = RedisCommands.commandName(cut);
          RedisCommands.Request r = RedisCommands.describe(cut, command, limits.maxArgBytes(), limits.keepValues());
          enqueue(new Pending(false, r.command(), r.resource(), r.args(), cut.offset(),
              cut.firstTsNs(), cut.lastTsNs(), cut.length(), EFFECT_NONE, true));
        }
        // whole requests may have been in the gap: replies to them must not shift the pairs
        Pending last = pending.peekLast();
        if (!held.isEmpty()) {
          resolveHeld(tsNs, true); // a second gap: the first one's group is closed as it stands
          last = pending.peekLast();
        }
        if (last == null || !last.marker()) {
          pending.addLast(new Pending(true, null, null, null, streamOffset, tsNs, tsNs, 0, EFFECT_NONE, false));
        }
      } else {
        Pending head = pending.peekFirst();
        if (partial && cut != null && lateReplies == 0 && head != null && !head.marker()
            && cut.firstTsNs() >= head.lastNs() && !cut.isResp3Push() && !subscribed) {
          // the reply's start was captured in order: it answers the head request; only its
          // end is missing (a push or a late reply would have been consumed the same way)
          pending.pollFirst();
          pendingRequests--;
          emit(head, cut.isError() ? FactStatus.ERROR : FactStatus.OK, cut, cut.isError() ? errorText(cut) : null,
              true, Exchange.Pairing.ORDER);
        }
        // any number of whole replies may have been in the gap: nothing pending can be paired safely
        while (!held.isEmpty()) {
          out.anomaly(RESPONSE_TO_LOST_REQUEST, false, held.pollFirst().offset(), "reply after a gap that cannot be paired");
        }
        while (!pending.isEmpty()) {
          Pending p = pending.pollFirst();
          if (!p.marker()) {
            emit(p, FactStatus.TIMEOUT, null, null, true, Exchange.Pairing.NONE);
          }
        }
        pendingRequests = 0;
        lateReplies = 0;
      }
    } finally {
      out = null;
    }
  }

  @Override
  public void expire(long deadlineNs, SessionOutput o) {
    out = o;
    try {
      while (!pending.isEmpty() && pending.peekFirst().lastNs() < deadlineNs) {
        if (!held.isEmpty() && pending.peekFirst().marker()) {
          resolveHeld(deadlineNs, true);
          continue;
        }
        Pending p = pending.pollFirst();
        if (!p.marker()) {
          pendingRequests--;
          lateReplies++; // Redis still owes it a reply: consume that one when it comes
          emit(p, FactStatus.TIMEOUT, null, null, false, Exchange.Pairing.NONE);
        }
      }
    } finally {
      out = null;
    }
  }

  @Override
  public void close(long tsNs, SessionOutput o) {
    out = o;
    try {
      if (!client.idle() && !client.resynchronising()) {
        o.anomaly(INCOMPLETE_AT_CLOSE, true, client.nextOffset(), "connection ended inside a request");
      }
      if (!server.idle() && !server.resynchronising()) {
        o.anomaly(INCOMPLETE_AT_CLOSE, false, server.nextOffset(), "connection ended inside a reply");
      }
      resolveHeld(Long.MAX_VALUE, true);
      while (!pending.isEmpty()) {
        Pending p = pending.pollFirst();
        if (!p.marker()) {
          emit(p, FactStatus.TIMEOUT, null, null, false, Exchange.Pairing.NONE);
        }
      }
      pendingRequests = 0;
    } finally {
      out = null;
    }
  }

  @Override
  public int pendingRequests() {
    return pendingRequests;
  }

  // ---- state -------------------------------------------------------------------------------

  @Override
  public void writeTo(DataOutput o) throws IOException {
    o.writeByte(STATE_FORMAT);
    o.writeLong(lateReplies);
    o.writeBoolean(evicting);
    o.writeBoolean(orphaning);
    o.writeBoolean(replyOff);
    o.writeBoolean(skipThis);
    o.writeBoolean(inMulti);
    o.writeBoolean(subscribed);
    o.writeLong(subscribeConfirmationsDue);
    o.writeBoolean(resp3);
    o.writeInt(pending.size());
    for (Pending p : pending) {
      o.writeBoolean(p.marker());
      writeString(o, p.command());
      writeString(o, p.resource());
      writeString(o, p.args());
      o.writeLong(p.offset());
      o.writeLong(p.firstNs());
      o.writeLong(p.lastNs());
      o.writeLong(p.bytes());
      o.writeByte(p.effect());
      o.writeBoolean(p.requestGap());
    }
    o.writeInt(held.size());
    for (Held h : held) {
      o.writeLong(h.offset());
      o.writeLong(h.firstNs());
      o.writeLong(h.lastNs());
      o.writeLong(h.bytes());
      o.writeBoolean(h.error());
      writeString(o, h.errorText());
      o.writeBoolean(h.lossy());
    }
    client.writeTo(o);
    // a reply in progress answers the head request (the only one that can be an error quoting its credentials)
    Pending head = pending.peekFirst();
    server.writeTo(o, head != null && !head.marker() && RedisCommands.redacted(head.resource(), head.args()));
  }

  static RedisSession readFrom(DataInput in, SessionLimits limits) throws IOException {
    if (in.readByte() != STATE_FORMAT) {
      throw new IOException("unknown Redis session state format");
    }
    RedisSession s = new RedisSession(limits);
    s.lateReplies = in.readLong();
    s.evicting = in.readBoolean();
    s.orphaning = in.readBoolean();
    s.replyOff = in.readBoolean();
    s.skipThis = in.readBoolean();
    s.inMulti = in.readBoolean();
    s.subscribed = in.readBoolean();
    s.subscribeConfirmationsDue = in.readLong();
    s.resp3 = in.readBoolean();
    int n = in.readInt();
    if (n < 0 || n > 2L * limits.maxPendingRequests() + 2) {
      throw new IOException("bad pending count " + n);
    }
    for (int i = 0; i < n; i++) {
      Pending p = new Pending(in.readBoolean(), readString(in), readString(in), readString(in),
          in.readLong(), in.readLong(), in.readLong(), in.readLong(), in.readByte(), in.readBoolean());
      s.pending.addLast(p);
      if (!p.marker()) {
        s.pendingRequests++;
      }
    }
    int h = in.readInt();
    if (h < 0 || h > limits.maxPendingRequests() + 1) {
      throw new IOException("bad held reply count " + h);
    }
    for (int i = 0; i < h; i++) {
      s.held.addLast(new Held(in.readLong(), in.readLong(), in.readLong(), in.readLong(), in.readBoolean(),
          readString(in), in.readBoolean()));
    }
    s.client = RespDecoder.readFrom(in, true, limits);
    s.server = RespDecoder.readFrom(in, false, limits);
    return s;
  }

  private static void writeString(DataOutput o, String s) throws IOException {
    if (s == null) {
      o.writeInt(-1);
      return;
    }
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    o.writeInt(b.length);
    o.write(b);
  }

  private static String readString(DataInput in) throws IOException {
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
  private DecoderListener<RespMessage> listener(Consumer<RespMessage> onMessage, boolean clientSide) {
    return new DecoderListener<>() {
      @Override
      public void message(RespMessage m) {
        onMessage.accept(m);
      }

      @Override
      public void anomaly(String name, long streamOffset, String detail) {
        out.anomaly(name, clientSide, streamOffset, detail);
      }
    };
  }
}
