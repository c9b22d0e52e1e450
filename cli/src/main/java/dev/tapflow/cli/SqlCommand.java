package dev.tapflow.cli;

import dev.tapflow.sink.TextTable;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.postgresql.core.NativeQuery;
import org.postgresql.core.Parser;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code tapflow sql "SELECT ..."}: one read-only statement against tapflow's database,
 * printed as a table.
 *
 * <p>Read-only by three locks, any one of which refuses a write: exactly one statement is
 * sent (counted by the JDBC driver's own parser, so a {@code ; DELETE ...} never reaches
 * the server); it runs in a transaction begun {@code READ ONLY} whose snapshot is taken
 * before it (so {@code SET TRANSACTION READ WRITE} is refused), under the role
 * {@code tapflow_reader} when the migrations could make it (SELECT on tapflow's tables,
 * nothing else); and the transaction is rolled back afterwards whatever happened.
 */
@Command(name = "sql", mixinStandardHelpOptions = true,
    description = "Run one read-only SQL statement (SELECT, WITH, EXPLAIN, SHOW...) against tapflow's PostgreSQL "
        + "and print the rows as a table. Writes are refused.")
final class SqlCommand implements Callable<Integer> {

  private static final String READER_ROLE = "tapflow_reader";
  /** Read-only SQLSTATEs: read_only_sql_transaction, insufficient_privilege. */
  private static final Set<String> REFUSED = Set.of("25006", "42501");
  private static final Set<Integer> NUMERIC = Set.of(Types.BIGINT, Types.INTEGER, Types.SMALLINT, Types.TINYINT,
      Types.NUMERIC, Types.DECIMAL, Types.DOUBLE, Types.FLOAT, Types.REAL);

  @Parameters(index = "0", paramLabel = "STATEMENT", description = "One SQL statement, e.g. \"SELECT * FROM latency_by_minute LIMIT 10\".")
  String statement;

  @Option(names = "--limit", defaultValue = "1000", description = "Rows printed at most. Default: ${DEFAULT-VALUE}.")
  int limit;

  @Option(names = "--timeout", defaultValue = "60s", paramLabel = "DURATION",
      description = "Cancel the statement after this long. Default: ${DEFAULT-VALUE}.")
  String timeout;

  @Option(names = "--format", defaultValue = "table", paramLabel = "table|tsv",
      description = "table (aligned, for people) or tsv (a header line, then one line per row, cells separated by tabs, "
          + "control characters in a cell (tabs, newlines) shown as '.'; for scripts). Default: ${DEFAULT-VALUE}.")
  String format;

  @Option(names = "--width", defaultValue = "60", description = "Widest cell shown; longer ones end in '...'. Default: ${DEFAULT-VALUE}.")
  int width;

  @Mixin
  Database.Options database;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws SQLException {
    if (limit < 1 || width < 8) {
      throw new UserError("--limit must be 1 or more, --width 8 or more");
    }
    if (!format.equals("table") && !format.equals("tsv")) {
      throw new UserError("--format must be table or tsv");
    }
    long timeoutMs = PipelineOptions.Durations.parse(timeout, "--timeout").toMillis();
    requireOneStatement(statement);
    PrintWriter out = spec.commandLine().getOut();
    try (Database db = database.open()) {
      Connection c = db.connection();
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.execute("SET TRANSACTION READ ONLY");
        s.execute("SET LOCAL statement_timeout = " + Math.max(1, timeoutMs));
        if (canBeReader(s)) {
          s.execute("SET LOCAL ROLE " + READER_ROLE);
        }
        s.executeQuery("SELECT 1").close(); // takes the snapshot: the transaction stays read-only
        s.setMaxRows(limit + 1);
        s.setFetchSize(Math.min(limit + 1, 1000));
        boolean rows = s.execute(statement);
        String result = !rows ? "OK (" + Math.max(0, s.getUpdateCount()) + " rows)\n"
            : format.equals("tsv") ? tsv(s.getResultSet()) : table(s.getResultSet());
        out.print(result);
        out.flush();
      } catch (SQLException e) {
        if (REFUSED.contains(e.getSQLState())) {
          throw new UserError("sql is read-only: " + firstLine(e.getMessage()));
        }
        throw new UserError(firstLine(e.getMessage()));
      } finally {
        try {
          c.rollback();
        } catch (SQLException ignored) {
          // the connection is closed next
        }
      }
    }
    return 0;
  }

  /** The driver's own parser splits statements exactly as it would when sending them. */
  static void requireOneStatement(String sql) {
    List<NativeQuery> parts;
    try {
      parts = Parser.parseJdbcSql(sql, true, false, true, false, false);
    } catch (SQLException e) {
      throw new UserError("not a statement: " + firstLine(e.getMessage()));
    }
    long statements = parts.stream().filter(q -> !q.nativeSql.isBlank()).count();
    if (statements != 1) {
      throw new UserError("sql runs exactly one statement; got " + statements);
    }
  }

  private static boolean canBeReader(Statement s) throws SQLException {
    try (ResultSet rs = s.executeQuery("SELECT to_regrole('" + READER_ROLE + "') IS NOT NULL"
        + " AND pg_has_role(current_user, '" + READER_ROLE + "', 'MEMBER')")) {
      rs.next();
      return rs.getBoolean(1);
    }
  }

  private String tsv(ResultSet rs) throws SQLException {
    ResultSetMetaData md = rs.getMetaData();
    int n = md.getColumnCount();
    StringBuilder out = new StringBuilder();
    for (int i = 1; i <= n; i++) {
      out.append(i > 1 ? "\t" : "").append(md.getColumnLabel(i));
    }
    out.append('\n');
    for (int row = 0; row < limit && rs.next(); row++) {
      for (int i = 1; i <= n; i++) {
        String v = rs.getString(i);
        out.append(i > 1 ? "\t" : "").append(v == null ? "" : TextTable.printable(v, Integer.MAX_VALUE));
      }
      out.append('\n');
    }
    return out.toString();
  }

  private String table(ResultSet rs) throws SQLException {
    ResultSetMetaData md = rs.getMetaData();
    int n = md.getColumnCount();
    String[] headers = new String[n];
    for (int i = 1; i <= n; i++) {
      headers[i - 1] = (NUMERIC.contains(md.getColumnType(i)) ? ">" : "") + md.getColumnLabel(i);
    }
    TextTable t = new TextTable(headers);
    boolean more = false;
    while (rs.next()) {
      if (t.size() == limit) {
        more = true;
        break;
      }
      String[] cells = new String[n];
      for (int i = 1; i <= n; i++) {
        String v = rs.getString(i);
        cells[i - 1] = v == null ? "" : TextTable.printable(v, width);
      }
      t.row(cells);
    }
    StringBuilder out = new StringBuilder();
    t.appendTo(out);
    out.append("(").append(t.size()).append(t.size() == 1 ? " row" : " rows")
        .append(more ? "; more not shown, see --limit" : "").append(")\n");
    return out.toString();
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "error";
    }
    int nl = s.indexOf('\n');
    return (nl < 0 ? s : s.substring(0, nl)).trim();
  }
}
