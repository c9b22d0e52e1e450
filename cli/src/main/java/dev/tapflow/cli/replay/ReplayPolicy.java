package dev.tapflow.cli.replay;

import java.util.Locale;
import java.util.Set;

/**
 * Which captured requests are sent to the target, and why the others are not. Read-only
 * commands are sent by default; anything else (a write, an admin command, a command this
 * list does not know) only with {@code --allow-writes}. Credentials are never sent from the
 * capture, whatever the options: the replayer authenticates with its own password.
 *
 * @param allowWrites send commands that change data or server state
 * @param include     only these commands (upper case, as on facts), or empty for all
 * @param exclude     never these commands (upper case)
 */
public record ReplayPolicy(boolean allowWrites, Set<String> include, Set<String> exclude) {

  /** Skip reason: AUTH, HELLO … AUTH, a request whose arguments were redacted, memcached SASL. */
  public static final String CREDENTIALS = "credentials";
  /** Skip reason: a write, sent only with {@code --allow-writes}. */
  public static final String WRITE = "write (needs --allow-writes)";
  /** Skip reason: left out by {@code --include}/{@code --exclude}. */
  public static final String EXCLUDED = "excluded";
  /**
   * Skip reason: a command that takes over the connection or the server (MONITOR, SYNC,
   * SHUTDOWN …), or QUIT: the replayer closes its connections itself when the captured ones end.
   */
  public static final String NOT_REPLAYABLE = "not replayable";
  /** Skip reason: bytes of the request were not captured. */
  public static final String REQUEST_GAP = "request bytes not captured";

  /** Redis commands that read data, or only set up the connection; everything else is a write. */
  static final Set<String> REDIS_READ_ONLY = Set.of(
      // data reads
      "BITCOUNT", "BITFIELD_RO", "BITPOS", "DBSIZE", "DUMP", "EXISTS", "EXPIRETIME", "GEODIST", "GEOHASH", "GEOPOS",
      "GEORADIUSBYMEMBER_RO", "GEORADIUS_RO", "GEOSEARCH", "GET", "GETBIT", "GETRANGE", "HEXISTS", "HGET", "HGETALL",
      "HKEYS", "HLEN", "HMGET", "HRANDFIELD", "HSCAN", "HSTRLEN", "HVALS", "KEYS", "LCS", "LINDEX", "LLEN", "LPOS",
      "LRANGE", "MGET", "OBJECT", "PEXPIRETIME", "PFCOUNT", "PTTL", "RANDOMKEY", "SCAN", "SCARD", "SDIFF", "SINTER",
      "SINTERCARD", "SISMEMBER", "SMEMBERS", "SMISMEMBER", "SORT_RO", "SRANDMEMBER", "SSCAN", "STRLEN", "SUBSTR",
      "SUNION", "TOUCH", "TTL", "TYPE", "XINFO", "XLEN", "XPENDING", "XRANGE", "XREAD", "XREVRANGE", "ZCARD",
      "ZCOUNT", "ZDIFF", "ZINTER", "ZINTERCARD", "ZLEXCOUNT", "ZMSCORE", "ZRANDMEMBER", "ZRANGE", "ZRANGEBYLEX",
      "ZRANGEBYSCORE", "ZRANK", "ZREVRANGE", "ZREVRANGEBYLEX", "ZREVRANGEBYSCORE", "ZREVRANK", "ZSCAN", "ZSCORE",
      "ZUNION", "EVAL_RO", "EVALSHA_RO", "FCALL_RO",
      // connection, transactions, server reads
      "ECHO", "PING", "SELECT", "HELLO", "RESET", "READONLY", "READWRITE", "ASKING", "MULTI", "EXEC",
      "DISCARD", "WATCH", "UNWATCH", "INFO", "TIME", "LASTSAVE", "ROLE", "COMMAND", "LOLWUT", "SUBSCRIBE",
      "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE", "PUBSUB");
  /** Redis containers whose read-only sub-commands are reads: CONFIG GET, CLIENT SETNAME, MEMORY USAGE … */
  static final Set<String> REDIS_READ_ONLY_SUBCOMMANDS = Set.of(
      "CONFIG GET", "CLIENT GETNAME", "CLIENT SETNAME", "CLIENT SETINFO", "CLIENT ID", "CLIENT INFO", "CLIENT LIST",
      "CLIENT REPLY", "CLIENT TRACKING", "CLIENT CACHING", "CLIENT GETREDIR", "CLIENT TRACKINGINFO", "CLIENT NO-EVICT",
      "CLIENT NO-TOUCH", "MEMORY USAGE", "MEMORY STATS", "SLOWLOG GET", "SLOWLOG LEN", "LATENCY LATEST",
      "LATENCY HISTORY", "SCRIPT EXISTS", "FUNCTION LIST", "FUNCTION DUMP", "ACL WHOAMI", "ACL CAT", "CLUSTER INFO",
      "CLUSTER NODES", "CLUSTER SLOTS", "CLUSTER SHARDS", "CLUSTER MYID", "CLUSTER KEYSLOT");
  /** Redis commands never sent: they turn the connection into a stream or stop the server. */
  static final Set<String> REDIS_NOT_REPLAYABLE = Set.of(
      "MONITOR", "SYNC", "PSYNC", "REPLCONF", "SHUTDOWN", "FAILOVER", "REPLICAOF", "SLAVEOF", "QUIT");
  /** memcached commands never sent: quit (the replayer closes its connections itself). */
  static final Set<String> MEMCACHED_NOT_REPLAYABLE = Set.of("QUIT", "Quit", "QuitQ");

  /** memcached text, meta and binary commands that only read (binary: opcode names as on facts). */
  static final Set<String> MEMCACHED_READ_ONLY = Set.of(
      "GET", "GETS", "MG", "MN", "ME", "VERSION", "STATS",
      "Get", "GetQ", "GetK", "GetKQ", "Noop", "Version", "Stat");

  public ReplayPolicy {
    include = upper(include);
    exclude = upper(exclude);
  }

  private static Set<String> upper(Set<String> names) {
    return names.stream().map(n -> n.toUpperCase(Locale.ROOT)).collect(java.util.stream.Collectors.toUnmodifiableSet());
  }

  /**
   * Why a request is not sent, or null to send it.
   *
   * @param protocol {@code redis} or {@code memcached}
   * @param command  as on the fact
   * @param resource the fact's resource (key), or null
   * @param args     the fact's args (redacted), or null
   */
  public String skipReason(String protocol, String command, String resource, String args) {
    String upper = command.toUpperCase(Locale.ROOT);
    if (redacted(resource) || redacted(args)) {
      return CREDENTIALS;
    }
    boolean redis = protocol.equals("redis");
    if (redis && (upper.equals("AUTH") || upper.equals("HELLO") && hasWord(args, "AUTH"))) {
      return CREDENTIALS;
    }
    if (!redis && upper.startsWith("SASL")) {
      return CREDENTIALS;
    }
    if (redis ? REDIS_NOT_REPLAYABLE.contains(upper) : MEMCACHED_NOT_REPLAYABLE.contains(command)) {
      return NOT_REPLAYABLE;
    }
    if (!include.isEmpty() && !include.contains(upper) || exclude.contains(upper)) {
      return EXCLUDED;
    }
    if (!allowWrites && !(redis ? redisReadOnly(upper, args) : memcachedReadOnly(command, args))) {
      return WRITE;
    }
    return null;
  }

  private static boolean redisReadOnly(String command, String args) {
    if (REDIS_READ_ONLY.contains(command)) {
      return true;
    }
    String sub = firstWord(args);
    return sub != null && REDIS_READ_ONLY_SUBCOMMANDS.contains(command + " " + sub.toUpperCase(Locale.ROOT));
  }

  private static boolean memcachedReadOnly(String command, String args) {
    if (!MEMCACHED_READ_ONLY.contains(command)) {
      return false;
    }
    // mg with T (update TTL) or N (vivify on miss) changes the item
    if (command.equals("MG") && args != null) {
      for (String flag : args.split(" ")) {
        if (flag.startsWith("T") || flag.startsWith("N")) {
          return false;
        }
      }
    }
    return true;
  }

  private static boolean redacted(String s) {
    return s != null && s.contains("<redacted>");
  }

  private static boolean hasWord(String s, String word) {
    if (s == null) {
      return false;
    }
    for (String w : s.split(" ")) {
      if (w.equalsIgnoreCase(word)) {
        return true;
      }
    }
    return false;
  }

  private static String firstWord(String s) {
    if (s == null || s.isBlank()) {
      return null;
    }
    String t = s.strip();
    int sp = t.indexOf(' ');
    return sp < 0 ? t : t.substring(0, sp);
  }
}
