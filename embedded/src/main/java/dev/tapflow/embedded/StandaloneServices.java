package dev.tapflow.embedded;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The embedded broker or database in a JVM of its own, for scripts that run tapflow's roles as
 * separate processes (bench/fleet.sh). Runs until its standard input closes.
 *
 * <pre>
 *   java -cp tapflow.jar dev.tapflow.embedded.StandaloneServices kafka DIR [HOST]
 *       broker data in DIR/kafka, client listener on HOST (default 127.0.0.1); writes DIR/bootstrap
 *   java -cp tapflow.jar dev.tapflow.embedded.StandaloneServices postgres HOME
 *       database in HOME/postgres, where {@code tapflow sql --home HOME} finds it; writes
 *       HOME/jdbc-url, HOME/jdbc-user and HOME/jdbc-password (mode 600, for TAPFLOW_JDBC_PASSWORD_FILE)
 * </pre>
 */
public final class StandaloneServices {
  private StandaloneServices() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 2 || !(args[0].equals("kafka") || args[0].equals("postgres"))) {
      System.err.println("usage: StandaloneServices kafka DIR [HOST] | postgres HOME");
      System.exit(2);
    }
    Path dir = Path.of(args[1]);
    Files.createDirectories(dir);
    if (args[0].equals("kafka")) {
      String host = args.length > 2 ? args[2] : "127.0.0.1";
      try (EmbeddedKafka kafka = EmbeddedKafka.builder(dir.resolve("kafka")).host(host).start()) {
        writeAtomically(dir.resolve("bootstrap"), kafka.bootstrapServers());
        awaitStdinClosed();
      }
    } else {
      try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir.resolve("postgres"))) {
        Path password = dir.resolve("jdbc-password");
        Files.deleteIfExists(password);
        Files.createFile(password, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(password, pg.password(), StandardCharsets.UTF_8);
        Files.writeString(dir.resolve("jdbc-user"), pg.user(), StandardCharsets.UTF_8);
        writeAtomically(dir.resolve("jdbc-url"), pg.jdbcUrl());
        awaitStdinClosed();
      }
    }
  }

  /** Written whole under another name, then renamed: a script waiting for the file never reads half of it. */
  private static void writeAtomically(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, text, StandardCharsets.UTF_8);
    Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
  }

  private static void awaitStdinClosed() throws IOException {
    while (System.in.read() >= 0) {
      // until the script closes our standard input (or dies)
    }
  }
}
