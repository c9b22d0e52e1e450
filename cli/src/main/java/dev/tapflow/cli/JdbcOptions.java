package dev.tapflow.cli;

import java.util.Properties;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

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

  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  /**
   * User and password: TAPFLOW_JDBC_USER / TAPFLOW_JDBC_PASSWORD, else PGUSER / PGPASSWORD, else the
   * configuration file; a password still missing from the file TAPFLOW_JDBC_PASSWORD_FILE names.
   */
  Properties properties() {
    ConfigDefaults config = mixee != null ? ConfigDefaults.of(mixee) : ConfigDefaults.load(null, System.getenv());
    return properties(System.getenv(), config.jdbc("jdbc-user"), config.jdbc("jdbc-password"));
  }

  /** From the environment alone (no configuration file). */
  static Properties properties(java.util.Map<String, String> env) {
    return properties(env, env(env, "TAPFLOW_JDBC_USER", "PGUSER"), env(env, "TAPFLOW_JDBC_PASSWORD", "PGPASSWORD"));
  }

  private static Properties properties(java.util.Map<String, String> env, String user, String password) {
    Properties p = new Properties();
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
    return v != null && !v.isEmpty() ? v : env.get(fallback);
  }
}
