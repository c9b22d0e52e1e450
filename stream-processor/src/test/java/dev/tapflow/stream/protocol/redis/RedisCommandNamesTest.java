package dev.tapflow.stream.protocol.redis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.junit.jupiter.api.Test;

/** A request's command name: a known command's constant, found from the bytes in any case; others upper-cased. */
class RedisCommandNamesTest {

  private static RespMessage request(String... items) {
    RespMessage m = new RespMessage(true, 256);
    for (String item : items) {
      byte[] b = item.getBytes(StandardCharsets.ISO_8859_1);
      m.append(m.startItem((byte) '$'), b, 0, b.length);
    }
    return m;
  }

  @Test
  void everyKnownCommandInAnyCaseIsItsConstant() {
    for (String name : RedisCommands.KNOWN) {
      String lower = name.toLowerCase(Locale.ROOT);
      String mixed = name.substring(0, 1) + lower.substring(1);
      for (String spelled : new String[] {name, lower, mixed}) {
        assertSame(name, RedisCommands.commandName(request(spelled, "k")), spelled);
      }
    }
  }

  @Test
  void otherNamesAreTheirTextUpperCased() {
    assertEquals("FOO.BAR", RedisCommands.commandName(request("foo.bar")));
    assertEquals("GETS", RedisCommands.commandName(request("gets")));
    assertEquals("GE", RedisCommands.commandName(request("ge")));
    assertEquals("", RedisCommands.commandName(request("")));
    RespMessage latin = request("g\u00c9t");
    assertEquals(latin.itemText(0).toUpperCase(Locale.ROOT), RedisCommands.commandName(latin), "a byte beyond ASCII: as rendered for facts");
    assertNull(RedisCommands.knownName("GET\0".getBytes(StandardCharsets.ISO_8859_1), 0, 4));
    assertNull(RedisCommands.knownName("get".getBytes(StandardCharsets.ISO_8859_1), 0, 0));
    assertSame("GET", RedisCommands.knownName("xxgetxx".getBytes(StandardCharsets.ISO_8859_1), 2, 3));
  }

  /** The one-lookup rules: the same for the constant and an equal String, none for other names. */
  @Test
  void rulesAreFoundByNameNotOnlyByTheConstant() {
    int withRules = 0;
    for (String name : RedisCommands.KNOWN) {
      int f = RedisCommands.flags(name);
      withRules += f != 0 ? 1 : 0;
      assertEquals(f, RedisCommands.flags(new String(name.toCharArray())), name);
      assertEquals(0, RedisCommands.flags(name.toLowerCase(Locale.ROOT)), name + " in lower case is no upper-case name");
    }
    org.junit.jupiter.api.Assertions.assertTrue(withRules > 100, "most known commands have some rule: " + withRules);
    // U+00DF upper-cases to "SS": a name made of other bytes that spells a known one
    assertEquals(RedisCommands.flags("SSCAN"), RedisCommands.flags("\u00dfCAN".toUpperCase(Locale.ROOT)));
    assertEquals(RedisCommands.F_NO_KEY, RedisCommands.flags("PING") & RedisCommands.F_NO_KEY);
    assertEquals(RedisCommands.F_SUBSCRIBE, RedisCommands.flags("SSUBSCRIBE") & RedisCommands.F_SUBSCRIBE);
    assertEquals(RedisCommands.F_CREDENTIALS, RedisCommands.flags("AUTH") & RedisCommands.F_CREDENTIALS);
    assertEquals(0, RedisCommands.flags("GET") & (RedisCommands.F_NO_KEY | RedisCommands.F_CREDENTIALS));
    assertEquals(0, RedisCommands.flags(""));
    assertEquals(0, RedisCommands.flags("FOO.BAR"));
  }
}
