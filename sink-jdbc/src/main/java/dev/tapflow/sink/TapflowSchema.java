package dev.tapflow.sink;

import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.util.Objects;
import java.util.Properties;
import java.util.logging.Logger;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.output.MigrateResult;

/**
 * tapflow's tables, created and evolved by Flyway versioned migrations from
 * {@code classpath:db/migration/tapflow}. The history lives in its own table
 * ({@value #HISTORY_TABLE}) so a database shared with another Flyway user is fine, and a
 * non-empty schema is baselined at version 0 so V1 still runs there.
 */
public final class TapflowSchema {
  public static final String LOCATION = "classpath:db/migration/tapflow";
  public static final String HISTORY_TABLE = "tapflow_schema_history";

  static {
    // Flyway reports every step at INFO; under slf4j-simple (tapflow's binding) keep it to
    // warnings unless the user chose a level. FactSink logs how many migrations ran.
    String key = "org.slf4j.simpleLogger.log.org.flywaydb";
    if (System.getProperty(key) == null) {
      System.setProperty(key, "warn");
    }
  }

  private TapflowSchema() {}

  /** Applies pending migrations; returns how many ran. Safe to call on every start. */
  public static int migrate(String jdbcUrl, Properties jdbcProperties) {
    return migrate(jdbcUrl, jdbcProperties, "latest");
  }

  /** Applies pending migrations up to {@code targetVersion} ("latest" for all); for tests of a migration. */
  static int migrate(String jdbcUrl, Properties jdbcProperties, String targetVersion) {
    MigrateResult result = Flyway.configure()
        .dataSource(new DriverManagerDataSource(jdbcUrl, jdbcProperties))
        .locations(LOCATION)
        .table(HISTORY_TABLE)
        .baselineOnMigrate(true)
        .baselineVersion("0")
        .target(targetVersion)
        .load()
        .migrate();
    return result.migrationsExecuted;
  }

  /** The smallest DataSource Flyway needs, passing every JDBC property (user, password, ssl...). */
  private static final class DriverManagerDataSource implements DataSource {
    private final String url;
    private final Properties properties;

    DriverManagerDataSource(String url, Properties properties) {
      this.url = Objects.requireNonNull(url, "jdbcUrl");
      this.properties = properties == null ? new Properties() : properties;
    }

    @Override public Connection getConnection() throws SQLException {
      return DriverManager.getConnection(url, properties);
    }

    @Override public Connection getConnection(String user, String password) throws SQLException {
      return DriverManager.getConnection(url, user, password);
    }

    @Override public PrintWriter getLogWriter() { return null; }
    @Override public void setLogWriter(PrintWriter out) {}
    @Override public void setLoginTimeout(int seconds) {}
    @Override public int getLoginTimeout() { return 0; }
    @Override public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      throw new SQLFeatureNotSupportedException();
    }
    @Override public <T> T unwrap(Class<T> iface) throws SQLException {
      if (iface.isInstance(this)) {
        return iface.cast(this);
      }
      throw new SQLException("not a wrapper for " + iface);
    }
    @Override public boolean isWrapperFor(Class<?> iface) { return iface.isInstance(this); }
  }
}
