package dev.tapflow.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The per-deployment salt of {@code --keys hash}: {@code TAPFLOW_KEY_SALT}, or the contents of
 * the file {@code TAPFLOW_KEY_SALT_FILE} names (a trailing newline ignored), never an option (a
 * command line is visible to every user of the machine). Every processor, analyzer and
 * reprocess of one deployment must use the same salt, or the same key hashes differently.
 */
final class KeySalt {
  static final String ENV = "TAPFLOW_KEY_SALT";
  static final String FILE_ENV = "TAPFLOW_KEY_SALT_FILE";
  /** A shorter salt is refused: it could be guessed, and the hashes with it. */
  static final int MIN_BYTES = 16;

  private KeySalt() {}

  static byte[] fromEnvironment() {
    return from(System.getenv());
  }

  static byte[] from(Map<String, String> env) {
    String inline = env.get(ENV);
    String file = env.get(FILE_ENV);
    byte[] salt;
    if (inline != null && !inline.isEmpty()) {
      salt = inline.getBytes(StandardCharsets.UTF_8);
    } else if (file != null && !file.isEmpty()) {
      try {
        salt = Files.readString(Path.of(file), StandardCharsets.UTF_8).stripTrailing().getBytes(StandardCharsets.UTF_8);
      } catch (IOException | RuntimeException e) {
        throw new UserError(FILE_ENV + ": cannot read " + file + ": " + UserError.message(e));
      }
    } else {
      throw new UserError("--keys hash needs the deployment's salt: set " + ENV + " or " + FILE_ENV
          + " (at least " + MIN_BYTES + " bytes, e.g. from: head -c 32 /dev/urandom | base64)");
    }
    if (salt.length < MIN_BYTES) {
      throw new UserError("the key salt is " + salt.length + " bytes; use at least " + MIN_BYTES);
    }
    return salt;
  }
}
