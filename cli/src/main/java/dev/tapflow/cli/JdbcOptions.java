package dev.tapflow.cli;

import java.util.Properties;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Where PostgreSQL is. The password comes from the environment, never the command line. */
final class JdbcOptions {

  @Option(names = "--jdbc-url", paramLabel = "URL",
      description = "An existing PostgreSQL, e.g. jdbc:postgresql://db:5432/tapflow. "
          + "User and password from TAPFLOW_JDBC_USER / TAPFLOW_JDBC_PASSWORD (or PGUSER / PGPASSWORD).")
  String jdbcUrl;

  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  /** User and password: TAPFLOW_JDBC_USER / TAPFLOW_JDBC_PASSWORD, else PGUSER / PGPASSWORD, else the configuration file. */
  Properties properties() {
    Properties p = new Properties();
    ConfigDefaults config = mixee != null ? ConfigDefaults.of(mixee) : ConfigDefaults.load(null, System.getenv());
    String user = config.jdbc("jdbc-user");
    String password = config.jdbc("jdbc-password");
    if (user != null) {
      p.setProperty("user", user);
    }
    if (password != null) {
      p.setProperty("password", password);
    }
    return p;
  }
}
