package dev.tapflow.cli;

import java.util.Properties;
import picocli.CommandLine.Option;

/** Where PostgreSQL is. The password comes from the environment, never the command line. */
final class JdbcOptions {

  @Option(names = "--jdbc-url", paramLabel = "URL",
      description = "An existing PostgreSQL, e.g. jdbc:postgresql://db:5432/tapflow. "
          + "User and password from TAPFLOW_JDBC_USER / TAPFLOW_JDBC_PASSWORD (or PGUSER / PGPASSWORD).")
  String jdbcUrl;

  Properties properties() {
    Properties p = new Properties();
    String user = env("TAPFLOW_JDBC_USER", "PGUSER");
    String password = env("TAPFLOW_JDBC_PASSWORD", "PGPASSWORD");
    if (user != null) {
      p.setProperty("user", user);
    }
    if (password != null) {
      p.setProperty("password", password);
    }
    return p;
  }

  private static String env(String name, String fallback) {
    String v = System.getenv(name);
    return v != null ? v : System.getenv(fallback);
  }
}
