package dev.tapflow.stream.protocol.redis;

import dev.tapflow.protocol.api.DecoderListener;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * Incremental decoder of one direction of a Redis connection: RESP2 and RESP3
 * (https://github.com/redis/redis-specifications/blob/master/protocol/RESP3.md) and, on the
 * request side, inline commands (https://redis.io/docs/latest/develop/reference/protocol-spec/#inline-commands).
 *
 * <p>Fed bytes as they arrive, it keeps its place between calls and never re-parses: the
 * only bytes it holds are one protocol line's first few bytes, an inline command line
 * (bounded by {@code maxLineBytes}, as Redis bounds it) and the kept prefix of a message's
 * first values ({@link RespMessage}). Bulk bodies are streamed through, never accumulated.
 * Every length, count and depth is checked against {@link SessionLimits} before it is used.
 *
 * <p>Bad input never throws: it raises a named anomaly with its stream offset, drops the
 * message in progress and enters {@link State#RESYNC}, which skips to the next line start
 * where a probe recognises a message start (requests: {@code *<n>\r\n$}, or an inline line
 * starting with a known command; replies: a well-formed type line). Until a message decodes
 * cleanly again, further anomalies are not reported.
 *
 * <p>Not thread-safe; one instance per direction of one connection.
 */
public final class RespDecoder {

  /** Receives what the decoder finds. Must not throw. */
  // ---- anomaly names (stable: they are counted and published) ------------------------------

  /** A byte that is not a RESP type where a type was due (or not {@code $} inside a request). */
  public static final String BAD_TYPE = "RESP_BAD_TYPE";
  /** A length or count that is not a number, or is negative where that is not allowed. */
  public static final String BAD_LENGTH = "RESP_BAD_LENGTH";
  /** A malformed integer, boolean or null line. */
  public static final String BAD_VALUE = "RESP_BAD_VALUE";
  /** A bulk body not followed by CRLF: the declared length was wrong. */
  public static final String BAD_TERMINATOR = "RESP_BAD_TERMINATOR";
  /** A bulk or blob longer than {@code maxMessageBytes}. */
  public static final String BULK_TOO_LONG = "RESP_BULK_TOO_LONG";
  /** An aggregate with more than {@code maxArrayElements} elements. */
  public static final String ARRAY_TOO_LONG = "RESP_ARRAY_TOO_LONG";
  /** Aggregates nested deeper than {@code maxNesting}. */
  public static final String NESTING_TOO_DEEP = "RESP_NESTING_TOO_DEEP";
  /** A protocol line or inline command longer than {@code maxLineBytes}. */
  public static final String LINE_TOO_LONG = "RESP_LINE_TOO_LONG";
  /** An inline command whose quotes do not balance (Redis answers with a protocol error). */
  public static final String UNBALANCED_QUOTES = "RESP_UNBALANCED_QUOTES";

  /** Bytes of a type line kept for parsing its number (lengths and integers are shorter). */
  private static final int HDR_BYTES = 24;
  /** Bytes of a line kept while resynchronising; longer lines are never message starts. */
  private static final int PROBE_BYTES = 64;
  private static final int STATE_FORMAT = 2;
  /** state byte of the short form written between messages */
  private static final int IDLE = 0x7f;

  /** Where the decoder is; the comment shows the wire position. */
  private enum State {
    /** between messages: {@code <here>*2\r\n...}; CR and LF here are skipped */
    MESSAGE_START,
    /** inside a message, an element's type byte is due: {@code *2\r\n<here>$3\r\n} */
    TYPE,
    /** the rest of a type line: {@code $<here>3\r\n}, {@code +<here>OK\r\n} */
    LINE,
    /** a bulk body: {@code $3\r\n<here>foo\r\n} */
    BULK_BODY,
    /** after a bulk body: {@code $3\r\nfoo<here>\r\n} */
    BULK_CR,
    /** {@code $3\r\nfoo\r<here>\n} */
    BULK_LF,
    /** an inline command line (requests only): {@code PI<here>NG\r\n} */
    INLINE,
    /** after bad input: skipping to a line start where a probe recognises a message */
    RESYNC,
    /** resync found an aggregate header line; the next byte confirms it */
    RESYNC_CANDIDATE
  }

  private final boolean requests;
  private final SessionLimits limits;
  private final RespMessage msg;

  private State state = State.MESSAGE_START;
  private boolean started;
  /** stream offset of the next byte expected */
  private long nextOffset;

  // the chunk being decoded (not state: set on every call)
  private long chunkBase;
  private long chunkTs;
  private DecoderListener<RespMessage> listener;

  // the current element
  private byte curType;
  private long elemOffset;
  private int capItem = -1;
  private long lineLen;
  private boolean pendingCr;
  private final byte[] hdr = new byte[HDR_BYTES];
  private int hdrLen;
  private long bulkRemaining;
  /** inside a RESP3 streamed string {@code $?\r\n;4\r\nabcd\r\n;0\r\n} */
  private boolean streamedString;
  private long streamedTotal;

  // the aggregate stack: remaining elements (-1: streamed, ends with '.'), seen, attribute?
  private long[] remaining = new long[4];
  private long[] seen = new long[4];
  private boolean[] attribute = new boolean[4];
  private int depth;
  private int attrDepth;

  // an inline command line
  private byte[] line = new byte[0];
  private int lineUsed;

  // resynchronisation
  /**
   * An anomaly was reported and no message has decoded cleanly since: further anomalies are
   * not reported (a hostile stream raises one anomaly per recovery, not one per line).
   */
  private boolean quiet;
  private boolean atLineStart;
  private final byte[] probe = new byte[PROBE_BYTES];
  private int probeLen;
  private boolean probeOverflow;
  private long probeOffset;
  private long probeTs;

  /**
   * @param requests true for the client-to-server direction (arrays of bulk strings and
   *                 inline commands), false for replies (every RESP2/RESP3 type)
   */
  public RespDecoder(boolean requests, SessionLimits limits) {
    this.requests = requests;
    this.limits = limits;
    this.msg = new RespMessage(requests, limits.maxArgBytes());
  }

  /** Stream offset of the next byte this decoder expects. */
  public long nextOffset() {
    return nextOffset;
  }

  public boolean started() {
    return started;
  }

  /** True between messages: nothing partial is held. */
  public boolean idle() {
    return state == State.MESSAGE_START;
  }

  /** True while skipping bad input. */
  public boolean resynchronising() {
    return state == State.RESYNC || state == State.RESYNC_CANDIDATE;
  }

  /**
   * Decodes the next bytes of the stream. Bytes before {@link #nextOffset()} (a retransmission
   * overlap) are skipped; a jump forward must be reported with {@link #gap} first.
   */
  public void decode(byte[] buf, int off, int len, long streamOffset, long tsNs, DecoderListener<RespMessage> l) {
    if (len <= 0) {
      return;
    }
    if (!started) {
      started = true;
      nextOffset = streamOffset;
    }
    long skip = nextOffset - streamOffset;
    if (skip > 0) {
      if (skip >= len) {
        return;
      }
      off += (int) skip;
      len -= (int) skip;
      streamOffset = nextOffset;
    } else if (skip < 0) {
      gap(nextOffset, -skip);
    }
    listener = l;
    chunkBase = streamOffset - off;
    chunkTs = tsNs;
    int p = off;
    int end = off + len;
    while (p < end) {
      switch (state) {
        case MESSAGE_START -> p = messageStart(buf, p, end);
        case TYPE -> p = type(buf, p);
        case LINE -> p = line(buf, p, end);
        case BULK_BODY -> p = bulkBody(buf, p, end);
        case BULK_CR -> p = bulkCr(buf, p);
        case BULK_LF -> p = bulkLf(buf, p);
        case INLINE -> p = inline(buf, p, end);
        case RESYNC -> p = resync(buf, p, end);
        case RESYNC_CANDIDATE -> p = candidate(buf, p);
      }
    }
    nextOffset = streamOffset + len;
    if (state != State.MESSAGE_START && !resynchronising()) {
      msg.lastTsNs = chunkTs; // the last captured byte of a message in progress, should a gap cut it
    }
    listener = null;
  }

  /**
   * The message in progress, with the bytes captured so far (its length is up to
   * {@link #nextOffset()}), or null between messages and while resynchronising. Valid until
   * the next call.
   */
  public RespMessage partialMessage() {
    if (state == State.MESSAGE_START || resynchronising()) {
      return null;
    }
    msg.length = nextOffset - msg.offset;
    return msg;
  }

  /**
   * Bytes {@code [streamOffset, streamOffset + length)} were never captured: the message in
   * progress is dropped and the decoder resynchronises on the bytes after the gap.
   *
   * @return true if a partial message was dropped
   */
  public boolean gap(long streamOffset, long length) {
    if (state == State.BULK_BODY && started && streamOffset == nextOffset && length <= bulkRemaining) {
      // $<len>\r\n <gap inside here> \r\n: the declared length keeps the framing; only
      // body bytes are missing, so the message goes on, marked as lossy
      bulkRemaining -= length;
      if (bulkRemaining == 0) {
        state = State.BULK_CR;
      }
      msg.lossy = true;
      nextOffset += length;
      return false;
    }
    boolean partial = !idle() && !resynchronising();
    enterResync(true);
    started = true;
    nextOffset = Math.max(nextOffset, streamOffset + length);
    return partial;
  }

  // ---- states ------------------------------------------------------------------------------

  private int messageStart(byte[] buf, int p, int end) {
    while (p < end && (buf[p] == '\r' || buf[p] == '\n')) {
      p++; // blank lines between messages carry nothing (Redis skips them in requests too)
    }
    if (p == end) {
      return p;
    }
    byte b = buf[p];
    msg.reset(chunkBase + p, chunkTs);
    depth = 0;
    attrDepth = 0;
    streamedString = false;
    elemOffset = chunkBase + p;
    if (requests) {
      if (b == '*') {
        beginElement(b);
        return p + 1;
      }
      // anything else starts an inline command; this byte is its first
      msg.type = RespMessage.INLINE;
      lineUsed = 0;
      state = State.INLINE;
      return p;
    }
    if (!isReplyType(b)) {
      fail(BAD_TYPE, chunkBase + p, "byte 0x" + hex(b) + " where a message starts", false);
      return p + 1;
    }
    beginElement(b);
    return p + 1;
  }

  private int type(byte[] buf, int p) {
    byte b = buf[p];
    elemOffset = chunkBase + p;
    if (streamedString) {
      // $?\r\n <here>;4\r\nabcd\r\n ... ;0\r\n
      if (b != ';') {
        fail(BAD_TYPE, elemOffset, "byte 0x" + hex(b) + " where a streamed string chunk is due", false);
        return p + 1;
      }
      startLine(b);
      return p + 1;
    }
    if (requests) {
      if (b != '$') {
        fail(BAD_TYPE, elemOffset, "byte 0x" + hex(b) + " in a request array (only $ is allowed)", false);
        return p + 1;
      }
    } else if (b == '.') {
      if (depth == 0 || remaining[depth - 1] != -1) {
        fail(BAD_TYPE, elemOffset, "end marker outside a streamed aggregate", false);
        return p + 1;
      }
      startLine(b);
      return p + 1;
    } else if (!isReplyType(b)) {
      fail(BAD_TYPE, elemOffset, "byte 0x" + hex(b) + " where an element type is due", false);
      return p + 1;
    }
    beginElement(b);
    return p + 1;
  }

  /** A type byte was read at {@link #elemOffset}: decide whether its value is kept. */
  private void beginElement(byte t) {
    startLine(t);
    capItem = -1;
    if (attrDepth > 0 || t == '|') {
      return; // attributes are metadata, never values of the message
    }
    if (depth == 0) {
      msg.type = t;
      if (!isAggregate(t)) {
        msg.elements = 1;
        capItem = msg.startItem(t);
      }
    } else if (depth == 1) {
      capItem = msg.startItem(t);
    }
  }

  private void startLine(byte t) {
    curType = t;
    lineLen = 0;
    hdrLen = 0;
    pendingCr = false;
    state = State.LINE;
  }

  private int line(byte[] buf, int p, int end) {
    for (; p < end; p++) {
      byte b = buf[p];
      if (b == '\n') {
        pendingCr = false;
        endOfLine(p + 1);
        return p + 1;
      }
      if (pendingCr) {
        pendingCr = false;
        if (!lineByte((byte) '\r', p)) {
          return p + 1;
        }
      }
      if (b == '\r') {
        pendingCr = true;
        continue;
      }
      if (!lineByte(b, p)) {
        return p + 1;
      }
    }
    return p;
  }

  /** One content byte of a type line; false if the line broke a limit. */
  private boolean lineByte(byte b, int p) {
    if (++lineLen > limits.maxLineBytes()) {
      fail(LINE_TOO_LONG, elemOffset, "line longer than " + limits.maxLineBytes() + " bytes", false);
      return false;
    }
    if (hdrLen < HDR_BYTES) {
      hdr[hdrLen++] = b;
    }
    if (capItem >= 0 && isLineValue(curType)) {
      msg.append(capItem, b);
    }
    return true;
  }

  /** A type line is complete; {@code next} is the position after its LF. */
  private void endOfLine(int next) {
    switch (curType) {
      case '+', '-', ',', '(' -> elementDone(next, false);
      case ':' -> {
        long v = parseLong();
        if (v == Long.MIN_VALUE) {
          fail(BAD_VALUE, elemOffset, "integer line is not a number", true);
          return;
        }
        if (capItem >= 0) {
          msg.itemInteger[capItem] = v;
        }
        elementDone(next, false);
      }
      case '#' -> {
        if (lineLen != 1 || (hdr[0] != 't' && hdr[0] != 'f')) {
          fail(BAD_VALUE, elemOffset, "boolean is not t or f", true);
          return;
        }
        elementDone(next, false);
      }
      case '_' -> {
        if (lineLen != 0) {
          fail(BAD_VALUE, elemOffset, "null line is not empty", true);
          return;
        }
        if (depth == 0) {
          msg.nil = true;
        }
        elementDone(next, false);
      }
      case '$', '!', '=' -> bulkHeader(next);
      case ';' -> chunkHeader(next);
      case '*', '%', '~', '>', '|' -> aggregateHeader(next);
      case '.' -> {
        // end of a streamed aggregate: pop it, it is complete
        if (lineLen != 0) {
          fail(BAD_VALUE, elemOffset, "end marker line is not empty", true);
          return;
        }
        if (depth == 1) {
          msg.elements = seen[0];
        }
        pop();
        elementDone(next, false);
      }
      default -> fail(BAD_TYPE, elemOffset, "unexpected type", true);
    }
  }

  private void bulkHeader(int next) {
    if (curType == '$' && !requests && isQuestionMark()) {
      streamedString = true; // $?\r\n then ;<len> chunks up to ;0
      streamedTotal = 0;
      state = State.TYPE;
      return;
    }
    long n = parseLong();
    if (n == -1 && curType == '$' && !requests) {
      if (depth == 0) {
        msg.nil = true; // RESP2 null bulk string
      }
      elementDone(next, false);
      return;
    }
    if (n < 0) {
      fail(BAD_LENGTH, elemOffset, "bad bulk length", true);
      return;
    }
    if (n > limits.maxMessageBytes()) {
      fail(BULK_TOO_LONG, elemOffset, "bulk of " + n + " bytes > " + limits.maxMessageBytes(), true);
      return;
    }
    bulkRemaining = n;
    state = n == 0 ? State.BULK_CR : State.BULK_BODY;
  }

  private void chunkHeader(int next) {
    long n = parseLong();
    if (n < 0) {
      fail(BAD_LENGTH, elemOffset, "bad streamed chunk length", true);
      return;
    }
    if (n == 0) {
      streamedString = false; // ;0\r\n ends the streamed string
      elementDone(next, false);
      return;
    }
    streamedTotal += n;
    if (streamedTotal > limits.maxMessageBytes()) {
      fail(BULK_TOO_LONG, elemOffset, "streamed string over " + limits.maxMessageBytes() + " bytes", true);
      return;
    }
    bulkRemaining = n;
    state = State.BULK_BODY;
  }

  private void aggregateHeader(int next) {
    boolean pairs = curType == '%' || curType == '|';
    long elements;
    if (!requests && curType != '>' && curType != '|' && isQuestionMark()) {
      elements = -1; // streamed aggregate: elements until a '.' line
    } else {
      long n = parseLong();
      if (requests && depth == 0 && n != Long.MIN_VALUE && n <= 0) {
        // Redis ignores a request array of zero or negative count: no command, no reply
        state = State.MESSAGE_START;
        return;
      }
      if (n == -1 && (curType == '*' || curType == '%') && !requests) {
        if (depth == 0) {
          msg.nil = true; // RESP2 null array
        }
        elementDone(next, false);
        return;
      }
      if (n < 0) {
        fail(BAD_LENGTH, elemOffset, "bad aggregate count", true);
        return;
      }
      if (n > limits.maxArrayElements() || (pairs && 2 * n > limits.maxArrayElements())) {
        fail(ARRAY_TOO_LONG, elemOffset, "aggregate of " + n + " > " + limits.maxArrayElements(), true);
        return;
      }
      elements = pairs ? 2 * n : n;
    }
    if (depth == 0 && curType != '|') {
      msg.elements = Math.max(elements, 0);
    }
    if (elements == 0) {
      elementDone(next, curType == '|');
      return;
    }
    if (depth >= limits.maxNesting()) {
      fail(NESTING_TOO_DEEP, elemOffset, "nesting deeper than " + limits.maxNesting(), true);
      return;
    }
    if (depth == remaining.length) {
      int size = Math.min(Math.max(4, depth * 2), Math.max(limits.maxNesting(), 1));
      remaining = java.util.Arrays.copyOf(remaining, size);
      seen = java.util.Arrays.copyOf(seen, size);
      attribute = java.util.Arrays.copyOf(attribute, size);
    }
    remaining[depth] = elements;
    seen[depth] = 0;
    attribute[depth] = curType == '|';
    if (curType == '|') {
      attrDepth++;
    }
    depth++;
    state = State.TYPE;
  }

  private void pop() {
    depth--;
    if (attribute[depth]) {
      attrDepth--;
    }
  }

  /**
   * An element ended at {@code next}. Counts it in its parent, closes every aggregate it
   * completes, and reports the message when the top level is done. An attribute (a {@code |}
   * frame) is not an element: it neither counts in its parent nor is a message by itself.
   */
  private void elementDone(int next, boolean attr) {
    capItem = -1;
    while (true) {
      if (depth == 0) {
        if (attr) {
          msg.attributes = true; // |1\r\n...\r\n <here> the reply itself follows
          state = State.TYPE;
          return;
        }
        msg.length = chunkBase + next - msg.offset;
        msg.lastTsNs = chunkTs;
        state = State.MESSAGE_START;
        quiet = false;
        listener.message(msg);
        return;
      }
      int top = depth - 1;
      if (!attr) {
        seen[top]++;
        if (remaining[top] > 0) {
          remaining[top]--;
        } else if (seen[top] > limits.maxArrayElements()) {
          fail(ARRAY_TOO_LONG, elemOffset, "streamed aggregate over " + limits.maxArrayElements(), false);
          return;
        }
      }
      if (remaining[top] != 0) {
        state = State.TYPE;
        return;
      }
      attr = attribute[top];
      pop();
    }
  }

  private int bulkBody(byte[] buf, int p, int end) {
    int n = (int) Math.min(bulkRemaining, end - p);
    if (capItem >= 0) {
      msg.append(capItem, buf, p, n);
    }
    bulkRemaining -= n;
    if (bulkRemaining == 0) {
      state = State.BULK_CR;
    }
    return p + n;
  }

  private int bulkCr(byte[] buf, int p) {
    if (buf[p] != '\r') {
      fail(BAD_TERMINATOR, chunkBase + p, "bulk body not followed by CRLF", buf[p] == '\n');
      return p + 1;
    }
    state = State.BULK_LF;
    return p + 1;
  }

  private int bulkLf(byte[] buf, int p) {
    if (buf[p] != '\n') {
      fail(BAD_TERMINATOR, chunkBase + p, "bulk body not followed by CRLF", false);
      return p + 1;
    }
    if (streamedString) {
      state = State.TYPE; // next chunk: ;<len>
      return p + 1;
    }
    elementDone(p + 1, false);
    return p + 1;
  }

  private int inline(byte[] buf, int p, int end) {
    int start = p;
    while (p < end && buf[p] != '\n') {
      p++;
    }
    int n = p - start;
    if ((long) lineUsed + n > limits.maxLineBytes()) {
      fail(LINE_TOO_LONG, msg.offset, "inline command longer than " + limits.maxLineBytes() + " bytes", false);
      return p; // RESYNC sees the LF (if any) and probes the next line
    }
    if (lineUsed + n > line.length) {
      int size = Math.max(lineUsed + n, Math.max(128, line.length * 2));
      line = java.util.Arrays.copyOf(line, Math.min(size, limits.maxLineBytes()));
    }
    System.arraycopy(buf, start, line, lineUsed, n);
    lineUsed += n;
    if (p == end) {
      return p;
    }
    int len = lineUsed;
    if (len > 0 && line[len - 1] == '\r') {
      len--;
    }
    finishInline(line, len, p + 1);
    return p + 1;
  }

  /**
   * Splits an inline command line as Redis' {@code sdssplitargs} does: spaces separate,
   * {@code "..."} takes {@code \n \r \t \b \a \xHH} and {@code \<c>} escapes, {@code '...'}
   * takes {@code \'}; a closing quote must be followed by a space or the end. When quotes do
   * not balance Redis rejects the line with {@code -ERR Protocol error: unbalanced quotes};
   * the command is still reported (it gets that reply), its last argument the raw rest.
   */
  private void finishInline(byte[] l, int len, int next) {
    msg.type = RespMessage.INLINE;
    for (int k = 0; k < len; k++) {
      if (l[k] == 0) {
        len = k; // sdssplitargs works on a C string: a NUL ends the line's arguments
        break;
      }
    }
    int argc = 0;
    int i = 0;
    boolean unbalanced = false;
    outer:
    while (true) {
      while (i < len && isSpace(l[i])) {
        i++;
      }
      if (i >= len) {
        break;
      }
      int argStart = i;
      int item = msg.startItem(RespMessage.INLINE);
      argc++;
      boolean inDq = false;
      boolean inSq = false;
      while (true) {
        if (inDq) {
          if (i >= len) {
            unbalanced = true;
          } else if (l[i] == '\\' && i + 3 < len && l[i + 1] == 'x' && isHex(l[i + 2]) && isHex(l[i + 3])) {
            put(item, (byte) (Character.digit(l[i + 2], 16) * 16 + Character.digit(l[i + 3], 16)));
            i += 4;
            continue;
          } else if (l[i] == '\\' && i + 1 < len) {
            byte c = l[i + 1];
            put(item, switch (c) {
              case 'n' -> (byte) '\n';
              case 'r' -> (byte) '\r';
              case 't' -> (byte) '\t';
              case 'b' -> (byte) '\b';
              case 'a' -> (byte) 7;
              default -> c;
            });
            i += 2;
            continue;
          } else if (l[i] == '"') {
            if (i + 1 < len && !isSpace(l[i + 1])) {
              unbalanced = true; // closing quote must be followed by a space
            } else {
              i++;
              break;
            }
          } else {
            put(item, l[i++]);
            continue;
          }
        } else if (inSq) {
          if (i >= len) {
            unbalanced = true;
          } else if (l[i] == '\\' && i + 1 < len && l[i + 1] == '\'') {
            put(item, (byte) '\'');
            i += 2;
            continue;
          } else if (l[i] == '\'') {
            if (i + 1 < len && !isSpace(l[i + 1])) {
              unbalanced = true;
            } else {
              i++;
              break;
            }
          } else {
            put(item, l[i++]);
            continue;
          }
        } else {
          if (i >= len || isSpace(l[i])) {
            break;
          }
          if (l[i] == '"') {
            inDq = true;
          } else if (l[i] == '\'') {
            inSq = true;
          } else {
            put(item, l[i]);
          }
          i++;
          continue;
        }
        // unbalanced: the argument becomes the raw rest of the line
        if (item >= 0) {
          msg.dropLastItem();
          item = msg.startItem(RespMessage.INLINE);
          if (item >= 0) {
            msg.append(item, l, argStart, len - argStart);
          }
        }
        break outer;
      }
    }
    if (argc == 0) {
      state = State.MESSAGE_START; // an empty line: Redis ignores it, no reply
      return;
    }
    if (unbalanced) {
      listener.anomaly(UNBALANCED_QUOTES, msg.offset, "inline command with unbalanced quotes");
    }
    msg.unbalancedQuotes = unbalanced;
    msg.elements = argc;
    msg.length = chunkBase + next - msg.offset;
    msg.lastTsNs = chunkTs;
    state = State.MESSAGE_START;
    lineUsed = 0;
    quiet = false;
    listener.message(msg);
  }

  private void put(int item, byte b) {
    if (item >= 0) {
      msg.append(item, b);
    }
  }

  // ---- resynchronisation -------------------------------------------------------------------

  private void fail(String name, long at, String detail, boolean lineStart) {
    if (!quiet) {
      listener.anomaly(name, at, detail);
    }
    quiet = true;
    enterResync(lineStart);
  }

  private void enterResync(boolean lineStart) {
    state = State.RESYNC;
    atLineStart = lineStart;
    depth = 0;
    attrDepth = 0;
    streamedString = false;
    capItem = -1;
    lineUsed = 0;
    probeLen = 0;
    probeOverflow = false;
  }

  private int resync(byte[] buf, int p, int end) {
    while (p < end) {
      byte b = buf[p];
      if (atLineStart) {
        atLineStart = false;
        probeOffset = chunkBase + p;
        probeTs = chunkTs;
        probeLen = 0;
        probeOverflow = false;
      }
      p++;
      if (b == '\n') {
        atLineStart = true;
        if (!probeOverflow && probeLine(p)) {
          return p;
        }
      } else if (probeLen < PROBE_BYTES) {
        probe[probeLen++] = b;
      } else {
        probeOverflow = true;
      }
    }
    return p;
  }

  /** A whole line was seen while resynchronising; true if it starts a message (state set). */
  private boolean probeLine(int next) {
    int len = probeLen > 0 && probe[probeLen - 1] == '\r' ? probeLen - 1 : probeLen;
    if (len == 0) {
      return false;
    }
    byte t = probe[0];
    if (requests) {
      if (t == '*') {
        long n = parseLong(probe, 1, len - 1);
        if (n >= 1 && n <= limits.maxArrayElements()) {
          state = State.RESYNC_CANDIDATE; // *<n>\r\n <here> must be '$'
          return true;
        }
        return false;
      }
      if (RedisCommands.looksLikeInlineCommand(probe, 0, len)) {
        msg.reset(probeOffset, probeTs);
        depth = 0;
        attrDepth = 0;
        finishInline(probe, len, next);
        return true;
      }
      return false;
    }
    if (!looksLikeReplyLine(len)) {
      return false;
    }
    if (isAggregate(t) && parseLong(probe, 1, len - 1) > 0) {
      state = State.RESYNC_CANDIDATE;
      return true;
    }
    commitProbe(next, len);
    return true;
  }

  private int candidate(byte[] buf, int p) {
    byte b = buf[p];
    int len = probeLen > 0 && probe[probeLen - 1] == '\r' ? probeLen - 1 : probeLen;
    if (requests ? b == '$' : isReplyType(b)) {
      commitProbe(p, len); // pushes the aggregate; TYPE then reads b
      return p;
    }
    state = State.RESYNC;
    atLineStart = true; // b starts the next line: probe it
    return p;
  }

  /** Starts a message at the probed line, as if it had been decoded from MESSAGE_START. */
  private void commitProbe(int next, int len) {
    msg.reset(probeOffset, probeTs);
    depth = 0;
    attrDepth = 0;
    streamedString = false;
    elemOffset = probeOffset;
    beginElement(probe[0]);
    for (int i = 1; i < len; i++) {
      if (!lineByte(probe[i], next)) {
        return;
      }
    }
    endOfLine(next);
  }

  private boolean looksLikeReplyLine(int len) {
    byte t = probe[0];
    switch (t) {
      case '+' -> {
        return printable(1, len);
      }
      case '-' -> {
        // -ERR ..., -WRONGTYPE ..., -NOAUTH ...: an upper-case code first
        int i = 1;
        while (i < len && probe[i] >= 'A' && probe[i] <= 'Z') {
          i++;
        }
        return i > 1 && (i == len || probe[i] == ' ') && printable(i, len);
      }
      case ':', '(' -> {
        return parseLong(probe, 1, len - 1) != Long.MIN_VALUE;
      }
      case '#' -> {
        return len == 2 && (probe[1] == 't' || probe[1] == 'f');
      }
      case '_' -> {
        return len == 1;
      }
      case ',' -> {
        return len > 1 && printable(1, len);
      }
      case '$', '*', '%' -> {
        long n = parseLong(probe, 1, len - 1);
        return n >= -1 && n != Long.MIN_VALUE && (t != '$' || n <= limits.maxMessageBytes())
            && (t == '$' || n <= limits.maxArrayElements());
      }
      case '!', '=' -> {
        long n = parseLong(probe, 1, len - 1);
        return n >= 0 && n <= limits.maxMessageBytes();
      }
      case '~', '>', '|' -> {
        long n = parseLong(probe, 1, len - 1);
        return n >= 0 && n <= limits.maxArrayElements();
      }
      default -> {
        return false;
      }
    }
  }

  private boolean printable(int from, int to) {
    for (int i = from; i < to; i++) {
      int c = probe[i] & 0xff;
      if (c < 0x20 && c != '\t' || c == 0x7f) {
        return false;
      }
    }
    return true;
  }

  // ---- small parsers -----------------------------------------------------------------------

  private boolean isQuestionMark() {
    return lineLen == 1 && hdr[0] == '?';
  }

  /** The current type line as a decimal number, or Long.MIN_VALUE if it is not one. */
  private long parseLong() {
    if (lineLen > 20 || lineLen != hdrLen) {
      return Long.MIN_VALUE;
    }
    return parseLong(hdr, 0, hdrLen);
  }

  /** Decimal with an optional sign, at most 19 digits; Long.MIN_VALUE if malformed. */
  static long parseLong(byte[] b, int off, int len) {
    if (len <= 0 || len > 20) {
      return Long.MIN_VALUE;
    }
    int i = off;
    boolean neg = false;
    if (b[i] == '-' || b[i] == '+') {
      neg = b[i] == '-';
      i++;
    }
    int digits = off + len - i;
    if (digits <= 0 || digits > 18) {
      return Long.MIN_VALUE;
    }
    long v = 0;
    for (; i < off + len; i++) {
      int d = b[i] - '0';
      if (d < 0 || d > 9) {
        return Long.MIN_VALUE;
      }
      v = v * 10 + d;
    }
    return neg ? -v : v;
  }

  static boolean isReplyType(byte b) {
    return switch (b) {
      case '+', '-', ':', '$', '*', '_', ',', '#', '(', '!', '=', '%', '~', '>', '|' -> true;
      default -> false;
    };
  }

  private static boolean isAggregate(byte t) {
    return t == '*' || t == '%' || t == '~' || t == '>' || t == '|';
  }

  /** Types whose line is the value itself (and so is kept as an item). */
  private static boolean isLineValue(byte t) {
    return t == '+' || t == '-' || t == ':' || t == ',' || t == '(' || t == '#' || t == '_';
  }

  private static boolean isSpace(byte b) {
    return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == 0x0b || b == 0x0c;
  }

  private static boolean isHex(byte b) {
    return Character.digit(b, 16) >= 0;
  }

  private static String hex(byte b) {
    return String.format("%02x", b & 0xff);
  }

  // ---- state serialisation -----------------------------------------------------------------

  /** Writes the whole decoder state, a partial message included. */
  public void writeTo(DataOutput out) throws IOException {
    writeTo(out, false);
  }

  /**
   * Writes the whole decoder state, a partial message included; credentials (and values,
   * unless kept) of a request in progress masked ({@link RedisCommands#savedBytes}): the state
   * goes to a changelog topic, and the fact shows them redacted anyway.
   *
   * @param scrubError the reply in progress answers a request that carried credentials: if it
   *                   is an error, what its fact's error text will have scrubbed is masked too
   */
  void writeTo(DataOutput out, boolean scrubError) throws IOException {
    out.writeByte(STATE_FORMAT);
    if (state == State.MESSAGE_START) {
      // between messages nothing partial is held: the short form (most connections, most of the time)
      out.writeByte(IDLE);
      out.writeBoolean(started);
      out.writeLong(nextOffset);
      out.writeBoolean(quiet);
      out.writeBoolean(atLineStart);
      return;
    }
    out.writeByte(state.ordinal());
    out.writeBoolean(started);
    out.writeLong(nextOffset);
    out.writeByte(curType);
    out.writeLong(elemOffset);
    out.writeInt(capItem);
    out.writeLong(lineLen);
    out.writeBoolean(pendingCr);
    boolean scrub = !requests && scrubError && msg.isError();
    out.writeByte(hdrLen);
    out.write(scrub ? RedisCommands.savedError(hdr, 0, hdrLen) : hdr, 0, hdrLen);
    out.writeLong(bulkRemaining);
    out.writeBoolean(streamedString);
    out.writeLong(streamedTotal);
    out.writeInt(depth);
    out.writeInt(attrDepth);
    for (int i = 0; i < depth; i++) {
      out.writeLong(remaining[i]);
      out.writeLong(seen[i]);
      out.writeBoolean(attribute[i]);
    }
    out.writeInt(lineUsed);
    out.write(requests ? RedisCommands.savedLine(line, lineUsed) : line, 0, lineUsed);
    out.writeBoolean(quiet);
    out.writeBoolean(atLineStart);
    out.writeByte(probeLen);
    out.write(requests ? RedisCommands.savedLine(probe, probeLen) : probe, 0, probeLen);
    out.writeBoolean(probeOverflow);
    out.writeLong(probeOffset);
    out.writeLong(probeTs);
    // the message in progress
    out.writeLong(msg.offset);
    out.writeLong(msg.firstTsNs);
    out.writeByte(msg.type);
    out.writeBoolean(msg.attributes);
    out.writeLong(msg.elements);
    out.writeBoolean(msg.nil);
    out.writeLong(msg.lastTsNs);
    out.writeBoolean(msg.lossy);
    out.writeByte(msg.itemCount);
    for (int i = 0; i < msg.itemCount; i++) {
      out.writeByte(msg.itemType[i]);
      out.writeInt(msg.itemStart[i]);
      out.writeInt(msg.itemKept[i]);
      out.writeLong(msg.itemLength[i]);
      out.writeLong(msg.itemInteger[i]);
    }
    out.writeInt(msg.used);
    byte[] kept = msg.bytes;
    if (requests) {
      kept = RedisCommands.savedBytes(msg, limits.keepValues());
    } else if (scrub && msg.itemCount > 0) {
      kept = RedisCommands.savedError(msg.bytes, msg.itemStart[0], msg.itemStart[0] + msg.itemKept[0]);
    }
    out.write(kept, 0, msg.used);
  }

  /** Restores a state written by {@link #writeTo} (with the same limits). */
  public static RespDecoder readFrom(DataInput in, boolean requests, SessionLimits limits) throws IOException {
    RespDecoder d = new RespDecoder(requests, limits);
    if (in.readByte() != STATE_FORMAT) {
      throw new IOException("unknown RESP decoder state format");
    }
    int st = in.readUnsignedByte();
    if (st == IDLE) {
      d.started = in.readBoolean();
      d.nextOffset = in.readLong();
      d.quiet = in.readBoolean();
      d.atLineStart = in.readBoolean();
      return d;
    }
    if (st >= State.values().length) {
      throw new IOException("bad decoder state");
    }
    d.state = State.values()[st];
    d.started = in.readBoolean();
    d.nextOffset = in.readLong();
    d.curType = in.readByte();
    d.elemOffset = in.readLong();
    d.capItem = in.readInt();
    d.lineLen = in.readLong();
    d.pendingCr = in.readBoolean();
    d.hdrLen = check(in.readUnsignedByte(), HDR_BYTES);
    in.readFully(d.hdr, 0, d.hdrLen);
    d.bulkRemaining = in.readLong();
    d.streamedString = in.readBoolean();
    d.streamedTotal = in.readLong();
    d.depth = check(in.readInt(), limits.maxNesting());
    d.attrDepth = check(in.readInt(), d.depth);
    int size = Math.max(4, d.depth);
    d.remaining = new long[size];
    d.seen = new long[size];
    d.attribute = new boolean[size];
    for (int i = 0; i < d.depth; i++) {
      d.remaining[i] = in.readLong();
      d.seen[i] = in.readLong();
      d.attribute[i] = in.readBoolean();
    }
    d.lineUsed = check(in.readInt(), limits.maxLineBytes());
    d.line = new byte[d.lineUsed];
    in.readFully(d.line, 0, d.lineUsed);
    d.quiet = in.readBoolean();
    d.atLineStart = in.readBoolean();
    d.probeLen = check(in.readUnsignedByte(), PROBE_BYTES);
    in.readFully(d.probe, 0, d.probeLen);
    d.probeOverflow = in.readBoolean();
    d.probeOffset = in.readLong();
    d.probeTs = in.readLong();
    RespMessage m = d.msg;
    m.offset = in.readLong();
    m.firstTsNs = in.readLong();
    m.type = in.readByte();
    m.attributes = in.readBoolean();
    m.elements = in.readLong();
    m.nil = in.readBoolean();
    m.lastTsNs = in.readLong();
    m.lossy = in.readBoolean();
    m.itemCount = check(in.readUnsignedByte(), RespMessage.MAX_ITEMS);
    for (int i = 0; i < m.itemCount; i++) {
      m.itemType[i] = in.readByte();
      m.itemStart[i] = check(in.readInt(), m.bytes.length);
      m.itemKept[i] = check(in.readInt(), m.bytes.length - m.itemStart[i]);
      m.itemLength[i] = in.readLong();
      m.itemInteger[i] = in.readLong();
    }
    m.used = check(in.readInt(), m.bytes.length);
    in.readFully(m.bytes, 0, m.used);
    if (d.capItem >= m.itemCount) {
      throw new IOException("bad decoder state");
    }
    return d;
  }

  private static int check(int v, int max) throws IOException {
    if (v < 0 || v > max) {
      throw new IOException("decoder state value out of range: " + v);
    }
    return v;
  }
}
