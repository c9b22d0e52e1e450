package dev.tapflow.sink;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The day partitions of {@code latency_facts} (migration V6): made in the transaction of the
 * batch that needs them ({@link #ensure}: ATTACH locks latency_facts in SHARE UPDATE
 * EXCLUSIVE mode, which readers and writers do not wait for), dropped whole when older than
 * the retention (each DROP its own short transaction).
 */
public final class FactPartitions {
  private static final Pattern NAME = Pattern.compile("latency_facts_p(\\d{8})");
  private static final DateTimeFormatter DAY = DateTimeFormatter.BASIC_ISO_DATE;
  /** How long a DROP waits for readers of latency_facts before it gives up until next time. */
  private static final String DROP_LOCK_TIMEOUT = "2s";

  private FactPartitions() {}

  /** Makes the partitions of these days where missing, in the connection's transaction. */
  public static void ensure(Connection c, Collection<LocalDate> days) throws SQLException {
    if (days.isEmpty()) {
      return;
    }
    try (PreparedStatement ps = c.prepareStatement("SELECT latency_facts_partition(d) FROM unnest(?::date[]) d")) {
      ps.setArray(1, c.createArrayOf("date", new TreeSet<>(days).stream().map(java.sql.Date::valueOf).toArray()));
      ps.executeQuery().close();
    }
  }

  /** True for PostgreSQL's "no partition of relation ... found for row". */
  static boolean isMissingPartition(SQLException e) {
    for (SQLException x = e; x != null; x = x.getNextException()) {
      if ("23514".equals(x.getSQLState()) && String.valueOf(x.getMessage()).contains("no partition")) {
        return true;
      }
    }
    return false;
  }

  /** The days that have a partition, oldest first. */
  public static List<LocalDate> days(Connection c) throws SQLException {
    List<LocalDate> out = new ArrayList<>();
    try (Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhrelid"
             + " WHERE i.inhparent = 'latency_facts'::regclass")) {
      while (rs.next()) {
        Matcher m = NAME.matcher(rs.getString(1));
        if (m.matches()) {
          out.add(LocalDate.parse(m.group(1), DAY));
        }
      }
    }
    commit(c);
    out.sort(null);
    return out;
  }

  /**
   * Drops the partitions of days before {@code firstKept}, each in its own transaction; one
   * that readers keep locked longer than {@value #DROP_LOCK_TIMEOUT} stays for the next time.
   *
   * @return the days dropped
   */
  public static List<LocalDate> dropBefore(Connection c, LocalDate firstKept) throws SQLException {
    List<LocalDate> dropped = new ArrayList<>();
    for (LocalDate d : days(c)) {
      if (!d.isBefore(firstKept)) {
        break;
      }
      try (Statement s = c.createStatement()) {
        s.execute("SET LOCAL lock_timeout = '" + DROP_LOCK_TIMEOUT + "'");
        // the name matched NAME: digits only
        s.execute("DROP TABLE latency_facts_p" + d.format(DAY));
        commit(c);
        dropped.add(d);
      } catch (SQLException e) {
        rollback(c);
        if (!"55P03".equals(e.getSQLState())) { // lock_not_available
          throw e;
        }
      }
    }
    return dropped;
  }

  /**
   * Deletes latency windows that start, capture reports made and vantage pairs requested before {@code firstKept}
   * (UTC midnight), in one transaction.
   *
   * @return rows deleted: windows, capture reports, vantage pairs
   */
  public static int[] deleteRowsBefore(Connection c, LocalDate firstKept) throws SQLException {
    java.time.OffsetDateTime cut = firstKept.atStartOfDay().atOffset(java.time.ZoneOffset.UTC);
    int[] deleted = new int[3];
    String[] sql = {"DELETE FROM latency_windows WHERE window_start < ?", "DELETE FROM capture_stats WHERE ts < ?",
        "DELETE FROM vantage_pairs WHERE ts < ?"};
    try {
      for (int i = 0; i < sql.length; i++) {
        try (java.sql.PreparedStatement ps = c.prepareStatement(sql[i])) {
          ps.setObject(1, cut);
          deleted[i] = ps.executeUpdate();
        }
      }
      commit(c);
    } catch (SQLException e) {
      rollback(c);
      throw e;
    }
    return deleted;
  }

  private static void commit(Connection c) throws SQLException {
    if (!c.getAutoCommit()) {
      c.commit();
    }
  }

  private static void rollback(Connection c) throws SQLException {
    if (!c.getAutoCommit()) {
      c.rollback();
    }
  }
}
