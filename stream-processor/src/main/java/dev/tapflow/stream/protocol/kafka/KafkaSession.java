package dev.tapflow.stream.protocol.kafka;

import dev.tapflow.protocol.api.DecoderListener;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * One Kafka connection: a {@link KafkaDecoder} per direction and the pairing of responses
 * with requests by correlation id (https://kafka.apache.org/protocol#protocol_network).
 *
 * <ul>
 *   <li><b>Pairing</b>: a response answers the oldest pending request with its correlation
 *       id (pairing {@code id}); its api key and version, kept from the request, are what
 *       its body is parsed with. The broker answers the requests of one connection in order
 *       (it reads the next request only when the previous one is answered), so pending
 *       requests older than the one answered got no response: TIMEOUT, with
 *       {@code KAFKA_MISSING_RESPONSE} unless a server-side gap may have held it. Across
 *       connections answers complete in any order; long-poll Fetches finish late.
 *   <li><b>No reply</b>: Produce with {@code acks=0} is a NO_REPLY fact at once.
 *   <li><b>Orphans</b>: a response no pending request carries the id of, or captured before
 *       that request was complete, is {@code KAFKA_ORPHAN_RESPONSE} (once until a response
 *       pairs again); after a client-side gap, {@code KAFKA_RESPONSE_TO_LOST_REQUEST}
 *       (answers to requests the gap held). A request whose correlation id is already
 *       pending is {@code KAFKA_DUPLICATE_CORRELATION_ID}; both stay and pair in order.
 *   <li><b>Gaps</b>: a frame whose header was captured keeps its place ({@code request_gap}
 *       / {@code response_gap}, body not decoded). A server-side gap may have held answers
 *       to every request then pending: if they are later found skipped, or time out, they
 *       are TIMEOUT with {@code response_gap}.
 *   <li><b>SASL</b>: SaslAuthenticate bodies are never read; a SaslHandshake v0 answered OK
 *       switches the connection to raw SASL tokens (size-prefixed, no Kafka header) until
 *       the client sends a request again: those frames are dropped unread.
 *   <li><b>Bounds</b>: {@code maxPendingRequests} (the oldest becomes TIMEOUT,
 *       {@code KAFKA_TOO_MANY_PENDING} once per episode), {@value #MAX_TOPIC_IDS} topic ids
 *       learned from Metadata responses (to name topics newer requests give by id only).
 * </ul>
 *
 * Fact detail ({@link Exchange#detail()}): {@code api_version}, {@code client_id},
 * {@code correlation_id}, {@code body_decoded}, and when known {@code throttle_ms},
 * {@code error_codes}, {@code records} (Produce: records sent; Fetch: records returned).
 */
public final class KafkaSession implements ProtocolSession {

  public static final String ORPHAN_RESPONSE = "KAFKA_ORPHAN_RESPONSE";
  public static final String RESPONSE_TO_LOST_REQUEST = "KAFKA_RESPONSE_TO_LOST_REQUEST";
  public static final String MISSING_RESPONSE = "KAFKA_MISSING_RESPONSE";
  public static final String DUPLICATE_CORRELATION_ID = "KAFKA_DUPLICATE_CORRELATION_ID";
  public static final String TOO_MANY_PENDING = "KAFKA_TOO_MANY_PENDING";
  /** A body of a version kafka-clients supports did not parse, or did not consume its frame exactly. */
  public static final String BAD_BODY = "KAFKA_BAD_BODY";
  public static final String GAP = "KAFKA_GAP";
  public static final String INCOMPLETE_AT_CLOSE = "KAFKA_INCOMPLETE_AT_CLOSE";
  public static final String BAD_FRAME = KafkaDecoder.BAD_FRAME;
  public static final String FRAME_TOO_LARGE = KafkaDecoder.FRAME_TOO_LARGE;

  /** While resynchronising, a request's correlation id may be at most this far past the last one. */
  static final int MAX_CORRELATION_STEP = 1 << 20;
  /** Topic ids learned per connection from Metadata responses; beyond it the oldest is forgotten. */
  static final int MAX_TOPIC_IDS = 32;

  private static final int STATE_FORMAT = 1;

  /** A request waiting for its response. */
  private static final class Pending {
    short apiKey;
    short apiVersion;
    int correlationId;
    String clientId;
    String resource;
    String args;
    long offset;
    long firstNs;
    long lastNs;
    long bytes;
    long records;
    boolean requestGap;
    boolean decoded;
    boolean namedTopics;
    /** a server-side gap came after it: its answer may have been lost */
    boolean answerMayBeLost;
  }

  private final SessionLimits limits;
  private final int maxDecodedFrame;
  private KafkaDecoder client;
  private KafkaDecoder server;
  private final ArrayDeque<Pending> pending = new ArrayDeque<>();
  /** correlation id -> how many pending requests carry it (the strict response check asks it per byte while resynchronising) */
  private final Map<Integer, Integer> pendingIds = new HashMap<>();
  private final LinkedHashMap<String, String> topicIds = new LinkedHashMap<>();
  private boolean evicting;
  private boolean orphaning;
  /** a client-side gap may have held requests; their answers are not orphans */
  private boolean lostRequests;
  /** requests from this client stream offset on were sent after that gap */
  private long lostBefore;
  /** after a SaslHandshake v0: frames are raw SASL tokens until the client sends a request */
  private boolean rawSasl;
  /** the last request's client id ({@link KafkaHeaders#clientIdSignature}) and correlation id: what resynchronisation expects next */
  private String lastClientId;
  private int lastCorrelationId;
  private boolean hasCorrelationId;

  private SessionOutput out;
  private final DecoderListener<KafkaFrame> clientListener = listener(this::onRequest, true);
  private final DecoderListener<KafkaFrame> serverListener = listener(this::onResponse, false);

  public KafkaSession(SessionLimits limits) {
    this(limits, KafkaDecoder.DEFAULT_MAX_DECODED_FRAME);
  }

  /** @param maxDecodedFrame frames up to this size are kept whole and their bodies decoded (tests lower it) */
  KafkaSession(SessionLimits limits, int maxDecodedFrame) {
    this.limits = limits;
    this.maxDecodedFrame = maxDecodedFrame;
    this.client = new KafkaDecoder(limits, maxDecodedFrame, requestStart);
    this.server = new KafkaDecoder(limits, maxDecodedFrame, responseStart);
  }

  @Override
  public String protocol() {
    return KafkaProtocol.NAME;
  }

  /** Where requests begin: see {@link KafkaHeaders#plausibleRequest}; while resynchronising, also {@link #continuesConnection}. */
  private final KafkaDecoder.FrameCheck requestStart = new KafkaDecoder.FrameCheck() {
    @Override
    public int needed(byte[] head, int len, int size) {
      return 4 + KafkaHeaders.requestNeeded(head, 4, len - 4);
    }

    @Override
    public boolean plausible(byte[] head, int len, int size, KafkaDecoder.Position position) {
      if (position == KafkaDecoder.Position.TRUSTED) {
        return rawSasl || KafkaHeaders.plausibleRequest(head, 4, len - 4, size, false);
      }
      return KafkaHeaders.plausibleRequest(head, 4, len - 4, size, true)
          && (position == KafkaDecoder.Position.START || continuesConnection(head, len));
    }
  };

  /** Where responses begin: a correlation id a pending request carries, unless the framing is trusted. */
  private final KafkaDecoder.FrameCheck responseStart = new KafkaDecoder.FrameCheck() {
    @Override
    public int needed(byte[] head, int len, int size) {
      return 4 + KafkaHeaders.MIN_RESPONSE;
    }

    @Override
    public boolean plausible(byte[] head, int len, int size, KafkaDecoder.Position position) {
      boolean trusted = position == KafkaDecoder.Position.TRUSTED;
      return trusted && rawSasl || KafkaHeaders.plausibleResponse(head, 4, len - 4, size, !trusted, pendingIds::containsKey);
    }
  };

  /**
   * While sliding through bytes for a request, a candidate must also look like the next
   * request of this connection: the client id this connection sent before (clients keep one
   * per connection), else a non-empty one; a correlation id after the last one (clients
   * count up per connection), unless the last was a SASL authenticator's (those reset).
   * Runs of zeros inside bodies look like {@code Produce v0, correlation id 0, client id ""}.
   */
  private boolean continuesConnection(byte[] head, int len) {
    int idLen = KafkaHeaders.s16(head, 12);
    if (lastClientId != null) {
      // lastClientId: the length, then the first bytes, as ISO-8859-1 characters
      if (idLen != lastClientId.charAt(0) - 2) {
        return false;
      }
      for (int i = 1; i < lastClientId.length() && 13 + i < len; i++) {
        if ((head[13 + i] & 0xff) != lastClientId.charAt(i)) {
          return false;
        }
      }
    } else if (idLen < 1) {
      return false;
    }
    if (!hasCorrelationId || lastCorrelationId >= KafkaHeaders.SASL_RESERVED_CORRELATION_IDS) {
      return true;
    }
    long step = (long) KafkaHeaders.s32(head, 8) - lastCorrelationId;
    return step > 0 && step <= MAX_CORRELATION_STEP;
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
    KafkaDecoder d = clientSide ? client : server;
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

  private void onRequest(KafkaFrame f) {
    byte[] b = f.bytes();
    if (rawSasl) {
      if (!KafkaHeaders.plausibleRequest(b, 0, f.kept(), (int) (f.length() - 4), true)) {
        return; // a raw SASL token: never read
      }
      rawSasl = false;
    }
    Pending p = new Pending();
    p.apiKey = KafkaHeaders.apiKey(b);
    p.apiVersion = KafkaHeaders.apiVersion(b);
    p.correlationId = KafkaHeaders.requestCorrelationId(b);
    p.clientId = KafkaHeaders.clientId(b, f.kept());
    lastClientId = KafkaHeaders.clientIdSignature(b, f.kept());
    lastCorrelationId = p.correlationId;
    hasCorrelationId = true;
    p.offset = f.offset();
    p.firstNs = f.firstNs();
    p.lastNs = f.lastNs();
    p.bytes = f.length();
    p.requestGap = f.lossy();
    KafkaApis.Request r = KafkaApis.request(f, topicIds::get, limits.maxArgBytes());
    if (r.problem() != KafkaApis.BodyProblem.NONE) {
      out.anomaly(BAD_BODY, true, f.offset(), bodyProblem(r.problem(), p.apiKey, p.apiVersion, "request"));
    }
    p.resource = r.resource();
    p.args = r.args();
    p.decoded = r.decoded();
    p.records = r.records();
    p.namedTopics = r.namedTopics();
    if (p.apiKey == KafkaApis.PRODUCE && r.acks() == 0) {
      emit(p, FactStatus.NO_REPLY, null, null, -1, -1, 0, false);
      return;
    }
    if (pendingIds.containsKey(p.correlationId)) {
      out.anomaly(DUPLICATE_CORRELATION_ID, true, f.offset(), "correlation id " + p.correlationId + " is already pending");
    }
    if (pending.size() >= Math.max(1, limits.maxPendingRequests())) {
      Pending old = removeFirst();
      if (!evicting) {
        out.anomaly(TOO_MANY_PENDING, true, old.offset, "more than " + limits.maxPendingRequests() + " pending requests");
        evicting = true;
      }
      emit(old, FactStatus.TIMEOUT, null, null, -1, -1, 0, old.answerMayBeLost);
    }
    pending.addLast(p);
    pendingIds.merge(p.correlationId, 1, Integer::sum);
  }

  private static String bodyProblem(KafkaApis.BodyProblem problem, short key, short version, String what) {
    return KafkaApis.name(key) + " v" + version + " " + what + " body "
        + (problem == KafkaApis.BodyProblem.NOT_CONSUMED ? "does not consume its frame" : "does not parse");
  }

  // ---- responses ---------------------------------------------------------------------------

  private void onResponse(KafkaFrame f) {
    if (rawSasl) {
      return; // a raw SASL token: never read
    }
    int id = KafkaHeaders.responseCorrelationId(f.bytes());
    Pending match = null;
    if (pendingIds.containsKey(id)) {
      for (Pending p : pending) {
        if (p.correlationId == id) {
          match = p;
          break;
        }
      }
    }
    if (match == null || match.lastNs > f.firstNs()) {
      if (lostRequests) {
        if (!orphaning) {
          out.anomaly(RESPONSE_TO_LOST_REQUEST, false, f.offset(), "correlation id " + id
              + ": its request was in a gap");
          orphaning = true;
        }
      } else if (!orphaning) {
        out.anomaly(ORPHAN_RESPONSE, false, f.offset(), match == null ? "no pending request with correlation id " + id
            : "response captured before its request was complete");
        orphaning = true;
      }
      return;
    }
    // the broker answers in order: every older pending request got no answer
    while (pending.peekFirst() != match) {
      Pending p = removeFirst();
      if (!p.answerMayBeLost) {
        out.anomaly(MISSING_RESPONSE, true, p.offset, KafkaApis.name(p.apiKey) + " (correlation id " + p.correlationId
            + ") got no response before a later one");
      }
      emit(p, FactStatus.TIMEOUT, null, null, -1, -1, 0, p.answerMayBeLost);
    }
    removeFirst();
    evicting = false;
    orphaning = false;
    if (lostRequests && match.offset >= lostBefore) {
      lostRequests = false;
    }
    KafkaApis.Response r = KafkaApis.response(f, match.apiKey, match.apiVersion, match.correlationId, match.clientId,
        match.namedTopics, topicIds::get);
    if (r.problem() != KafkaApis.BodyProblem.NONE) {
      out.anomaly(BAD_BODY, false, f.offset(), bodyProblem(r.problem(), match.apiKey, match.apiVersion, "response"));
    }
    r.topicIds().forEach(this::learnTopicId);
    if (match.apiKey == KafkaApis.SASL_HANDSHAKE && match.apiVersion == 0 && r.decoded() && r.errors() == null) {
      rawSasl = true; // SASL tokens follow without Kafka headers (KIP-43)
    }
    emit(match, r.errors() == null ? FactStatus.OK : FactStatus.ERROR, r.errors(), r, f.firstNs(), f.lastNs(),
        f.length(), f.lossy());
  }

  private void learnTopicId(String id, String name) {
    topicIds.remove(id);
    if (topicIds.size() >= MAX_TOPIC_IDS) {
      Iterator<String> it = topicIds.keySet().iterator();
      it.next();
      it.remove();
    }
    topicIds.put(id, name);
  }

  private Pending removeFirst() {
    Pending p = pending.pollFirst();
    pendingIds.computeIfPresent(p.correlationId, (k, n) -> n == 1 ? null : n - 1);
    return p;
  }

  private void emit(Pending p, FactStatus status, String error, KafkaApis.Response r, long respFirst, long respLast,
      long respBytes, boolean responseGap) {
    Map<String, String> detail = new TreeMap<>();
    detail.put("api_version", Short.toString(p.apiVersion));
    if (p.clientId != null) {
      detail.put("client_id", p.clientId);
    }
    detail.put("correlation_id", Integer.toString(p.correlationId));
    detail.put("body_decoded", Boolean.toString(p.decoded && (r == null || r.decoded())));
    long records = p.records;
    String resource = p.resource;
    if (r != null) {
      if (r.throttleMs() >= 0) {
        detail.put("throttle_ms", Integer.toString(r.throttleMs()));
      }
      if (r.errorCodes() != null) {
        detail.put("error_codes", r.errorCodes());
      }
      if (r.records() >= 0) {
        records = r.records();
      }
      if (resource == null) {
        resource = r.resource();
      }
    }
    if (records >= 0) {
      detail.put("records", Long.toString(records));
    }
    Exchange.Pairing pairing = respFirst < 0 ? Exchange.Pairing.NONE : Exchange.Pairing.ID;
    out.exchange(new Exchange(KafkaApis.name(p.apiKey), resource, p.args, status, error, p.offset, p.firstNs,
        p.lastNs, p.bytes, respFirst, respLast, respBytes, p.requestGap, responseGap, pairing, detail));
  }

  // ---- loss, time, end ---------------------------------------------------------------------

  @Override
  public void gap(boolean clientSide, long streamOffset, long length, long tsNs, SessionOutput o) {
    out = o;
    try {
      boolean partial = (clientSide ? client : server).gap(streamOffset, length, clientSide ? clientListener : serverListener);
      o.anomaly(GAP, clientSide, streamOffset, length + " bytes not captured" + (partial ? "; partial frame dropped" : ""));
      if (clientSide) {
        lostRequests = true;
        lostBefore = streamOffset + length;
      } else {
        pending.forEach(p -> p.answerMayBeLost = true);
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
        Pending p = removeFirst();
        emit(p, FactStatus.TIMEOUT, null, null, -1, -1, 0, p.answerMayBeLost);
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
        o.anomaly(INCOMPLETE_AT_CLOSE, true, client.nextOffset(), "connection ended inside a frame");
      }
      if (!server.idle() && !server.resynchronising()) {
        o.anomaly(INCOMPLETE_AT_CLOSE, false, server.nextOffset(), "connection ended inside a frame");
      }
      while (!pending.isEmpty()) {
        Pending p = removeFirst();
        emit(p, FactStatus.TIMEOUT, null, null, -1, -1, 0, p.answerMayBeLost);
      }
    } finally {
      out = null;
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
    o.writeByte((evicting ? 1 : 0) | (orphaning ? 2 : 0) | (lostRequests ? 4 : 0) | (rawSasl ? 8 : 0));
    o.writeLong(lostBefore);
    writeString(o, lastClientId);
    o.writeBoolean(hasCorrelationId);
    o.writeInt(lastCorrelationId);
    o.writeByte(topicIds.size());
    for (Map.Entry<String, String> e : topicIds.entrySet()) {
      writeString(o, e.getKey());
      writeString(o, e.getValue());
    }
    o.writeInt(pending.size());
    for (Pending p : pending) {
      o.writeShort(p.apiKey);
      o.writeShort(p.apiVersion);
      o.writeInt(p.correlationId);
      writeString(o, p.clientId);
      writeString(o, p.resource);
      writeString(o, p.args);
      o.writeLong(p.offset);
      o.writeLong(p.firstNs);
      o.writeLong(p.lastNs);
      o.writeLong(p.bytes);
      o.writeLong(p.records);
      o.writeByte((p.requestGap ? 1 : 0) | (p.decoded ? 2 : 0) | (p.namedTopics ? 4 : 0) | (p.answerMayBeLost ? 8 : 0));
    }
    // SASL auth bytes of a frame in progress are masked: the state goes to a changelog topic
    client.writeTo(o, (f, len, started) -> KafkaSaslMask.request(f, len, rawSasl, started));
    server.writeTo(o, this::maskResponse);
  }

  /** A response in progress: its request (the first pending one with its correlation id) says what it is. */
  private void maskResponse(byte[] f, int len, boolean started) {
    if (rawSasl) {
      KafkaSaslMask.response(f, len, (short) -1, (short) -1, true);
      return;
    }
    if (len < 8) {
      return;
    }
    int id = KafkaHeaders.s32(f, 4);
    for (Pending p : pending) {
      if (p.correlationId == id) {
        KafkaSaslMask.response(f, len, p.apiKey, p.apiVersion, false);
        return;
      }
    }
  }

  static KafkaSession readFrom(DataInput in, SessionLimits limits) throws IOException {
    return readFrom(in, limits, KafkaDecoder.DEFAULT_MAX_DECODED_FRAME);
  }

  static KafkaSession readFrom(DataInput in, SessionLimits limits, int maxDecodedFrame) throws IOException {
    if (in.readByte() != STATE_FORMAT) {
      throw new IOException("unknown Kafka session state format");
    }
    int flags = in.readByte();
    long lostBefore = in.readLong();
    String lastClientId = readString(in);
    boolean hasCorrelationId = in.readBoolean();
    int lastCorrelationId = in.readInt();
    int ids = in.readUnsignedByte();
    if (ids > MAX_TOPIC_IDS) {
      throw new IOException("bad topic id count " + ids);
    }
    Map<String, String> topics = new LinkedHashMap<>();
    for (int i = 0; i < ids; i++) {
      topics.put(readString(in), readString(in));
    }
    int n = in.readInt();
    if (n < 0 || n > Math.max(1, limits.maxPendingRequests())) {
      throw new IOException("bad pending count " + n);
    }
    ArrayDeque<Pending> waiting = new ArrayDeque<>();
    for (int i = 0; i < n; i++) {
      Pending p = new Pending();
      p.apiKey = in.readShort();
      p.apiVersion = in.readShort();
      p.correlationId = in.readInt();
      p.clientId = readString(in);
      p.resource = readString(in);
      p.args = readString(in);
      p.offset = in.readLong();
      p.firstNs = in.readLong();
      p.lastNs = in.readLong();
      p.bytes = in.readLong();
      p.records = in.readLong();
      int pf = in.readByte();
      p.requestGap = (pf & 1) != 0;
      p.decoded = (pf & 2) != 0;
      p.namedTopics = (pf & 4) != 0;
      p.answerMayBeLost = (pf & 8) != 0;
      waiting.addLast(p);
    }
    // the decoders' checks are this session's methods: build it first, then read them into it
    KafkaSession k = new KafkaSession(limits, maxDecodedFrame);
    k.client = KafkaDecoder.readFrom(in, limits, maxDecodedFrame, k.requestStart);
    k.server = KafkaDecoder.readFrom(in, limits, maxDecodedFrame, k.responseStart);
    k.evicting = (flags & 1) != 0;
    k.orphaning = (flags & 2) != 0;
    k.lostRequests = (flags & 4) != 0;
    k.rawSasl = (flags & 8) != 0;
    k.lostBefore = lostBefore;
    k.lastClientId = lastClientId;
    k.hasCorrelationId = hasCorrelationId;
    k.lastCorrelationId = lastCorrelationId;
    k.topicIds.putAll(topics);
    for (Pending p : waiting) {
      k.pending.addLast(p);
      k.pendingIds.merge(p.correlationId, 1, Integer::sum);
    }
    return k;
  }

  /** A short string or null (every string here is bounded far below writeUTF's 64 KiB). */
  private static void writeString(DataOutput o, String s) throws IOException {
    o.writeBoolean(s != null);
    if (s != null) {
      o.writeUTF(s);
    }
  }

  private static String readString(DataInput in) throws IOException {
    return in.readBoolean() ? in.readUTF() : null;
  }

  /** A decoder listener handing frames to {@code onFrame} and anomalies, with their direction, to this call's output. */
  private DecoderListener<KafkaFrame> listener(Consumer<KafkaFrame> onFrame, boolean clientSide) {
    return new DecoderListener<>() {
      @Override
      public void message(KafkaFrame f) {
        onFrame.accept(f);
      }

      @Override
      public void anomaly(String name, long streamOffset, String detail) {
        out.anomaly(name, clientSide, streamOffset, detail);
      }
    };
  }
}
