package dev.tapflow.cli;

import dev.tapflow.embedded.EmbeddedPostgres;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/** The crash tests' one question to PostgreSQL: the number a counting query answers. */
final class Rows {
  private Rows() {}

  /** The first column of the first row of {@code sql} (a constant query, no parameters), as a long. */
  static long count(EmbeddedPostgres pg, String sql) {
    try (Connection c = pg.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }
}
