package dev.tapflow.stream.protocol.redis;

import java.nio.charset.StandardCharsets;

/**
 * One decoded top-level RESP message, as {@link RespDecoder} reports it: where it is in the
 * stream, when it was captured, its type and the first few of its values.
 *
 * <p>Mutable and reused by the decoder: a listener copies what it keeps before returning.
 *
 * <p>"Items" are the message's values as far as a fact needs them: for an aggregate (a request
 * array, an inline command, a reply array or push) its direct children in order; for a
 * top-level scalar the scalar itself as item 0. At most {@link #MAX_ITEMS} are kept, and
 * of each only a prefix ({@link #COMMAND_BYTES} for item 0, then whatever is left of the
 * {@code maxArgBytes} budget); {@link #itemLength} keeps the real length.
 */
public final class RespMessage {

  /** Items kept per message; the rest are counted in {@link #elements} only. */
  public static final int MAX_ITEMS = 32;
  /** Bytes kept of item 0 (a command name, a push kind, an error text's start). */
  public static final int COMMAND_BYTES = 64;

  /** Type byte of an inline command (not a RESP type byte). */
  public static final byte INLINE = 'I';

  long offset;
  long firstTsNs;
  long lastTsNs;
  long length;
  /** top-level type after any attributes: {@code + - : $ * _ , # ( ! = % ~ >} or {@link #INLINE} */
  byte type;
  /** the reply carried one or more {@code |} attribute frames (not replies by themselves) */
  boolean attributes;
  /** inline command whose quotes did not balance (Redis answers it with a protocol error) */
  boolean unbalancedQuotes;
  /** elements of a top-level aggregate or arguments of an inline command; 1 for a scalar */
  long elements;
  /** the value is null: {@code $-1}, {@code *-1}, {@code _} */
  boolean nil;
  /** a gap inside a bulk body was skipped: the framing held, but body bytes were not captured */
  boolean lossy;

  int itemCount;
  final byte[] itemType = new byte[MAX_ITEMS];
  final int[] itemStart = new int[MAX_ITEMS];
  final int[] itemKept = new int[MAX_ITEMS];
  final long[] itemLength = new long[MAX_ITEMS];
  /** an integer child ({@code :}) parsed, for RESP2 unsubscribe counts; else Long.MIN_VALUE */
  final long[] itemInteger = new long[MAX_ITEMS];
  final byte[] bytes;
  int used;
  /** bytes kept of item 0: a command name is short, an error text may use the whole budget */
  private final int firstItemCap;

  RespMessage(boolean request, int maxArgBytes) {
    this.bytes = new byte[COMMAND_BYTES + Math.max(0, maxArgBytes)];
    this.firstItemCap = request ? COMMAND_BYTES : bytes.length;
  }

  void reset(long offset, long tsNs) {
    this.offset = offset;
    this.firstTsNs = tsNs;
    this.lastTsNs = tsNs;
    this.length = 0;
    this.type = 0;
    this.attributes = false;
    this.unbalancedQuotes = false;
    this.elements = 0;
    this.nil = false;
    this.lossy = false;
    this.itemCount = 0;
    this.used = 0;
  }

  /** Starts the next item; returns its index, or -1 when no more items are kept. */
  int startItem(byte itemType) {
    if (itemCount >= MAX_ITEMS) {
      return -1;
    }
    int i = itemCount++;
    this.itemType[i] = itemType;
    itemStart[i] = used;
    itemKept[i] = 0;
    itemLength[i] = 0;
    itemInteger[i] = Long.MIN_VALUE;
    return i;
  }

  /** Appends bytes of item {@code i} (counted in full, kept as far as the budget allows). */
  void append(int i, byte[] buf, int off, int n) {
    itemLength[i] += n;
    int cap = i == 0 ? firstItemCap : bytes.length;
    int room = Math.min(cap - itemKept[i], bytes.length - used);
    // only the last item may still grow: an earlier one is closed once a later one started
    if (room <= 0 || i != itemCount - 1) {
      return;
    }
    int k = Math.min(room, n);
    System.arraycopy(buf, off, bytes, used, k);
    used += k;
    itemKept[i] += k;
  }

  /** Forgets the last item (an inline argument that is re-read raw). */
  void dropLastItem() {
    itemCount--;
    used = itemStart[itemCount];
  }

  void append(int i, byte b) {
    itemLength[i]++;
    int cap = i == 0 ? firstItemCap : bytes.length;
    if (i == itemCount - 1 && itemKept[i] < cap && used < bytes.length) {
      bytes[used++] = b;
      itemKept[i]++;
    }
  }

  // ---- read side ---------------------------------------------------------------------------

  public long offset() {
    return offset;
  }

  public long firstTsNs() {
    return firstTsNs;
  }

  public long lastTsNs() {
    return lastTsNs;
  }

  public long length() {
    return length;
  }

  public byte type() {
    return type;
  }

  public boolean isInline() {
    return type == INLINE;
  }

  public boolean hasAttributes() {
    return attributes;
  }

  public boolean unbalancedQuotes() {
    return unbalancedQuotes;
  }

  /** Body bytes of this message were not captured (a gap inside a bulk string was skipped). */
  public boolean isLossy() {
    return lossy;
  }

  public boolean isNil() {
    return nil;
  }

  /** A reply that is an error: simple error {@code -} or blob error {@code !}. */
  public boolean isError() {
    return type == '-' || type == '!';
  }

  /** A RESP3 push frame {@code >}. (RESP2 pushes need connection context: see RedisSession.) */
  public boolean isResp3Push() {
    return type == '>';
  }

  public long elements() {
    return elements;
  }

  public int itemCount() {
    return itemCount;
  }

  public byte itemType(int i) {
    return itemType[i];
  }

  public long itemLength(int i) {
    return itemLength[i];
  }

  /** True when item {@code i} was kept whole (not truncated). */
  public boolean itemComplete(int i) {
    return itemKept[i] == itemLength[i];
  }

  public long itemInteger(int i) {
    return itemInteger[i];
  }

  /** The kept prefix of item {@code i} as ISO-8859-1 (byte-preserving) text. */
  public String itemLatin1(int i) {
    return new String(bytes, itemStart[i], itemKept[i], StandardCharsets.ISO_8859_1);
  }

  /** Does item {@code i} equal {@code ascii}, ignoring ASCII case? */
  public boolean itemEqualsIgnoreCase(int i, String ascii) {
    if (i >= itemCount || itemLength[i] != ascii.length() || itemKept[i] != ascii.length()) {
      return false;
    }
    int s = itemStart[i];
    for (int k = 0; k < ascii.length(); k++) {
      int a = bytes[s + k] & 0xff;
      int b = ascii.charAt(k);
      if (a != b && Character.toUpperCase(a) != Character.toUpperCase(b)) {
        return false;
      }
    }
    return true;
  }

  /** Item {@code i} rendered for a fact: UTF-8, control characters escaped as \xHH. */
  public String itemText(int i) {
    return RespText.render(bytes, itemStart[i], itemKept[i]);
  }
}
