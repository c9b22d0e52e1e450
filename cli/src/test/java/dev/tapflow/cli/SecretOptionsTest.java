package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Secrets tapflow itself needs come from the environment or a file, never the command line:
 * the database password ({@code TAPFLOW_JDBC_PASSWORD[_FILE]}) and the salt of
 * {@code --keys hash} ({@code TAPFLOW_KEY_SALT[_FILE]}). And {@code --keys} / {@code --values}
 * on the Redis session capture with known passwords.
 */
class SecretOptionsTest {

  private static final Path SECRETS = Path.of("..", "stream-processor", "src", "test", "resources", "pcap",
      "secrets", "secrets.pcap");

  @TempDir
  Path dir;

  @Test
  void databasePasswordFromTheEnvironmentOrAFile() throws Exception {
    Path file = Files.writeString(dir.resolve("pw"), "from-a-file\n");
    Properties p = JdbcOptions.properties(Map.of("TAPFLOW_JDBC_USER", "u", "TAPFLOW_JDBC_PASSWORD_FILE", file.toString()));
    assertEquals("u", p.getProperty("user"));
    assertEquals("from-a-file", p.getProperty("password"), "trailing newline ignored");
    assertEquals("env", JdbcOptions.properties(Map.of("PGPASSWORD", "env", "TAPFLOW_JDBC_PASSWORD_FILE", file.toString()))
        .getProperty("password"), "the environment first");
    UserError e = assertThrows(UserError.class,
        () -> JdbcOptions.properties(Map.of("TAPFLOW_JDBC_PASSWORD_FILE", dir.resolve("none").toString())));
    assertTrue(e.getMessage().startsWith("TAPFLOW_JDBC_PASSWORD_FILE: cannot read"), e.getMessage());
  }

  @Test
  void keySaltFromTheEnvironmentOrAFile() throws Exception {
    String salt = "a-salt-of-32-bytes-for-this-test";
    assertArrayEquals(salt.getBytes(StandardCharsets.UTF_8), KeySalt.from(Map.of(KeySalt.ENV, salt)));
    Path file = Files.writeString(dir.resolve("salt"), salt + "\n");
    assertArrayEquals(salt.getBytes(StandardCharsets.UTF_8), KeySalt.from(Map.of(KeySalt.FILE_ENV, file.toString())));
    assertTrue(assertThrows(UserError.class, () -> KeySalt.from(Map.of())).getMessage().contains(KeySalt.ENV));
    assertTrue(assertThrows(UserError.class, () -> KeySalt.from(Map.of(KeySalt.ENV, "short"))).getMessage()
        .contains("at least 16"));
  }

  @Test
  void keysAndValuesOptionsOnARealSession() {
    CliRun values = CliRun.of("analyze", SECRETS.toString());
    assertEquals(0, values.rc(), values.err());
    assertTrue(values.out().contains("SET secret:key <23 bytes>"), values.out());
    CliRun kept = CliRun.of("analyze", "--values", "keep", SECRETS.toString());
    assertTrue(kept.out().contains("SET secret:key tapflow-secret-value-S8"), kept.out());
    assertFalse(kept.out().contains("tapflow-secret-requirepass-S1"), "credentials are never values");
    CliRun cut = CliRun.of("analyze", "--keys", "truncate:3", SECRETS.toString());
    assertTrue(cut.out().contains("SET sec... <23..."), cut.out()); // args are cut too
    if (System.getenv(KeySalt.ENV) == null && System.getenv(KeySalt.FILE_ENV) == null) {
      CliRun hash = CliRun.of("analyze", "--keys", "hash", SECRETS.toString());
      assertEquals(2, hash.rc(), hash.err());
      assertTrue(hash.err().strip().startsWith("tapflow: --keys hash needs the deployment's salt"), hash.err());
    }
    CliRun bad = CliRun.of("analyze", "--values", "some", SECRETS.toString());
    assertEquals("tapflow: --values wants keep or drop; got 'some'", bad.err().strip());
  }
}
