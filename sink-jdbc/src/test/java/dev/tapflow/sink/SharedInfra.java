package dev.tapflow.sink;

import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.embedded.EmbeddedPostgres;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.UUID;

/**
 * One real broker and one real PostgreSQL for every test class of this module, started on
 * first use and stopped when the JVM exits. Each test class works in its own database schema
 * and its own topics, so classes do not see each other's rows.
 */
final class SharedInfra {
  private static final Path ROOT = Paths.get("target", "it", "shared-" + UUID.randomUUID()).toAbsolutePath();
  private static EmbeddedKafka kafka;
  private static EmbeddedPostgres postgres;

  private SharedInfra() {}

  static synchronized EmbeddedKafka kafka() {
    if (kafka == null) {
      kafka = EmbeddedKafka.start(ROOT.resolve("kafka"));
      System.out.printf("shared EmbeddedKafka started in %d ms%n", kafka.startTime().toMillis());
      Runtime.getRuntime().addShutdownHook(new Thread(kafka::close));
    }
    return kafka;
  }

  static synchronized EmbeddedPostgres postgres() {
    if (postgres == null) {
      postgres = EmbeddedPostgres.start(ROOT.resolve("postgres"));
      System.out.printf("shared EmbeddedPostgres started in %d ms%n", postgres.startTime().toMillis());
      Runtime.getRuntime().addShutdownHook(new Thread(postgres::close));
    }
    return postgres;
  }

  /** A JDBC URL whose connections work in {@code schema} (created here), on the shared server. */
  static String jdbcUrl(String schema) throws SQLException {
    EmbeddedPostgres pg = postgres();
    try (Connection c = pg.connect(); Statement s = c.createStatement()) {
      s.execute("CREATE SCHEMA IF NOT EXISTS " + schema);
    }
    return pg.jdbcUrl() + "?currentSchema=" + schema;
  }

  static Properties jdbcProperties() {
    return postgres().connectionProperties();
  }

  static Connection connect(String schema) throws SQLException {
    return DriverManager.getConnection(jdbcUrl(schema), jdbcProperties());
  }
}
