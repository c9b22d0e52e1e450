package dev.tapflow.stream.protocol.redis;

import java.util.Map;
import java.util.Set;

/**
 * Which arguments of a Redis request are values (data a client stores, publishes or compares),
 * as opposed to keys, options and numbers: a fact's {@code args} show a value only as its size
 * ({@code <5 bytes>}) unless values are kept ({@code SessionLimits.keepValues}).
 *
 * <p>Positions follow the command reference (https://redis.io/docs/latest/commands/): one
 * fixed position ({@code SET key value}), every argument from a position ({@code LPUSH key
 * v...}), alternate positions ({@code MSET k v k v}, {@code HSET key f v f v}), field values
 * after an id ({@code XADD}), members after scores ({@code ZADD}), and the arguments after
 * the keys of scripts and functions ({@code EVAL script numkeys k... arg...}). Commands not
 * listed carry no values.
 */
final class RedisValues {

  private RedisValues() {}

  /** The value's one position. */
  private static final Map<String, Integer> AT = Map.ofEntries(
      Map.entry("SET", 2), Map.entry("SETNX", 2), Map.entry("GETSET", 2), Map.entry("APPEND", 2),
      Map.entry("SETEX", 3), Map.entry("PSETEX", 3), Map.entry("SETRANGE", 3), Map.entry("LSET", 3),
      Map.entry("HSETNX", 3), Map.entry("SMOVE", 3), Map.entry("LREM", 3), Map.entry("LINSERT", 4),
      Map.entry("LPOS", 2), Map.entry("SISMEMBER", 2), Map.entry("ZSCORE", 2), Map.entry("ZRANK", 2),
      Map.entry("ZREVRANK", 2), Map.entry("ZINCRBY", 3), Map.entry("PUBLISH", 2), Map.entry("SPUBLISH", 2),
      Map.entry("ECHO", 1), Map.entry("RESTORE", 3), Map.entry("RESTORE-ASKING", 3));

  /** Every argument from this position on is a value. */
  private static final Map<String, Integer> FROM = Map.of(
      "LPUSH", 2, "RPUSH", 2, "LPUSHX", 2, "RPUSHX", 2, "SADD", 2, "SREM", 2, "SMISMEMBER", 2,
      "PFADD", 2, "ZREM", 2, "ZMSCORE", 2);

  /** Values at this position and every second one after it. */
  private static final Map<String, Integer> EVERY_SECOND = Map.of("MSET", 2, "MSETNX", 2, "HSET", 3, "HMSET", 3);

  /** Scripts and functions: {@code name numkeys key... arg...}; the args are values. */
  private static final Set<String> SCRIPTS = Set.of("EVAL", "EVAL_RO", "EVALSHA", "EVALSHA_RO", "FCALL", "FCALL_RO");

  /** Commands whose values the switch in {@link #mark(RespMessage, String, int, boolean[])} finds. */
  private static final Set<String> OTHER = Set.of("XADD", "ZADD", "GEOADD");

  private static final Set<String> ZADD_OPTIONS = Set.of("NX", "XX", "GT", "LT", "CH", "INCR");
  private static final Set<String> GEOADD_OPTIONS = Set.of("NX", "XX", "CH");

  // A command's value rule as bits 8 to 15 of RedisCommands.flags: the kind, the position.
  private static final int KIND_SHIFT = 8;
  private static final int KIND_MASK = 7 << KIND_SHIFT;
  private static final int KIND_AT = 1 << KIND_SHIFT;
  private static final int KIND_FROM = 2 << KIND_SHIFT;
  private static final int KIND_EVERY_SECOND = 3 << KIND_SHIFT;
  private static final int KIND_SCRIPT = 4 << KIND_SHIFT;
  private static final int KIND_OTHER = 5 << KIND_SHIFT; // OTHER
  private static final int POSITION_SHIFT = 11;

  /** This name's value rule as bits for {@link RedisCommands#flags}, 0 if it has none. */
  static int flags(String name) {
    int kind = AT.containsKey(name) ? KIND_AT : FROM.containsKey(name) ? KIND_FROM
        : EVERY_SECOND.containsKey(name) ? KIND_EVERY_SECOND : SCRIPTS.contains(name) ? KIND_SCRIPT
        : OTHER.contains(name) ? KIND_OTHER : 0;
    int position = AT.containsKey(name) ? AT.get(name) : FROM.containsKey(name) ? FROM.get(name)
        : EVERY_SECOND.getOrDefault(name, 0);
    return kind | position << POSITION_SHIFT;
  }

  /** Every name with a value rule. */
  static Set<String> names() {
    Set<String> all = new java.util.HashSet<>(AT.keySet());
    all.addAll(FROM.keySet());
    all.addAll(EVERY_SECOND.keySet());
    all.addAll(SCRIPTS);
    all.addAll(OTHER);
    return all;
  }

  /** Marks in {@code v} the kept items of {@code m} that are values. */
  static void mark(RespMessage m, String command, boolean[] v) {
    mark(m, command, RedisCommands.flags(command), v);
  }

  /** As {@link #mark(RespMessage, String, boolean[])}, with the command's {@link RedisCommands#flags}. */
  static void mark(RespMessage m, String command, int flags, boolean[] v) {
    int n = m.itemCount();
    int kind = flags & KIND_MASK;
    if (kind == 0) {
      return;
    }
    int position = (flags >>> POSITION_SHIFT) & 7;
    if (kind == KIND_AT) {
      set(v, position, n);
      return;
    }
    if (kind == KIND_FROM) {
      for (int i = position; i < n; i++) {
        v[i] = true;
      }
      return;
    }
    if (kind == KIND_EVERY_SECOND) {
      for (int i = position; i < n; i += 2) {
        v[i] = true;
      }
      return;
    }
    if (kind == KIND_SCRIPT) {
      long keys = n > 2 && m.itemComplete(2) ? parse(m.itemLatin1(2)) : -1;
      if (keys >= 0) {
        for (long i = 3 + keys; i < n; i++) {
          v[(int) i] = true;
        }
      }
      return;
    }
    switch (command) {
      case "XADD" -> {
        // XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] <* | id> field value ...
        for (int i = 2; i < n; i++) {
          String s = m.itemLatin1(i);
          if (s.equals("*") || s.matches("\\d+-(\\d+|\\*)")) {
            for (int k = i + 2; k < n; k += 2) {
              v[k] = true;
            }
            return;
          }
        }
      }
      case "ZADD" -> pairsAfterOptions(m, v, ZADD_OPTIONS, 2); // score member ...
      case "GEOADD" -> pairsAfterOptions(m, v, GEOADD_OPTIONS, 3); // longitude latitude member ...
      default -> { }
    }
  }

  /** After the options, groups of {@code group} items whose last one is the value (a member). */
  private static void pairsAfterOptions(RespMessage m, boolean[] v, Set<String> options, int group) {
    int n = m.itemCount();
    int i = 2;
    while (i < n && options.contains(m.itemLatin1(i).toUpperCase(java.util.Locale.ROOT))) {
      i++;
    }
    for (int k = i + group - 1; k < n; k += group) {
      v[k] = true;
    }
  }

  private static void set(boolean[] v, int i, int n) {
    if (i < n) {
      v[i] = true;
    }
  }

  private static long parse(String s) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}
