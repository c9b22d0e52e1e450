package dev.tapflow.embedded;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An Apache Kafka KRaft broker in this JVM, from the official server jars: one node in
 * combined broker+controller mode, its log and metadata in a directory the caller owns.
 *
 * <p>Layout of {@code directory}: {@code logs/} (Kafka's log dir, formatted once by
 * {@code kafka-storage format --standalone}; its {@code meta.properties} holds the cluster
 * id), {@code server.properties} (written on every start, for the curious), and
 * {@code tapflow-kafka.properties} (the controller port, reused on restart because the
 * standalone voter set records the controller's endpoint).
 *
 * <p>Listeners bind to 127.0.0.1 only (the client listener to another address with
 * {@link Builder#host}). Internal topics (offsets, transaction state, share
 * state) use replication factor 1 and min ISR 1, so transactions and exactly_once_v2 work.
 */
public final class EmbeddedKafka implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedKafka.class);
  private static final String STATE_FILE = "tapflow-kafka.properties";
  private static final String CONTROLLER_PORT = "controller.port";
  private static final String NODE_ID = "1";
  /** How long {@link #createTopics} waits for the controller. */
  private static final Duration ADMIN_TIMEOUT = Duration.ofSeconds(30);

  private final Path directory;
  private final String host;
  private final int brokerPort;
  private final int controllerPort;
  private final String clusterId;
  private final KafkaRaftServer server;
  private final Duration startTime;
  private final boolean formatted;
  private boolean closed;

  private EmbeddedKafka(Builder b) {
    BrokerLogging.quiet();
    long t0 = System.nanoTime();
    this.directory = b.directory.toAbsolutePath();
    this.host = b.host;
    Path logDir = directory.resolve("logs");
    try {
      Files.createDirectories(directory);
      Properties state = readState();
      this.controllerPort = chooseControllerPort(b.controllerPort, state);
      this.brokerPort = b.brokerPort > 0 ? b.brokerPort : FreePort.pick();
      state.setProperty(CONTROLLER_PORT, Integer.toString(controllerPort));
      writeState(state);

      Properties props = serverProperties(logDir, b.overrides);
      Path configFile = directory.resolve("server.properties");
      try (Writer w = Files.newBufferedWriter(configFile, StandardCharsets.UTF_8)) {
        props.store(w, "written by tapflow EmbeddedKafka on every start; edits are overwritten");
      }

      this.formatted = !Files.exists(logDir.resolve("meta.properties"));
      if (formatted) {
        format(configFile);
      }
      this.clusterId = readClusterId(logDir);

      KafkaRaftServer s = new KafkaRaftServer(KafkaConfig.fromProps(props, false), Time.SYSTEM);
      try {
        s.startup();
      } catch (RuntimeException e) {
        shutdownQuietly(s);
        throw new IllegalStateException("Kafka broker in " + directory + " did not start (broker port "
            + brokerPort + ", controller port " + controllerPort + "): " + e.getMessage(), e);
      }
      this.server = s;
    } catch (IOException e) {
      throw new UncheckedIOException("Kafka broker directory " + directory + ": " + e.getMessage(), e);
    }
    awaitReady(b.readyTimeout);
    this.startTime = Duration.ofNanos(System.nanoTime() - t0);
    log.info("Kafka broker at {} ({} in {} ms, data in {})", bootstrapServers(),
        formatted ? "formatted and started" : "restarted", startTime.toMillis(), directory);
  }

  /** A builder for a broker whose data lives in {@code directory} (created if missing). */
  public static Builder builder(Path directory) {
    return new Builder(directory);
  }

  /** Starts a broker on free ports with defaults; same as {@code builder(directory).start()}. */
  public static EmbeddedKafka start(Path directory) {
    return builder(directory).start();
  }

  /** {@code 127.0.0.1:port}, for {@code bootstrap.servers}. */
  public String bootstrapServers() {
    return host + ":" + brokerPort;
  }

  public int port() {
    return brokerPort;
  }

  public String clusterId() {
    return clusterId;
  }

  public Path directory() {
    return directory;
  }

  /** Wall time of the constructor: format (first start only), startup, broker ready. */
  public Duration startTime() {
    return startTime;
  }

  /** True when this start formatted a fresh directory, false on a restart. */
  public boolean formattedOnStart() {
    return formatted;
  }

  /** Admin client properties for this broker (callers add their own as needed). */
  public Properties adminProperties() {
    Properties p = new Properties();
    p.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
    return p;
  }

  /**
   * Creates the topics that do not exist yet, with the given partition counts and
   * replication factor 1. Topics that already exist are left as they are, whatever their
   * partition count (idempotent; a restart calls it again).
   */
  public void createTopics(Map<String, Integer> partitions) {
    Objects.requireNonNull(partitions, "partitions");
    if (partitions.isEmpty()) {
      return;
    }
    try (Admin admin = Admin.create(adminProperties())) {
      Set<String> existing = admin.listTopics().names().get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      List<NewTopic> missing = new ArrayList<>();
      partitions.forEach((name, count) -> {
        if (!existing.contains(name)) {
          missing.add(new NewTopic(name, count, (short) 1));
        }
      });
      if (missing.isEmpty()) {
        return;
      }
      for (var entry : admin.createTopics(missing).values().entrySet()) {
        try {
          entry.getValue().get(ADMIN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
          if (!(e.getCause() instanceof TopicExistsException)) {
            throw new IllegalStateException("could not create topic " + entry.getKey() + ": " + e.getCause(), e);
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while creating topics", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IllegalStateException("could not list topics on " + bootstrapServers() + ": " + e, e);
    }
  }

  /** Stops the broker and waits for it; the data directory stays. Calling it again does nothing. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    long t0 = System.nanoTime();
    shutdownQuietly(server);
    log.info("Kafka broker at {} stopped in {} ms", bootstrapServers(), (System.nanoTime() - t0) / 1_000_000);
  }

  @Override
  public String toString() {
    return "EmbeddedKafka[" + bootstrapServers() + ", " + directory + "]";
  }

  static void shutdownQuietly(KafkaRaftServer s) {
    try {
      s.shutdown();
      s.awaitShutdown();
    } catch (RuntimeException e) {
      log.warn("Kafka broker shutdown: {}", e.toString());
    }
  }

  /** Startup returns before the broker has caught up with the metadata log; wait until it answers. */
  private void awaitReady(Duration timeout) {
    Properties p = adminProperties();
    p.setProperty(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Long.toString(timeout.toMillis()));
    p.setProperty(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Long.toString(Math.min(timeout.toMillis(), 10_000)));
    try (Admin admin = Admin.create(p)) {
      admin.describeCluster().nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
      throw new IllegalStateException("interrupted while waiting for the Kafka broker", e);
    } catch (ExecutionException | TimeoutException e) {
      close();
      throw new IllegalStateException("Kafka broker in " + directory + " did not become ready within " + timeout, e);
    }
  }

  private Properties serverProperties(Path logDir, Map<String, String> overrides) {
    Properties p = new Properties();
    p.setProperty("process.roles", "broker,controller");
    p.setProperty("node.id", NODE_ID);
    p.setProperty("listeners", "PLAINTEXT://" + host + ":" + brokerPort + ",CONTROLLER://127.0.0.1:" + controllerPort);
    p.setProperty("advertised.listeners", "PLAINTEXT://" + host + ":" + brokerPort);
    p.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    p.setProperty("inter.broker.listener.name", "PLAINTEXT");
    p.setProperty("controller.listener.names", "CONTROLLER");
    p.setProperty("controller.quorum.bootstrap.servers", "127.0.0.1:" + controllerPort);
    p.setProperty("log.dirs", logDir.toString());
    p.setProperty("num.partitions", "1");
    p.setProperty("default.replication.factor", "1");
    p.setProperty("min.insync.replicas", "1");
    // One node: every internal topic must live with a single replica.
    internalTopics(p, 1, 1);
    tapflowDefaults(p);
    p.putAll(overrides);
    return p;
  }

  /** Replicas and min ISR of the broker's internal topics (offsets, transaction state, share state). */
  static void internalTopics(Properties p, int replicas, int minIsr) {
    p.setProperty("offsets.topic.replication.factor", Integer.toString(replicas));
    p.setProperty("offsets.topic.num.partitions", "5");
    p.setProperty("transaction.state.log.replication.factor", Integer.toString(replicas));
    p.setProperty("transaction.state.log.min.isr", Integer.toString(minIsr));
    p.setProperty("transaction.state.log.num.partitions", "5");
    p.setProperty("share.coordinator.state.topic.replication.factor", Integer.toString(replicas));
    p.setProperty("share.coordinator.state.topic.min.isr", Integer.toString(minIsr));
  }

  /** What every tapflow broker sets, one node or several. */
  static void tapflowDefaults(Properties p) {
    // No one else will join: do not hold the first rebalance back.
    p.setProperty("group.initial.rebalance.delay.ms", "0");
    // tapflow's records carry capture times, often days old (imported files): retention by
    // time would delete them at the first retention check, 30 s after start, whether or not
    // they were processed. Bound each partition by size instead.
    p.setProperty("log.retention.ms", "-1");
    p.setProperty("log.retention.bytes", Long.toString(1L << 30));
    // The log cleaner (compacted topics: offsets, changelogs) allocates its dedupe buffer on the
    // heap at start: 128 MiB by default, a broker's share of a big machine, most of the heap of
    // tapflow local. 16 MiB holds the keys of ~700k records per cleaning pass.
    p.setProperty("log.cleaner.dedupe.buffer.size", Long.toString(16L << 20));
  }

  private void format(Path configFile) {
    String output = format(configFile, Uuid.randomUuid().toString(), "--standalone");
    log.debug("formatted {}: {}", directory, output);
  }

  /**
   * {@code kafka-storage format -t CLUSTER_ID -c CONFIG_FILE [extra...]} on the node whose
   * configuration is {@code configFile}; returns what the tool printed.
   */
  static String format(Path configFile, String clusterId, String... extra) {
    List<String> args = new ArrayList<>(List.of("format", "-t", clusterId, "-c", configFile.toString()));
    args.addAll(List.of(extra));
    ByteArrayOutputStream buffer = new ByteArrayOutputStream();
    int rc;
    try (PrintStream out = new PrintStream(buffer, true, StandardCharsets.UTF_8)) {
      rc = StorageTool.execute(args.toArray(String[]::new), out);
    } catch (RuntimeException e) {
      throw new IllegalStateException("kafka-storage format of " + configFile.getParent() + " failed: "
          + e.getMessage(), e);
    }
    if (rc != 0) {
      throw new IllegalStateException("kafka-storage format of " + configFile.getParent() + " failed (exit " + rc
          + "): " + buffer.toString(StandardCharsets.UTF_8).strip());
    }
    return buffer.toString(StandardCharsets.UTF_8).strip();
  }


  private static String readClusterId(Path logDir) throws IOException {
    Properties meta = new Properties();
    try (Reader r = Files.newBufferedReader(logDir.resolve("meta.properties"), StandardCharsets.UTF_8)) {
      meta.load(r);
    }
    return meta.getProperty("cluster.id");
  }

  private int chooseControllerPort(int requested, Properties state) {
    if (requested > 0) {
      return requested;
    }
    String stored = state.getProperty(CONTROLLER_PORT);
    if (stored != null) {
      int port = Integer.parseInt(stored);
      if (FreePort.isFree(port)) {
        return port;
      }
      log.warn("controller port {} recorded in {} is taken; using a new one", port, directory);
    }
    return FreePort.pick();
  }

  private Properties readState() throws IOException {
    Properties p = new Properties();
    Path file = directory.resolve(STATE_FILE);
    if (Files.exists(file)) {
      try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
        p.load(r);
      }
    }
    return p;
  }

  private void writeState(Properties state) throws IOException {
    try (Writer w = Files.newBufferedWriter(directory.resolve(STATE_FILE), StandardCharsets.UTF_8)) {
      state.store(w, "tapflow EmbeddedKafka state");
    }
  }

  /** Options for {@link EmbeddedKafka}; every one has a working default. */
  public static final class Builder {
    private final Path directory;
    private int brokerPort;
    private int controllerPort;
    private String host = "127.0.0.1";
    private Duration readyTimeout = Duration.ofSeconds(60);
    private final Map<String, String> overrides = new LinkedHashMap<>();

    private Builder(Path directory) {
      this.directory = Objects.requireNonNull(directory, "directory");
    }

    /** Client listener port on 127.0.0.1; default 0 = a free port on every start. */
    public Builder port(int port) {
      this.brokerPort = port;
      return this;
    }

    /**
     * Address the client listener binds to and advertises; default 127.0.0.1. Another address
     * of this host (a bridge's, say) lets clients in other network namespaces reach it; the
     * controller listener stays on 127.0.0.1.
     */
    public Builder host(String host) {
      this.host = Objects.requireNonNull(host, "host");
      return this;
    }

    /** Controller listener port; default 0 = the one recorded in the directory, else a free one. */
    public Builder controllerPort(int port) {
      this.controllerPort = port;
      return this;
    }

    /** How long to wait for the broker to answer after startup; default 60 s. */
    public Builder readyTimeout(Duration timeout) {
      this.readyTimeout = Objects.requireNonNull(timeout);
      return this;
    }

    /** Any broker setting, applied last (e.g. {@code num.partitions}, {@code log.retention.hours}). */
    public Builder config(String key, String value) {
      overrides.put(key, value);
      return this;
    }

    public EmbeddedKafka start() {
      return new EmbeddedKafka(this);
    }
  }
}
