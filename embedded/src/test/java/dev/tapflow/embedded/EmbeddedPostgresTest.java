package dev.tapflow.embedded;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** A real PostgreSQL: initdb, query, stop, restart on the same directory; password required. */
class EmbeddedPostgresTest {

  @Test
  void startsQueriesAndKeepsDataAcrossRestart() throws Exception {
    Path dir = Paths.get("target", "it", "pg-" + UUID.randomUUID());
    String password;
    try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir)) {
      assertTrue(pg.initializedOnStart());
      System.out.printf("EmbeddedPostgres first start: %d ms%n", pg.startTime().toMillis());
      password = pg.password();
      assertFalse(pg.toString().contains(password), "no password in toString");
      assertFalse(pg.jdbcUrl().contains(password), "no password in the URL");
      try (Connection c = pg.connect(); Statement s = c.createStatement()) {
        s.execute("CREATE TABLE kept (n int PRIMARY KEY)");
        s.execute("INSERT INTO kept VALUES (1), (2), (3)");
        try (ResultSet rs = s.executeQuery("SELECT current_user, current_database(), version()")) {
          rs.next();
          assertEquals("tapflow", rs.getString(1));
          assertEquals("tapflow", rs.getString(2));
          assertTrue(rs.getString(3).startsWith("PostgreSQL 18"), rs.getString(3));
        }
        try (ResultSet rs = s.executeQuery("SHOW synchronous_commit")) {
          rs.next();
          assertEquals("on", rs.getString(1));
        }
      }
      Properties wrong = new Properties();
      wrong.setProperty("user", pg.user());
      wrong.setProperty("password", "not-the-password");
      assertThrows(SQLException.class, () -> DriverManager.getConnection(pg.jdbcUrl(), wrong).close(),
          "a wrong password is refused");
      pg.close();
      assertDoesNotThrow(pg::close, "closing twice");
    }
    assertTrue(Files.exists(dir.resolve("pgdata").resolve("PG_VERSION")));
    assertTrue(Files.exists(dir.resolve("bin")), "binaries unpacked under our directory");

    try (EmbeddedPostgres pg = EmbeddedPostgres.start(dir)) {
      assertFalse(pg.initializedOnStart());
      System.out.printf("EmbeddedPostgres restart: %d ms%n", pg.startTime().toMillis());
      assertEquals(password, pg.password(), "credentials kept in the directory");
      try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.user(), password);
           Statement s = c.createStatement();
           ResultSet rs = s.executeQuery("SELECT count(*) FROM kept")) {
        rs.next();
        assertEquals(3, rs.getInt(1));
      }
    }
  }
}
