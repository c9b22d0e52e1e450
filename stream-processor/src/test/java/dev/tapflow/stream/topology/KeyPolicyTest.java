package dev.tapflow.stream.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

/** {@code --keys keep|hash|truncate:N|drop} on resource and args. */
class KeyPolicyTest {

  private static final byte[] SALT = "deployment-salt".getBytes(StandardCharsets.UTF_8);

  @Test
  void hashIsAKeyedHmacPrefix() throws Exception {
    KeyPolicy p = KeyPolicy.parse("hash", SALT);
    Mac mac = Mac.getInstance("HmacSHA256");
    mac.init(new SecretKeySpec(SALT, "HmacSHA256"));
    String expected = "h:" + HexFormat.of().formatHex(mac.doFinal("user:42".getBytes(StandardCharsets.UTF_8))).substring(0, 16);
    assertEquals(expected, p.applyTo("user:42"));
    assertEquals(p.applyTo("user:42"), KeyPolicy.parse("HASH", SALT.clone()).applyTo("user:42"), "stable across runs");
    assertNotEquals(p.applyTo("user:42"), KeyPolicy.parse("hash", "other".getBytes(StandardCharsets.UTF_8)).applyTo("user:42"),
        "another deployment's salt gives another hash");
    assertNull(p.applyTo((String) null));
    assertFalse(p.toString().contains("salt"), "the salt is never printed");
  }

  @Test
  void hashWithoutSaltIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KeyPolicy.parse("hash", null));
    assertTrue(e.getMessage().contains("TAPFLOW_KEY_SALT"), e.getMessage());
  }

  @Test
  void truncateDropKeep() {
    assertEquals("user...", KeyPolicy.parse("truncate:4", null).applyTo("user:42"));
    assertEquals("ab", KeyPolicy.parse("truncate:4", null).applyTo("ab"));
    assertNull(KeyPolicy.parse("drop", null).applyTo("user:42"));
    assertEquals("user:42", KeyPolicy.parse("keep", null).applyTo("user:42"));
    assertThrows(IllegalArgumentException.class, () -> KeyPolicy.parse("truncate:x", null));
    assertThrows(IllegalArgumentException.class, () -> KeyPolicy.parse("scramble", null));
  }

  @Test
  void appliesToResourceAndArgsOfFactsTheEngineEmits() {
    ProcessorConfig config = ProcessorConfig.defaults().withKeyPolicy(KeyPolicy.parse("hash", SALT));
    ConnectionEngine engine = new ConnectionEngine(config);
    FactCollector out = new FactCollector();
    InMemoryStore store = new InMemoryStore();
    Conn c = new Conn("agent", 1, 40000, 6379);
    long t0 = 1_704_067_200_000L * Conn.MS;
    engine.onBatch(c.keyBytes, c.key, Conn.batch(c.syn(t0), c.synAck(t0 + Conn.MS),
        c.client(t0 + 2 * Conn.MS, Conn.resp("MGET", "user:1", "user:2")), c.server(t0 + 3 * Conn.MS, "*2\r\n$-1\r\n$-1\r\n")),
        store, out);
    assertEquals(1, out.facts().size());
    KeyPolicy p = config.keyPolicy();
    assertEquals(p.applyTo("user:1"), out.facts().get(0).getResource());
    assertEquals(p.applyTo("user:2"), out.facts().get(0).getArgs());
  }
}
