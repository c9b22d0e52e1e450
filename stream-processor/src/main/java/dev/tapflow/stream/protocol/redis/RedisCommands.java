package dev.tapflow.stream.protocol.redis;

import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What tapflow knows about Redis commands: which names exist (for the content probe and for
 * resynchronising on inline commands), where a command's key is (the fact's resource), and
 * which arguments are credentials (replaced by {@link #REDACTED} before anything leaves).
 *
 * <p>Key positions follow the command reference (https://redis.io/docs/latest/commands/):
 * the first argument by default; none for connection/server commands; after the sub-command
 * for container commands (OBJECT ENCODING key); after {@code numkeys} for EVAL-like and
 * *MPOP commands; after {@code STREAMS} for XREAD.
 */
final class RedisCommands {

  static final String REDACTED = "<redacted>";

  private RedisCommands() {}

  /** A request as it goes on a fact. */
  record Request(String command, String resource, String args) {}

  /** Redis 7 top-level command names (upper case). */
  static final Set<String> KNOWN = Set.of(
      "ACL", "APPEND", "ASKING", "AUTH", "BGREWRITEAOF", "BGSAVE", "BITCOUNT", "BITFIELD",
      "BITFIELD_RO", "BITOP", "BITPOS", "BLMOVE", "BLMPOP", "BLPOP", "BRPOP", "BRPOPLPUSH",
      "BZMPOP", "BZPOPMAX", "BZPOPMIN", "CLIENT", "CLUSTER", "COMMAND", "CONFIG", "COPY",
      "DBSIZE", "DEBUG", "DECR", "DECRBY", "DEL", "DISCARD", "DUMP", "ECHO", "EVAL", "EVALSHA",
      "EVALSHA_RO", "EVAL_RO", "EXEC", "EXISTS", "EXPIRE", "EXPIREAT", "EXPIRETIME", "FAILOVER",
      "FCALL", "FCALL_RO", "FLUSHALL", "FLUSHDB", "FUNCTION", "GEOADD", "GEODIST", "GEOHASH",
      "GEOPOS", "GEORADIUS", "GEORADIUSBYMEMBER", "GEORADIUSBYMEMBER_RO", "GEORADIUS_RO",
      "GEOSEARCH", "GEOSEARCHSTORE", "GET", "GETBIT", "GETDEL", "GETEX", "GETRANGE", "GETSET",
      "HDEL", "HELLO", "HEXISTS", "HGET", "HGETALL", "HINCRBY", "HINCRBYFLOAT", "HKEYS", "HLEN",
      "HMGET", "HMSET", "HRANDFIELD", "HSCAN", "HSET", "HSETNX", "HSTRLEN", "HVALS", "INCR",
      "INCRBY", "INCRBYFLOAT", "INFO", "KEYS", "LASTSAVE", "LATENCY", "LCS", "LINDEX", "LINSERT",
      "LLEN", "LMOVE", "LMPOP", "LOLWUT", "LPOP", "LPOS", "LPUSH", "LPUSHX", "LRANGE", "LREM",
      "LSET", "LTRIM", "MEMORY", "MGET", "MIGRATE", "MODULE", "MONITOR", "MOVE", "MSET",
      "MSETNX", "MULTI", "OBJECT", "PERSIST", "PEXPIRE", "PEXPIREAT", "PEXPIRETIME", "PFADD",
      "PFCOUNT", "PFDEBUG", "PFMERGE", "PFSELFTEST", "PING", "PSETEX", "PSUBSCRIBE", "PSYNC",
      "PTTL", "PUBLISH", "PUBSUB", "PUNSUBSCRIBE", "QUIT", "RANDOMKEY", "READONLY", "READWRITE",
      "RENAME", "RENAMENX", "REPLCONF", "REPLICAOF", "RESET", "RESTORE", "RESTORE-ASKING",
      "ROLE", "RPOP", "RPOPLPUSH", "RPUSH", "RPUSHX", "SADD", "SAVE", "SCAN", "SCARD", "SCRIPT",
      "SDIFF", "SDIFFSTORE", "SELECT", "SET", "SETBIT", "SETEX", "SETNX", "SETRANGE",
      "SHUTDOWN", "SINTER", "SINTERCARD", "SINTERSTORE", "SISMEMBER", "SLAVEOF", "SLOWLOG",
      "SMEMBERS", "SMISMEMBER", "SMOVE", "SORT", "SORT_RO", "SPOP", "SPUBLISH", "SRANDMEMBER",
      "SREM", "SSCAN", "SSUBSCRIBE", "STRLEN", "SUBSCRIBE", "SUBSTR", "SUNION", "SUNIONSTORE",
      "SUNSUBSCRIBE", "SWAPDB", "SYNC", "TIME", "TOUCH", "TTL", "TYPE", "UNLINK", "UNSUBSCRIBE",
      "UNWATCH", "WAIT", "WAITAOF", "WATCH", "XACK", "XADD", "XAUTOCLAIM", "XCLAIM", "XDEL",
      "XGROUP", "XINFO", "XLEN", "XPENDING", "XRANGE", "XREAD", "XREADGROUP", "XREVRANGE",
      "XSETID", "XTRIM", "ZADD", "ZCARD", "ZCOUNT", "ZDIFF", "ZDIFFSTORE", "ZINCRBY", "ZINTER",
      "ZINTERCARD", "ZINTERSTORE", "ZLEXCOUNT", "ZMPOP", "ZMSCORE", "ZPOPMAX", "ZPOPMIN",
      "ZRANDMEMBER", "ZRANGE", "ZRANGEBYLEX", "ZRANGEBYSCORE", "ZRANGESTORE", "ZRANK", "ZREM",
      "ZREMRANGEBYLEX", "ZREMRANGEBYRANK", "ZREMRANGEBYSCORE", "ZREVRANGE", "ZREVRANGEBYLEX",
      "ZREVRANGEBYSCORE", "ZREVRANK", "ZSCAN", "ZSCORE", "ZUNION", "ZUNIONSTORE");

  /** Commands without a key: the resource stays empty. */
  private static final Set<String> NO_KEY = Set.of(
      "ACL", "ASKING", "AUTH", "BGREWRITEAOF", "BGSAVE", "CLIENT", "CLUSTER", "COMMAND",
      "CONFIG", "DBSIZE", "DEBUG", "DISCARD", "ECHO", "EXEC", "FAILOVER", "FLUSHALL", "FLUSHDB",
      "FUNCTION", "HELLO", "INFO", "KEYS", "LASTSAVE", "LATENCY", "LOLWUT", "MODULE", "MONITOR",
      "MULTI", "PFSELFTEST", "PING", "PSYNC", "PUBSUB", "QUIT", "RANDOMKEY", "READONLY",
      "READWRITE", "REPLCONF", "REPLICAOF", "RESET", "ROLE", "SAVE", "SCAN", "SCRIPT", "SELECT",
      "SHUTDOWN", "SLAVEOF", "SLOWLOG", "SWAPDB", "SYNC", "TIME", "UNWATCH", "WAIT", "WAITAOF");

  /** Container commands whose key follows the sub-command: OBJECT ENCODING key. */
  private static final Set<String> KEY_AFTER_SUBCOMMAND = Set.of("OBJECT", "MEMORY", "XINFO", "XGROUP");
  /** script numkeys key ...: EVAL, FCALL. */
  private static final Set<String> NUMKEYS_AT_2 = Set.of(
      "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO", "BLMPOP", "BZMPOP");
  /** numkeys key ...: ZUNION, LMPOP. */
  private static final Set<String> NUMKEYS_AT_1 = Set.of(
      "ZUNION", "ZINTER", "ZDIFF", "ZINTERCARD", "SINTERCARD", "LMPOP", "ZMPOP");

  /** The pub/sub commands whose confirmations are push-shaped, not replies. */
  static final Set<String> SUBSCRIBE = Set.of("SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE");
  static final Set<String> UNSUBSCRIBE = Set.of("UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE");
  /** Commands that may carry credentials in their arguments ({@link #redactions}). */
  private static final Set<String> CREDENTIAL_COMMANDS = Set.of("AUTH", "HELLO", "MIGRATE", "CONFIG", "ACL");

  /**
   * Does a line look like an inline command: a known command word (letters, '_' or '-',
   * any case), then a space or the end, and no control bytes?
   */
  static boolean looksLikeInlineCommand(byte[] b, int off, int len) {
    int i = off;
    int end = off + len;
    while (i < end && (Character.isLetter(b[i]) || b[i] == '_' || b[i] == '-') && i - off < 24) {
      i++;
    }
    if (i == off || (i < end && b[i] != ' ')) {
      return false;
    }
    if (knownName(b, off, i - off) == null) {
      return false;
    }
    for (int k = i; k < end; k++) {
      int c = b[k] & 0xff;
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return false;
      }
    }
    // "GET / HTTP/1.1" is HTTP, not Redis
    return !contains(b, i, end, " HTTP/");
  }

  private static boolean contains(byte[] b, int from, int to, String ascii) {
    outer:
    for (int i = from; i + ascii.length() <= to; i++) {
      for (int k = 0; k < ascii.length(); k++) {
        if (b[i + k] != ascii.charAt(k)) {
          continue outer;
        }
      }
      return true;
    }
    return false;
  }

  /**
   * The upper-cased command name of a request (item 0). A known command's name is the one
   * constant of {@link #KNOWN}, found from the bytes without making a String: every request
   * of a command then looks up the tables here by one instance (hash cached, equal by identity).
   */
  static String commandName(RespMessage m) {
    if (m.itemCount() == 0) {
      return "";
    }
    String known = knownName(m.bytes, m.itemStart[0], m.itemKept[0]);
    return known != null ? known : m.itemText(0).toUpperCase(Locale.ROOT);
  }

  /** {@link #KNOWN} in an open-addressing table keyed by the upper-cased bytes. */
  private static final int NAME_MASK = 1023;
  private static final String[] NAME_TABLE = new String[NAME_MASK + 1];
  private static final int LONGEST_NAME;

  /**
   * What the tables here and in {@link RedisValues} say of each name in {@link #NAME_TABLE},
   * by slot: a request's rules come from one lookup ({@link #flags}) instead of a dozen set
   * and map lookups. The sets stay the definition; this table is built from them.
   */
  private static final int[] NAME_FLAGS = new int[NAME_MASK + 1];
  static final int F_NO_KEY = 1;
  static final int F_KEY_AFTER_SUBCOMMAND = 1 << 1;
  static final int F_NUMKEYS_AT_1 = 1 << 2;
  static final int F_NUMKEYS_AT_2 = 1 << 3;
  static final int F_XREAD = 1 << 4;
  static final int F_SUBSCRIBE = 1 << 5;
  static final int F_UNSUBSCRIBE = 1 << 6;
  static final int F_CREDENTIALS = 1 << 7;
  // bits 8 to 15: RedisValues

  static {
    int longest = 0;
    for (String name : KNOWN) {
      int slot = nameHash(name.getBytes(java.nio.charset.StandardCharsets.US_ASCII), 0, name.length()) & NAME_MASK;
      while (NAME_TABLE[slot] != null) {
        slot = (slot + 1) & NAME_MASK;
      }
      NAME_TABLE[slot] = name;
      NAME_FLAGS[slot] = ownFlags(name) | RedisValues.flags(name);
      longest = Math.max(longest, name.length());
    }
    LONGEST_NAME = longest;
    for (Set<String> table : List.of(NO_KEY, KEY_AFTER_SUBCOMMAND, NUMKEYS_AT_1, NUMKEYS_AT_2, SUBSCRIBE, UNSUBSCRIBE,
        CREDENTIAL_COMMANDS, RedisValues.names())) {
      if (!KNOWN.containsAll(table)) {
        throw new IllegalStateException("a command with rules is not a known command: " + table);
      }
    }
  }

  private static int ownFlags(String name) {
    return (NO_KEY.contains(name) ? F_NO_KEY : 0)
        | (KEY_AFTER_SUBCOMMAND.contains(name) ? F_KEY_AFTER_SUBCOMMAND : 0)
        | (NUMKEYS_AT_1.contains(name) ? F_NUMKEYS_AT_1 : 0)
        | (NUMKEYS_AT_2.contains(name) ? F_NUMKEYS_AT_2 : 0)
        | (name.equals("XREAD") || name.equals("XREADGROUP") ? F_XREAD : 0)
        | (SUBSCRIBE.contains(name) ? F_SUBSCRIBE : 0)
        | (UNSUBSCRIBE.contains(name) ? F_UNSUBSCRIBE : 0)
        | (CREDENTIAL_COMMANDS.contains(name) ? F_CREDENTIALS : 0);
  }

  /** The rules of a command name (upper case) as {@code F_} bits and RedisValues' bits; 0 for a name not known. */
  static int flags(String command) {
    int h = 0;
    int n = command.length();
    if (n == 0 || n > LONGEST_NAME) {
      return 0;
    }
    for (int i = 0; i < n; i++) {
      int c = command.charAt(i);
      h = 31 * h + (c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    h ^= h >>> 16;
    for (int slot = h & NAME_MASK; NAME_TABLE[slot] != null; slot = (slot + 1) & NAME_MASK) {
      String name = NAME_TABLE[slot];
      if (name == command || name.equals(command)) {
        return NAME_FLAGS[slot];
      }
    }
    return 0;
  }

  private static int nameHash(byte[] b, int off, int len) {
    int h = 0;
    for (int i = off; i < off + len; i++) {
      int c = b[i];
      h = 31 * h + (c >= 'a' && c <= 'z' ? c - 32 : c);
    }
    return h ^ (h >>> 16);
  }

  /** The constant of {@link #KNOWN} that {@code len} bytes spell in any ASCII case, or null. */
  static String knownName(byte[] b, int off, int len) {
    if (len == 0 || len > LONGEST_NAME) {
      return null;
    }
    for (int slot = nameHash(b, off, len) & NAME_MASK; NAME_TABLE[slot] != null; slot = (slot + 1) & NAME_MASK) {
      String name = NAME_TABLE[slot];
      if (name.length() == len && sameUpper(name, b, off)) {
        return name;
      }
    }
    return null;
  }

  private static boolean sameUpper(String name, byte[] b, int off) {
    for (int i = 0; i < name.length(); i++) {
      int c = b[off + i];
      if ((c >= 'a' && c <= 'z' ? c - 32 : c) != name.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  /**
   * Maps a decoded request to the fact's command, resource and args: the key (if the
   * command has one) becomes the resource, the other arguments are joined by spaces and cut
   * at {@code maxArgBytes} characters ("..." marks a cut), credentials are redacted, and
   * values ({@link RedisValues}) show only their size unless {@code keepValues}.
   */
  static Request describe(RespMessage m, String command, int maxArgBytes, boolean keepValues) {
    int n = m.itemCount();
    int flags = flags(command);
    boolean[] redact = redactions(m, command, flags);
    boolean[] value = new boolean[n];
    if (!keepValues) {
      RedisValues.mark(m, command, flags, value);
    }
    int key = keyIndex(m, flags);
    String resource = null;
    if (key > 0 && key < n) {
      resource = redact[key] ? REDACTED : cut(m.itemText(key), maxArgBytes, !m.itemComplete(key));
    }
    StringBuilder args = new StringBuilder();
    boolean cut = m.elements() > n;
    for (int i = 1; i < n && !cut; i++) {
      if (i == key) {
        continue;
      }
      if (args.length() > 0) {
        args.append(' ');
      }
      if (redact[i]) {
        args.append(REDACTED);
        continue;
      }
      if (value[i]) {
        args.append('<').append(m.itemLength(i)).append(" bytes>");
        continue;
      }
      args.append(m.itemText(i));
      if (!m.itemComplete(i)) {
        cut = true;
      }
    }
    String a = args.length() == 0 && !cut ? null : cut(args.toString(), maxArgBytes, cut);
    return new Request(command, resource, a);
  }

  /**
   * An error reply to a request that carried credentials, with every quoted part replaced:
   * Redis quotes the offending argument ({@code modifier '#<hash>'}, {@code argument '...'}).
   */
  static String scrubError(String error) {
    return error == null ? null : error.replaceAll("'[^']*'?", "'" + REDACTED + "'")
        .replaceAll("\"[^\"]*\"?", "\"" + REDACTED + "\"");
  }

  /** True when {@code r}'s resource or args had something redacted. */
  static boolean redacted(String resource, String args) {
    return REDACTED.equals(resource) || args != null && args.contains(REDACTED);
  }

  private static String cut(String s, int max, boolean alreadyCut) {
    if (s.length() > max) {
      return s.substring(0, Math.max(0, max)) + "...";
    }
    return alreadyCut ? s + "..." : s;
  }

  /** Item index of the key, or -1. */
  private static int keyIndex(RespMessage m, int flags) {
    if ((flags & F_NO_KEY) != 0 || m.itemCount() < 2) {
      return -1;
    }
    if ((flags & F_KEY_AFTER_SUBCOMMAND) != 0) {
      return 2;
    }
    if ((flags & F_NUMKEYS_AT_2) != 0) {
      return numkeysKey(m, 2);
    }
    if ((flags & F_NUMKEYS_AT_1) != 0) {
      return numkeysKey(m, 1);
    }
    if ((flags & F_XREAD) != 0) {
      for (int i = 1; i + 1 < m.itemCount(); i++) {
        if (m.itemEqualsIgnoreCase(i, "STREAMS")) {
          return i + 1;
        }
      }
      return -1;
    }
    return 1;
  }

  private static int numkeysKey(RespMessage m, int numkeysAt) {
    if (numkeysAt >= m.itemCount() || !m.itemComplete(numkeysAt)) {
      return -1;
    }
    String s = m.itemLatin1(numkeysAt);
    byte[] b = s.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    long k = RespDecoder.parseLong(b, 0, b.length);
    return k > 0 ? numkeysAt + 1 : -1;
  }

  /**
   * Which kept items are credentials: every argument of AUTH; the two after HELLO's AUTH;
   * the one after MIGRATE's AUTH and the two after its AUTH2; the value after CONFIG SET
   * requirepass / masterauth; ACL SETUSER password rules ({@code >pw <pw #hash !hash}).
   * Positions are decided on the kept items, so an argument cut short is still redacted.
   */
  private static boolean[] redactions(RespMessage m, String command, int flags) {
    int n = m.itemCount();
    boolean[] r = new boolean[n];
    if ((flags & F_CREDENTIALS) == 0) {
      return r;
    }
    switch (command) {
      case "AUTH" -> {
        for (int i = 1; i < n; i++) {
          r[i] = true;
        }
      }
      case "HELLO" -> {
        for (int i = 1; i < n; i++) {
          if (m.itemEqualsIgnoreCase(i, "AUTH")) {
            mark(r, i + 1, 2);
          }
        }
      }
      case "MIGRATE" -> {
        for (int i = 1; i < n; i++) {
          if (m.itemEqualsIgnoreCase(i, "AUTH")) {
            mark(r, i + 1, 1);
          } else if (m.itemEqualsIgnoreCase(i, "AUTH2")) {
            mark(r, i + 1, 2);
          }
        }
      }
      case "CONFIG" -> {
        for (int i = 2; i < n; i++) {
          if (m.itemEqualsIgnoreCase(i, "requirepass") || m.itemEqualsIgnoreCase(i, "masterauth")) {
            mark(r, i + 1, 1);
          }
        }
      }
      case "ACL" -> {
        if (m.itemEqualsIgnoreCase(1, "SETUSER")) {
          for (int i = 3; i < n; i++) {
            if (m.itemLength(i) > 0) {
              char c = m.itemLatin1(i).isEmpty() ? ' ' : m.itemLatin1(i).charAt(0);
              r[i] = c == '>' || c == '<' || c == '#' || c == '!';
            }
          }
        }
      }
      default -> { }
    }
    return r;
  }

  private static final byte MASK = '*';

  /**
   * The kept bytes of a request in progress as a saved connection state holds them (the
   * state goes to a changelog topic): the bytes of every argument {@link #redactions} marks
   * (of an ACL rule all but its first character, which says what the rule is) and, unless
   * values are kept, of every value ({@link RedisValues}) replaced by {@code *}. Lengths
   * stay, so the restored message makes the same fact: those arguments go on it as
   * {@code <redacted>} or {@code <N bytes>} anyway. Masking again changes nothing (a mask
   * never spells a keyword), so a state reads back as it was written.
   *
   * @return {@code m}'s own bytes when nothing is masked, else a copy
   */
  static byte[] savedBytes(RespMessage m, boolean keepValues) {
    int n = m.itemCount();
    if (n < 2) {
      return m.bytes;
    }
    String command = commandName(m);
    int flags = flags(command);
    boolean[] redact = redactions(m, command, flags);
    boolean[] value = new boolean[n];
    if (!keepValues) {
      RedisValues.mark(m, command, flags, value);
    }
    byte[] out = m.bytes;
    for (int i = 1; i < n; i++) {
      if (!redact[i] && !value[i]) {
        continue;
      }
      int from = m.itemStart[i] + (redact[i] && command.equals("ACL") ? 1 : 0);
      int to = m.itemStart[i] + m.itemKept[i];
      if (from < to) {
        if (out == m.bytes) {
          out = m.bytes.clone();
        }
        java.util.Arrays.fill(out, from, to, MASK);
      }
    }
    return out;
  }

  /**
   * An inline command line not yet complete (or a line being probed while resynchronising),
   * as a saved state holds it: split into arguments as far as it goes (spaces separate;
   * {@code "..."} and {@code '...'} hold spaces, a backslash escapes the next character),
   * the arguments {@link #redactions} marks become {@code *} (quotes stay, and an ACL rule's
   * first character), so the line splits the same way and makes the same fact when it
   * completes after a restore. Values are left as they are on inline lines.
   *
   * @return {@code line} itself when nothing is masked, else a copy of its first {@code used} bytes
   */
  static byte[] savedLine(byte[] line, int used) {
    // [content start, content end) of each argument, quotes outside
    int[][] args = new int[RespMessage.MAX_ITEMS][];
    int n = 0;
    int i = 0;
    while (n < args.length) {
      while (i < used && isInlineSpace(line[i])) {
        i++;
      }
      if (i >= used) {
        break;
      }
      byte q = line[i] == '"' || line[i] == '\'' ? line[i] : 0;
      int from = q != 0 ? i + 1 : i;
      int k = from;
      while (k < used && (q != 0 ? line[k] != q : !isInlineSpace(line[k]))) {
        k += line[k] == '\\' && q != 0 && k + 1 < used ? 2 : 1;
      }
      args[n++] = new int[] {from, Math.min(k, used)};
      i = q != 0 ? k + 1 : k;
    }
    if (n < 2) {
      return line;
    }
    RespMessage m = new RespMessage(true, used);
    for (int a = 0; a < n; a++) {
      int item = m.startItem(RespMessage.INLINE);
      m.append(item, line, args[a][0], args[a][1] - args[a][0]);
    }
    String command = commandName(m);
    int flags = flags(command);
    if ((flags & F_CREDENTIALS) == 0) {
      return line;
    }
    boolean[] redact = redactions(m, command, flags);
    byte[] out = line;
    for (int a = 1; a < n; a++) {
      int from = args[a][0] + (command.equals("ACL") ? 1 : 0);
      if (redact[a] && from < args[a][1]) {
        out = out == line ? java.util.Arrays.copyOf(line, used) : out;
        java.util.Arrays.fill(out, from, args[a][1], MASK);
      }
    }
    return out;
  }

  /**
   * An error reply in progress to a request that carried credentials, as a saved state holds
   * it: what {@link #scrubError} will replace (the inside of {@code '...'}, then of
   * {@code "..."} outside those, each running to the end when not closed) becomes {@code *}
   * in {@code b[from, to)}; quote characters stay, so the restored reply is scrubbed to the
   * same text. Works on a prefix of the text as on the whole.
   *
   * @return {@code b} itself when nothing is masked, else a copy
   */
  static byte[] savedError(byte[] b, int from, int to) {
    byte[] out = b;
    boolean inSingle = false;
    for (int i = from; i < to; i++) {
      if (out[i] == '\'') {
        inSingle = !inSingle;
      } else if (inSingle && out[i] != MASK) {
        out = out == b ? b.clone() : out;
        out[i] = MASK;
      }
    }
    boolean inDouble = false;
    for (int i = from; i < to; i++) {
      if (out[i] == '"') {
        inDouble = !inDouble;
      } else if (inDouble && out[i] != '\'' && out[i] != MASK) {
        out = out == b ? b.clone() : out;
        out[i] = MASK;
      }
    }
    return out;
  }

  private static boolean isInlineSpace(byte b) {
    return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == 0x0b || b == 0x0c;
  }

  private static void mark(boolean[] r, int from, int count) {
    for (int i = from; i < from + count && i < r.length; i++) {
      r[i] = true;
    }
  }
}
