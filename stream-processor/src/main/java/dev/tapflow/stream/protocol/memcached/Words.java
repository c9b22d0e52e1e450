package dev.tapflow.stream.protocol.memcached;

/**
 * A table of protocol words, found by length and then by char. Equivalent to a set's
 * {@code contains} and {@code String.equals}, and about as fast for words this short; written
 * out because the decoder looks words up on every line, and under the fuzzer (Jazzer) each
 * {@code String.equals} and {@code Set.contains} is a hook that encodes both strings (and walks
 * the whole set): 80% of a {@code memcachedSession} run. Here a lookup is a few traced char
 * compares.
 */
final class Words {
  private final String[][] byLength;

  Words(String... words) {
    int max = 0;
    for (String w : words) {
      max = Math.max(max, w.length());
    }
    int[] count = new int[max + 1];
    for (String w : words) {
      count[w.length()]++;
    }
    byLength = new String[max + 1][];
    for (int n = 0; n <= max; n++) {
      byLength[n] = new String[count[n]];
      count[n] = 0;
    }
    for (String w : words) {
      byLength[w.length()][count[w.length()]++] = w;
    }
  }

  boolean has(String s) {
    int n = s.length();
    if (n >= byLength.length) {
      return false;
    }
    for (String w : byLength[n]) {
      if (sameChars(s, w, n)) {
        return true;
      }
    }
    return false;
  }

  static boolean is(String s, String word) {
    int n = word.length();
    return s.length() == n && sameChars(s, word, n);
  }

  private static boolean sameChars(String s, String word, int n) {
    for (int i = 0; i < n; i++) {
      if (s.charAt(i) != word.charAt(i)) {
        return false;
      }
    }
    return true;
  }
}
