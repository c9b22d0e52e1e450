package dev.tapflow.stream.protocol.memcached;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The decoder's word splitter against the regex it replaced, {@code trim().split(" +")}. */
class MemcachedWordsTest {

  private static String[] bySplit(String text) {
    String trimmed = text.trim();
    return trimmed.isEmpty() ? new String[0] : trimmed.split(" +");
  }

  @Test
  void sameWordsAsTrimAndSplit() {
    String[] fixed = {"", " ", "   ", "get k", "  get   k1  k2 ", "set k 0 0 5 noreply", "\tget\tk\t", "a\u0001 b",
        "VALUE k 0 5", "x", " x", "x ", "a  b\t c", "\u0000", "\u0000a\u0000", "gat 10 a b"};
    for (String s : fixed) {
      assertArrayEquals(bySplit(s), MemcachedTextDecoder.words(s), () -> "\"" + s + "\"");
    }
    // random lines over the characters that matter: space, tab, other controls, letters
    char[] alphabet = {' ', ' ', ' ', '\t', '\r', '\u0000', '\u001f', 'a', 'b', 'Z', '0', '\u00ff'};
    Random r = new Random(7);
    for (int n = 0; n < 200_000; n++) {
      char[] c = new char[r.nextInt(12)];
      for (int i = 0; i < c.length; i++) {
        c[i] = alphabet[r.nextInt(alphabet.length)];
      }
      String s = new String(c);
      assertArrayEquals(bySplit(s), MemcachedTextDecoder.words(s), () -> "\"" + s + "\"");
    }
  }

  @Test
  void tableFindsExactlyItsWords() {
    String[] members = {"get", "gets", "gat", "cas", "flush_all", "mg", "ms", "VALUE", "", "x"};
    Words table = new Words(members);
    java.util.Set<String> set = java.util.Set.of(members);
    String[] probes = {"get", "gets", "gat", "cas", "flush_all", "mg", "ms", "VALUE", "", "x", "GET", "ge", "getss",
        "gez", "flush_alL", "m", "mgs", "VALUES", "y", "xx", "gats", "cas ", " cas", "averyveryverylongword"};
    for (String p : probes) {
      org.junit.jupiter.api.Assertions.assertEquals(set.contains(p), table.has(p), p);
      org.junit.jupiter.api.Assertions.assertEquals(p.equals("cas"), Words.is(p, "cas"), p);
    }
  }
}
