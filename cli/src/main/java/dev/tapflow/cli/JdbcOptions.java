package dev.tapflow.cli;

import java.util.Properties;
import picocli.CommandLine.Option;

/**
 * Where PostgreSQL is. User and password come from the environment or a file, never the
 * command line (visible to every user of the machine in {@code ps}): {@code TAPFLOW_JDBC_USER}
 * / {@code TAPFLOW_JDBC_PASSWORD}, else {@code PGUSER} / {@code PGPASSWORD}, else the password
 * in the file {@code TAPFLOW_JDBC_PASSWORD_FILE} names (a trailing newline ignored; e.g. a
 * container secret). The driver also reads {@code ~/.pgpass} (or {@code PGPASSFILE}).
 */
final class JdbcOptions {

  @Option(names = "--jdbc-url", paramLabel = "URL",
      description = "An existing PostgreSQL, e.g. jdbc:postgresql://db:5432/tapflow. "
          + "User and password from TAPFLOW_JDBC_USER / TAPFLOW_JDBC_PASSWORD (or PGUSER / PGPASSWORD), "
          + "or the password from the file TAPFLOW_JDBC_PASSWORD_FILE names; never on the command line.")
  String jdbcUrl;

  Properties properties() {
    return properties(System.getenv());
  }

  static Properties properties(java.util.Map<String, String> env) {
    Properties p = new Properties();
    String user = env(env, "TAPFLOW_JDBC_USER", "PGUSER");
    String password = env(env, "TAPFLOW_JDBC_PASSWORD", "PGPASSWORD");
    String file = env.get("TAPFLOW_JDBC_PASSWORD_FILE");
    if (password == null && file != null && !file.isEmpty()) {
      try {
        password = java.nio.file.Files.readString(java.nio.file.Path.of(file)).stripTrailing();
      } catch (java.io.IOException | RuntimeException e) {
        throw new UserError("TAPFLOW_JDBC_PASSWORD_FILE: cannot read " + file + ": " + UserError.message(e));
      }
    }
    if (user != null) {
      p.setProperty("user", user);
    }
    if (password != null) {
      p.setProperty("password", password);
    }
    return p;
  }

  private static String env(java.util.Map<String, String> env, String name, String fallback) {
    String v = env.get(name);
    return v != null ? v : env.get(fallback);
  }
}
