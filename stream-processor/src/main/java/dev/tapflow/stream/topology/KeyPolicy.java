package dev.tapflow.stream.topology;

import dev.tapflow.schemas.LatencyFact;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Locale;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * What a fact keeps of its {@code resource} (the key, topic or query name) and {@code args}
 * (the other arguments, other keys among them), applied to every fact before it leaves the
 * processor ({@code --keys}):
 *
 * <ul>
 *   <li>{@code keep} (default): as decoded (credentials already redacted, values already sizes);
 *   <li>{@code hash}: {@code h:} and the first 16 hex digits of HMAC-SHA256(salt, text): the same
 *       key gives the same hash across runs and agents of one deployment (group by it, join on
 *       it), and without the salt it cannot be confirmed by hashing guesses;
 *   <li>{@code truncate:N}: the first N characters, then {@code ...};
 *   <li>{@code drop}: neither is kept (null).
 * </ul>
 *
 * The salt is per deployment, from {@code TAPFLOW_KEY_SALT} or the file named by
 * {@code TAPFLOW_KEY_SALT_FILE} (see the CLI); {@code hash} without one is refused.
 */
public record KeyPolicy(Mode mode, int truncateTo, byte[] salt) {

  public enum Mode { KEEP, HASH, TRUNCATE, DROP }

  public static final KeyPolicy KEEP = new KeyPolicy(Mode.KEEP, 0, null);

  /** Hex digits of the HMAC kept: 64 bits, collisions negligible at any realistic key count. */
  static final int HASH_HEX_DIGITS = 16;
  private static final char[] HEX = "0123456789abcdef".toCharArray();

  public KeyPolicy {
    if (mode == Mode.HASH && (salt == null || salt.length == 0)) {
      throw new IllegalArgumentException("--keys hash needs a salt: set TAPFLOW_KEY_SALT or TAPFLOW_KEY_SALT_FILE");
    }
    if (mode == Mode.TRUNCATE && truncateTo < 0) {
      throw new IllegalArgumentException("--keys truncate:N needs N >= 0");
    }
  }

  /**
   * Parses {@code keep}, {@code hash}, {@code truncate:N} or {@code drop}.
   *
   * @param salt the deployment's salt (used by {@code hash}), or null
   * @throws IllegalArgumentException with a one-line reason
   */
  public static KeyPolicy parse(String spec, byte[] salt) {
    String s = spec.trim().toLowerCase(Locale.ROOT);
    if (s.startsWith("truncate:")) {
      try {
        return new KeyPolicy(Mode.TRUNCATE, Integer.parseInt(s.substring("truncate:".length())), null);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--keys truncate:N: N is not a number in '" + spec + "'");
      }
    }
    return switch (s) {
      case "keep" -> KEEP;
      case "hash" -> new KeyPolicy(Mode.HASH, 0, salt);
      case "drop" -> new KeyPolicy(Mode.DROP, 0, null);
      default -> throw new IllegalArgumentException("--keys wants keep, hash, truncate:N or drop; got '" + spec + "'");
    };
  }

  /** Applies the policy to the fact's resource and args, in place; returns the fact. */
  public LatencyFact apply(LatencyFact f) {
    if (mode != Mode.KEEP) {
      f.setResource(applyTo(f.getResource()));
      f.setArgs(applyTo(f.getArgs()));
    }
    return f;
  }

  /** The policy applied to one text (null stays null). */
  public String applyTo(String text) {
    if (text == null) {
      return null;
    }
    return switch (mode) {
      case KEEP -> text;
      case DROP -> null;
      case TRUNCATE -> text.length() > truncateTo ? text.substring(0, truncateTo) + "..." : text;
      case HASH -> hash(text);
    };
  }

  private String hash(String text) {
    byte[] mac;
    try {
      Mac m = Mac.getInstance("HmacSHA256");
      m.init(new SecretKeySpec(salt, "HmacSHA256"));
      mac = m.doFinal(text.getBytes(StandardCharsets.UTF_8));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is part of every Java runtime", e);
    }
    char[] out = new char[2 + HASH_HEX_DIGITS];
    out[0] = 'h';
    out[1] = ':';
    for (int i = 0; i < HASH_HEX_DIGITS / 2; i++) {
      out[2 + 2 * i] = HEX[(mac[i] >> 4) & 0xf];
      out[3 + 2 * i] = HEX[mac[i] & 0xf];
    }
    return new String(out);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof KeyPolicy k && k.mode == mode && k.truncateTo == truncateTo
        && java.util.Arrays.equals(k.salt, salt);
  }

  @Override
  public int hashCode() {
    return mode.hashCode() * 31 + truncateTo;
  }

  @Override
  public String toString() {
    return switch (mode) {
      case TRUNCATE -> "truncate:" + truncateTo;
      default -> mode.name().toLowerCase(Locale.ROOT); // never the salt
    };
  }
}
