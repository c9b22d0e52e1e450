package dev.tapflow.stream.protocol.memcached;

import dev.tapflow.protocol.api.DecoderListener;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;

/**
 * Incremental decoder of one direction of the memcached text protocol
 * (https://github.com/memcached/memcached/blob/master/doc/protocol.txt). Lines are kept only
 * up to {@code maxLineBytes}; data blocks are skipped, never kept.
 *
 * <p>Requests: a command line, and for set/add/replace/append/prepend/cas/ms a data block of
 * the declared length plus CRLF; the request ends after that CRLF. Responses: one line, or
 * {@code VALUE} blocks then {@code END} (retrieval), {@code STAT}/{@code ITEM} lines then
 * {@code END} (stats), or {@code VA <size>} plus a data block (meta get).
 *
 * <p>Bad input never throws: a named anomaly, then resynchronisation at the next line that
 * starts with a known command word (requests) or response word (responses).
 */
final class MemcachedTextDecoder {

  /** A line without a known command/response shape. */
  static final String BAD_LINE = "MEMCACHED_BAD_LINE";
  /** A printable command line with a word memcached does not know (it answers ERROR). */
  static final String UNKNOWN_COMMAND = "MEMCACHED_UNKNOWN_COMMAND";
  /** A line longer than {@code maxLineBytes}. */
  static final String LINE_TOO_LONG = "MEMCACHED_LINE_TOO_LONG";
  /** A data block longer than {@code maxMessageBytes} (skipped, not kept). */
  static final String BODY_TOO_LARGE = "MEMCACHED_BODY_TOO_LARGE";
  /** A data block not followed by CRLF. */
  static final String BAD_DATA_TERMINATOR = "MEMCACHED_BAD_DATA_TERMINATOR";

  private static final Words STORAGE = new Words("set", "add", "replace", "append", "prepend", "cas");
  private static final Words RETRIEVAL = new Words("get", "gets", "gat", "gats");
  /** Commands with an optional trailing {@code noreply}. */
  private static final Words NOREPLY_CAPABLE = new Words("set", "add", "replace", "append", "prepend", "cas", "incr",
      "decr", "touch", "delete", "flush_all", "verbosity");
  private static final Words COMMANDS = new Words("get", "gets", "gat", "gats", "set", "add", "replace", "append",
      "prepend", "cas", "incr", "decr", "touch", "delete", "flush_all", "version", "verbosity", "stats", "quit", "mg",
      "ms", "md", "ma", "mn", "me", "shutdown", "cache_memlimit", "slabs", "lru_crawler", "lru", "watch", "misbehave",
      "extstore", "debugtime");
  private static final Words RESPONSES = new Words("VALUE", "END", "STAT", "ITEM", "STORED", "NOT_STORED", "EXISTS",
      "NOT_FOUND", "DELETED", "TOUCHED", "OK", "VERSION", "ERROR", "CLIENT_ERROR", "SERVER_ERROR", "RESET", "VA", "HD",
      "EN", "NF", "NS", "EX", "MN", "ME", "BUSY", "BADCLASS", "NOSPARE", "NOTFULL", "UNSAFE", "SAME");

  private static final Words META_STATUS = new Words("HD", "EN", "NF", "NS", "EX");
  private static final Words ERRORS = new Words("ERROR", "CLIENT_ERROR", "SERVER_ERROR");

  /** A command word memcached knows (lower case). */
  static boolean isCommand(String w) {
    return COMMANDS.has(w);
  }

  /** A response line's first word that memcached sends. */
  static boolean isResponse(String w) {
    return RESPONSES.has(w);
  }

  /**
   * The line's words: {@code text.trim().split(" +")} (nothing for a blank line) without
   * compiling that regex for every line. Runs of spaces separate words; other control
   * characters stay inside them, as with split.
   */
  static String[] words(String text) {
    // trim and indexOf are the JDK's (not traced by the fuzzer); after trim the text ends
    // with a non-space, so a run of spaces always has a word after it
    String s = text.trim();
    if (s.isEmpty()) {
      return new String[0];
    }
    int count = 1;
    for (int sp = s.indexOf(' '); sp >= 0; sp = s.indexOf(' ', sp)) {
      count++;
      while (s.charAt(sp) == ' ') {
        sp++;
      }
    }
    String[] t = new String[count];
    int from = 0;
    for (int k = 0; k < count - 1; k++) {
      int sp = s.indexOf(' ', from);
      t[k] = s.substring(from, sp);
      from = sp;
      while (s.charAt(from) == ' ') {
        from++;
      }
    }
    t[count - 1] = s.substring(from);
    return t;
  }


  private static final int STATE_FORMAT = 1;

  private enum State { LINE, DATA, SKIP_LINE }

  private final boolean clientSide;
  private final SessionLimits limits;
  private State state = State.LINE;
  private byte[] line = new byte[128];
  private int lineLen;
  private long lineOffset;
  private long nextOffset = -1;
  /** after bad input: drop lines until one starts with a known word */
  private boolean resync;

  // the message in progress (a request, or a possibly multi-line response)
  private boolean inMessage;
  private long msgOffset;
  private long msgFirstNs;
  private long msgBytes;
  /** data block bytes still to skip, including the CRLF after it */
  private long dataRemaining;
  /** 'V' retrieval, 'S' stats: a multi-line response that ends at END; 0 otherwise */
  private byte multi;
  private int hits;
  private String command;
  private String key;
  private String args;
  private int keys;
  private boolean noreply;
  private boolean quiet;

  MemcachedTextDecoder(boolean clientSide, SessionLimits limits) {
    this.clientSide = clientSide;
    this.limits = limits;
  }

  boolean started() {
    return nextOffset >= 0;
  }

  long nextOffset() {
    return nextOffset;
  }

  /** Between messages (nothing partial held). */
  boolean idle() {
    return !inMessage && lineLen == 0 && state == State.LINE;
  }

  boolean resynchronising() {
    return resync || state == State.SKIP_LINE;
  }

  void decode(byte[] buf, int off, int len, long streamOffset, long tsNs, DecoderListener<MemcachedMessage> l) {
    int i = off;
    int end = off + len;
    nextOffset = streamOffset + len;
    while (i < end) {
      long pos = streamOffset + (i - off);
      switch (state) {
        case LINE -> {
          int lf = indexOf(buf, i, end, (byte) '\n');
          int n = (lf < 0 ? end : lf + 1) - i;
          if (lineLen == 0) {
            lineOffset = pos;
            if (!inMessage) {
              inMessage = true;
              msgOffset = pos;
              msgFirstNs = tsNs;
              msgBytes = 0;
            }
          }
          if ((long) lineLen + n > limits.maxLineBytes()) {
            if (!resync) {
              l.anomaly(LINE_TOO_LONG, lineOffset, "line longer than " + limits.maxLineBytes() + " bytes");
            }
            abandon();
            state = State.SKIP_LINE;
            continue;
          }
          if (lineLen + n > line.length) {
            line = Arrays.copyOf(line, Math.min(limits.maxLineBytes(), Math.max(lineLen + n, line.length * 2)));
          }
          System.arraycopy(buf, i, line, lineLen, n);
          lineLen += n;
          msgBytes += n;
          i += n;
          if (lf >= 0) {
            int textLen = lineLen - 1;
            if (textLen > 0 && line[textLen - 1] == '\r') {
              textLen--;
            }
            String text = new String(line, 0, textLen, StandardCharsets.ISO_8859_1);
            lineLen = 0;
            if (clientSide) {
              requestLine(text, tsNs, l);
            } else {
              responseLine(text, tsNs, l);
            }
          }
        }
        case DATA -> {
          long take = Math.min(dataRemaining, end - i);
          // <data> <here>\r\n: check the terminator bytes as they pass
          for (long k = 0; k < take; k++) {
            long rem = dataRemaining - k;
            if (rem <= 2) {
              byte b = buf[(int) (i + k)];
              if (b != (rem == 2 ? '\r' : '\n')) {
                l.anomaly(BAD_DATA_TERMINATOR, pos + k, "data block not followed by CRLF");
                resync = true; // what follows is the rest of a wrong-length block: skip to a known word
                break;
              }
            }
          }
          i += (int) take;
          dataRemaining -= take;
          msgBytes += take;
          if (dataRemaining == 0) {
            state = State.LINE;
            if (clientSide || multi == 0) {
              finish(tsNs, l, false, null);
            }
          }
        }
        case SKIP_LINE -> {
          int lf = indexOf(buf, i, end, (byte) '\n');
          i = lf < 0 ? end : lf + 1;
          if (lf >= 0) {
            state = State.LINE;
          }
        }
      }
    }
  }

  private static int indexOf(byte[] b, int from, int to, byte v) {
    for (int i = from; i < to; i++) {
      if (b[i] == v) {
        return i;
      }
    }
    return -1;
  }

  private void abandon() {
    inMessage = false;
    multi = 0;
    hits = 0;
    lineLen = 0;
    resync = true;
    command = key = args = null;
  }

  private void finish(long tsNs, DecoderListener<MemcachedMessage> l, boolean error, String errorText) {
    MemcachedMessage m = new MemcachedMessage(command, key, args, keys, noreply, quiet, msgOffset, msgFirstNs, tsNs,
        msgBytes, hits, error, errorText, -1, 0, 0, 0);
    inMessage = false;
    multi = 0;
    hits = 0;
    keys = 0;
    noreply = quiet = false;
    command = key = args = null;
    l.message(m);
  }

  // ---- requests ----------------------------------------------------------------------------

  private void requestLine(String text, long tsNs, DecoderListener<MemcachedMessage> l) {
    String[] t = words(text);
    String word = t.length == 0 ? "" : t[0].toLowerCase(Locale.ROOT);
    boolean known = isCommand(word);
    if (!known) {
      if (resync) {
        abandon();
        return;
      }
      if (t.length == 0 || !printable(text)) {
        l.anomaly(BAD_LINE, lineOffset, t.length == 0 ? "empty line" : "not a memcached command line");
        abandon();
        return;
      }
      // a printable line with an unknown word: memcached answers it with ERROR
      l.anomaly(UNKNOWN_COMMAND, lineOffset, "unknown command");
      command = (word.length() > 32 ? word.substring(0, 32) : word).toUpperCase(Locale.ROOT);
      key = null;
      args = null;
      finish(tsNs, l, false, null);
      return;
    }
    resync = false;
    command = word.toUpperCase(Locale.ROOT);
    key = t.length > 1 ? t[1] : null;
    noreply = Words.is(word, "quit") || NOREPLY_CAPABLE.has(word) && t.length > 1 && Words.is(t[t.length - 1], "noreply");
    quiet = false;
    int argsFrom = 2;
    long data = -1;
    if (RETRIEVAL.has(word)) {
      int first = word.startsWith("gat") ? 2 : 1;
      key = t.length > first ? t[first] : null;
      keys = Math.max(0, t.length - first);
      argsFrom = first + 1;
    } else if (STORAGE.has(word)) {
      int need = Words.is(word, "cas") ? 6 : 5;
      data = t.length >= need ? parseLength(t[4]) : -2;
      if (data < 0) {
        l.anomaly(BAD_LINE, lineOffset, "bad storage command line");
        data = -1; // memcached answers CLIENT_ERROR and reads no data block
      }
    } else if (word.length() == 2 && word.charAt(0) == 'm') {
      int flagsFrom = Words.is(word, "mn") ? 1 : Words.is(word, "ms") ? 3 : 2;
      if (Words.is(word, "mn")) {
        key = null;
      }
      for (int k = flagsFrom; k < t.length; k++) {
        if (Words.is(t[k], "q")) {
          quiet = true;
        }
      }
      if (Words.is(word, "ms")) {
        data = t.length >= 3 ? parseLength(t[2]) : -1;
        if (data < 0) {
          l.anomaly(BAD_LINE, lineOffset, "bad ms command line");
          data = -1;
        }
      }
    }
    args = joinArgs(t, argsFrom);
    if (data > limits.maxMessageBytes()) {
      l.anomaly(BODY_TOO_LARGE, lineOffset, "data block of " + data + " bytes");
    }
    if (data >= 0) {
      dataRemaining = data + 2;
      state = State.DATA;
      return;
    }
    finish(tsNs, l, false, null);
  }

  private String joinArgs(String[] t, int from) {
    if (t.length <= from) {
      return null;
    }
    StringBuilder sb = new StringBuilder();
    for (int k = from; k < t.length && sb.length() <= limits.maxArgBytes(); k++) {
      sb.append(k == from ? "" : " ").append(t[k]);
    }
    return sb.length() > limits.maxArgBytes() ? sb.substring(0, limits.maxArgBytes()) + "..." : sb.toString();
  }

  /** A non-negative decimal length, or -1. */
  static long parseLength(String s) {
    if (s.isEmpty() || s.length() > 18) {
      return -1;
    }
    long v = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '9') {
        return -1;
      }
      v = v * 10 + (c - '0');
    }
    return v;
  }

  // ---- responses ---------------------------------------------------------------------------

  private void responseLine(String text, long tsNs, DecoderListener<MemcachedMessage> l) {
    String[] t = words(text);
    if (t.length == 0) {
      t = new String[] {""};
    }
    String word = t[0];
    if (multi != 0) {
      if (Words.is(word, "END")) {
        finish(tsNs, l, false, null);
        return;
      }
      if (multi == 'V' && Words.is(word, "VALUE")) {
        value(t, 3, l);
        return;
      }
      if (multi == 'S' && (Words.is(word, "STAT") || Words.is(word, "ITEM"))) {
        return;
      }
      // the multi-line response ended without END: report it and start over with this line
      l.anomaly(BAD_LINE, lineOffset, "unexpected line inside a multi-line response");
      // this line's bytes are counted with the cut-short response (an approximation)
      long lineStart = lineOffset;
      finish(tsNs, l, true, "incomplete response");
      inMessage = true;
      msgOffset = lineStart;
      msgFirstNs = tsNs;
      msgBytes = 0;
    }
    boolean known = isResponse(word) || parseLength(word) >= 0;
    if (resync && !known) {
      abandon();
      return;
    }
    if (!known && !printable(text)) {
      l.anomaly(BAD_LINE, lineOffset, "not a memcached response line");
      abandon();
      return;
    }
    resync = false;
    command = word;
    if (Words.is(word, "VALUE")) {
      multi = 'V';
      value(t, 3, l);
    } else if (Words.is(word, "STAT") || Words.is(word, "ITEM")) {
      multi = 'S';
    } else if (Words.is(word, "VA")) {
      long n = t.length > 1 ? parseLength(t[1]) : -1;
      if (n < 0) {
        l.anomaly(BAD_LINE, lineOffset, "bad VA line");
        finish(tsNs, l, true, text);
        return;
      }
      hits = 1;
      metaTokens(t);
      dataBlock(n, l);
    } else if (META_STATUS.has(word)) {
      metaTokens(t);
      finish(tsNs, l, false, null);
    } else {
      boolean error = ERRORS.has(word);
      String et = error ? (text.length() > limits.maxArgBytes() ? text.substring(0, limits.maxArgBytes()) + "..." : text) : null;
      finish(tsNs, l, error, et);
    }
  }

  /** A meta response's returned key ({@code k<key>}) and opaque ({@code O<token>}), kept as key and args. */
  private void metaTokens(String[] t) {
    for (int k = 1; k < t.length; k++) {
      if (t[k].length() > 1 && t[k].charAt(0) == 'k') {
        key = t[k].substring(1);
      } else if (t[k].length() > 1 && t[k].charAt(0) == 'O') {
        args = t[k];
      }
    }
  }

  /** VALUE <key> <flags> <bytes> [<cas unique>]: a hit, then its data block. */
  private void value(String[] t, int lengthAt, DecoderListener<MemcachedMessage> l) {
    long n = t.length > lengthAt ? parseLength(t[lengthAt]) : -1;
    if (n < 0) {
      l.anomaly(BAD_LINE, lineOffset, "bad VALUE line");
      return;
    }
    hits++;
    dataBlock(n, l);
  }

  private void dataBlock(long n, DecoderListener<MemcachedMessage> l) {
    if (n > limits.maxMessageBytes()) {
      l.anomaly(BODY_TOO_LARGE, lineOffset, "data block of " + n + " bytes");
    }
    dataRemaining = n + 2;
    state = State.DATA;
  }

  private static boolean printable(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if ((c < 0x20 && c != '\t') || c >= 0x7f) {
        return false;
      }
    }
    return true;
  }

  /** Forgets a partial message after a gap; true if one was dropped. */
  boolean gap(long streamOffset, long length) {
    boolean partial = !idle();
    abandon();
    state = State.SKIP_LINE;
    dataRemaining = 0;
    nextOffset = streamOffset + length;
    return partial;
  }

  // ---- state -------------------------------------------------------------------------------

  void writeTo(DataOutput o) throws IOException {
    o.writeByte(STATE_FORMAT);
    o.writeByte(state.ordinal());
    o.writeInt(lineLen);
    o.write(line, 0, lineLen);
    o.writeLong(lineOffset);
    o.writeLong(nextOffset);
    o.writeBoolean(resync);
    o.writeBoolean(inMessage);
    o.writeLong(msgOffset);
    o.writeLong(msgFirstNs);
    o.writeLong(msgBytes);
    o.writeLong(dataRemaining);
    o.writeByte(multi);
    o.writeInt(hits);
    MemcachedSession.writeString(o, command);
    MemcachedSession.writeString(o, key);
    MemcachedSession.writeString(o, args);
    o.writeInt(keys);
    o.writeBoolean(noreply);
    o.writeBoolean(quiet);
  }

  static MemcachedTextDecoder readFrom(DataInput in, boolean clientSide, SessionLimits limits) throws IOException {
    if (in.readByte() != STATE_FORMAT) {
      throw new IOException("unknown memcached text decoder state format");
    }
    MemcachedTextDecoder d = new MemcachedTextDecoder(clientSide, limits);
    int st = in.readByte();
    if (st < 0 || st >= State.values().length) {
      throw new IOException("bad decoder state " + st);
    }
    d.state = State.values()[st];
    int n = in.readInt();
    if (n < 0 || n > limits.maxLineBytes()) {
      throw new IOException("bad line length " + n);
    }
    d.line = new byte[Math.max(128, n)];
    in.readFully(d.line, 0, n);
    d.lineLen = n;
    d.lineOffset = in.readLong();
    d.nextOffset = in.readLong();
    d.resync = in.readBoolean();
    d.inMessage = in.readBoolean();
    d.msgOffset = in.readLong();
    d.msgFirstNs = in.readLong();
    d.msgBytes = in.readLong();
    d.dataRemaining = in.readLong();
    d.multi = in.readByte();
    d.hits = in.readInt();
    d.command = MemcachedSession.readString(in);
    d.key = MemcachedSession.readString(in);
    d.args = MemcachedSession.readString(in);
    d.keys = in.readInt();
    d.noreply = in.readBoolean();
    d.quiet = in.readBoolean();
    return d;
  }
}
