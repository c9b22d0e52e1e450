package dev.tapflow.cli;

import dev.tapflow.embedded.EmbeddedPostgres;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The database a query command reads: {@code --jdbc-url} when given, else the embedded
 * PostgreSQL that {@code tapflow local} keeps under {@code --home}: the running one when
 * {@code tapflow local} is running, else started for the command and stopped after it. {@link Options} are the command-line options that choose it.
 */
final class Database implements AutoCloseable {

  /** {@code --home} and the JDBC options; shared by slow, top and sql. */
  static final class Options {
    @Option(names = "--home", defaultValue = "${sys:user.home}/.tapflow",
        description = "Where tapflow local keeps its embedded database. Default: ${DEFAULT-VALUE}.")
    Path home;

    @Mixin
    JdbcOptions jdbc;

    Database open() throws SQLException {
      return Database.open(home, jdbc);
    }
  }

  private final EmbeddedPostgres embedded;
  private final Connection connection;

  private Database(EmbeddedPostgres embedded, Connection connection) {
    this.embedded = embedded;
    this.connection = connection;
  }

  static Database open(Path home, JdbcOptions jdbc) throws SQLException {
    if (jdbc.jdbcUrl != null) {
      return new Database(null, DriverManager.getConnection(jdbc.jdbcUrl, jdbc.properties()));
    }
    Path dir = home.resolve("postgres");
    if (!Files.isDirectory(dir)) {
      throw new UserError("no embedded database at " + dir + ": run 'tapflow local FILE...' first, or give --jdbc-url");
    }
    java.util.Optional<EmbeddedPostgres.Running> running = EmbeddedPostgres.running(dir);
    if (running.isPresent()) { // tapflow local is running on it: connect, don't start a second server
      return new Database(null, DriverManager.getConnection(running.get().jdbcUrl(),
          running.get().connectionProperties()));
    }
    EmbeddedPostgres pg = EmbeddedPostgres.start(dir);
    try {
      return new Database(pg, pg.connect());
    } catch (SQLException | RuntimeException e) {
      pg.close();
      throw e;
    }
  }

  Connection connection() {
    return connection;
  }

  @Override
  public void close() throws SQLException {
    try {
      connection.close();
    } finally {
      if (embedded != null) {
        embedded.close();
      }
    }
  }
}
