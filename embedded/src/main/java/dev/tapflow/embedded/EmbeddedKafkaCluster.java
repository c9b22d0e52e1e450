package dev.tapflow.embedded;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Properties;
import java.util.StringJoiner;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.utils.Time;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A KRaft cluster of several nodes in this JVM, each its own {@link KafkaRaftServer} in combined
 * broker+controller mode with its own client port, controller port and log directory under
 * {@code directory/node-N}. The controller quorum is static (all nodes are voters), so a
 * cluster of three keeps a quorum, and every partition with replication factor 3 and
 * {@code min.insync.replicas=2} stays writable, while one node is down.
 *
 * <p>For tests of what tapflow does when partition leadership moves: {@link #stopNode} shuts a
 * node down in order (its partitions' leadership moves to the other replicas), {@link
 * #startNode} brings it back on the same ports and data. Defaults: 3 replicas and min ISR 2
 * for new topics and for the internal ones (offsets, transaction state), so exactly_once_v2
 * keeps working with one node down.
 */
public final class EmbeddedKafkaCluster implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EmbeddedKafkaCluster.class);

  private final Path directory;
  private final String clusterId = Uuid.randomUuid().toString();
  private final int[] brokerPorts;
  private final int[] controllerPorts;
  private final KafkaRaftServer[] servers;
  private final Properties[] configs;
  private boolean closed;

  private EmbeddedKafkaCluster(Path directory, int nodes, int minInsync) {
    BrokerLogging.quiet();
    this.directory = directory.toAbsolutePath();
    brokerPorts = new int[nodes];
    controllerPorts = new int[nodes];
    servers = new KafkaRaftServer[nodes];
    configs = new Properties[nodes];
    StringJoiner voters = new StringJoiner(",");
    for (int i = 0; i < nodes; i++) {
      brokerPorts[i] = FreePort.pick();
      controllerPorts[i] = FreePort.pick();
      voters.add((i + 1) + "@127.0.0.1:" + controllerPorts[i]);
    }
    try {
      for (int i = 0; i < nodes; i++) {
        Path nodeDir = nodeDirectory(i + 1);
        Files.createDirectories(nodeDir);
        configs[i] = serverProperties(i, voters.toString(), nodes, minInsync);
        Path configFile = nodeDir.resolve("server.properties");
        try (Writer w = Files.newBufferedWriter(configFile, StandardCharsets.UTF_8)) {
          configs[i].store(w, "written by tapflow EmbeddedKafkaCluster");
        }
        EmbeddedKafka.format(configFile, clusterId);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("Kafka cluster directory " + directory + ": " + e.getMessage(), e);
    }
    // together: a node's broker waits in startup for a controller quorum, which needs the others
    List<Thread> starting = new ArrayList<>();
    List<RuntimeException> failures = java.util.Collections.synchronizedList(new ArrayList<>());
    for (int i = 0; i < nodes; i++) {
      int nodeId = i + 1;
      Thread t = new Thread(() -> {
        try {
          startNode(nodeId);
        } catch (RuntimeException e) {
          failures.add(e);
        }
      }, "kafka-node-" + nodeId + "-start");
      t.start();
      starting.add(t);
    }
    for (Thread t : starting) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        close();
        throw new IllegalStateException("interrupted while starting the Kafka cluster", e);
      }
    }
    if (!failures.isEmpty()) {
      close();
      throw failures.get(0);
    }
    awaitBrokers(nodes, Duration.ofSeconds(90));
    log.info("Kafka cluster of {} nodes at {}", nodes, bootstrapServers());
  }

  /**
   * Starts {@code nodes} combined nodes in {@code directory} (created; it must not hold an
   * earlier cluster), new topics and internal topics with {@code min(nodes, 3)} replicas and
   * min ISR {@code min(nodes - 1, 2)} (at least 1).
   */
  public static EmbeddedKafkaCluster start(Path directory, int nodes) {
    if (nodes < 1) {
      throw new IllegalArgumentException("a cluster needs at least one node");
    }
    return new EmbeddedKafkaCluster(Objects.requireNonNull(directory), nodes, Math.max(1, Math.min(nodes - 1, 2)));
  }

  /** Every node's client address, for {@code bootstrap.servers}. */
  public String bootstrapServers() {
    StringJoiner j = new StringJoiner(",");
    for (int port : brokerPorts) {
      j.add("127.0.0.1:" + port);
    }
    return j.toString();
  }

  /** Nodes are numbered 1..{@link #size}, as their {@code node.id}. */
  public int size() {
    return servers.length;
  }

  public synchronized boolean isRunning(int nodeId) {
    return servers[nodeId - 1] != null;
  }

  /** Admin client properties for this cluster. */
  public Properties adminProperties() {
    Properties p = new Properties();
    p.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers());
    return p;
  }

  /** Shuts node {@code nodeId} down in order and waits for it; its data stays. */
  public synchronized void stopNode(int nodeId) {
    KafkaRaftServer s = servers[nodeId - 1];
    if (s == null) {
      return;
    }
    servers[nodeId - 1] = null;
    long t0 = System.nanoTime();
    EmbeddedKafka.shutdownQuietly(s);
    log.info("Kafka node {} stopped in {} ms", nodeId, (System.nanoTime() - t0) / 1_000_000);
  }

  /** Starts node {@code nodeId} (again) on its ports and data. */
  public void startNode(int nodeId) {
    synchronized (this) {
      if (servers[nodeId - 1] != null) {
        return;
      }
    }
    KafkaRaftServer s = new KafkaRaftServer(KafkaConfig.fromProps(configs[nodeId - 1], false), Time.SYSTEM);
    synchronized (this) {
      servers[nodeId - 1] = s;
    }
    try {
      s.startup();
    } catch (RuntimeException e) {
      synchronized (this) {
        servers[nodeId - 1] = null;
      }
      EmbeddedKafka.shutdownQuietly(s);
      throw new IllegalStateException("Kafka node " + nodeId + " did not start: " + e.getMessage(), e);
    }
  }

  /** Waits until {@code count} brokers are registered and answer (up to {@code timeout}). */
  public void awaitBrokers(int count, Duration timeout) {
    Properties p = adminProperties();
    p.setProperty(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Long.toString(timeout.toMillis()));
    long deadline = System.nanoTime() + timeout.toNanos();
    try (Admin admin = Admin.create(p)) {
      while (true) {
        try {
          if (admin.describeCluster().nodes().get(timeout.toMillis(), TimeUnit.MILLISECONDS).size() >= count) {
            return;
          }
        } catch (ExecutionException e) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException("Kafka cluster in " + directory + " did not answer: " + e.getCause(), e);
          }
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("Kafka cluster in " + directory + ": fewer than " + count
              + " brokers after " + timeout);
        }
        Thread.sleep(100);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the Kafka cluster", e);
    } catch (TimeoutException e) {
      throw new IllegalStateException("Kafka cluster in " + directory + " did not answer within " + timeout, e);
    }
  }

  /** Stops every node still running, the controllers' quorum last to go. Calling it again does nothing. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    List<Thread> stopping = new ArrayList<>();
    // in parallel: a node shutting down alone waits for a quorum the others, stopped before it, no longer give
    for (int i = 0; i < servers.length; i++) {
      KafkaRaftServer s = servers[i];
      servers[i] = null;
      if (s != null) {
        Thread t = new Thread(() -> EmbeddedKafka.shutdownQuietly(s), "kafka-node-" + (i + 1) + "-shutdown");
        t.start();
        stopping.add(t);
      }
    }
    for (Thread t : stopping) {
      try {
        t.join(TimeUnit.SECONDS.toMillis(60));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  @Override
  public String toString() {
    return "EmbeddedKafkaCluster[" + bootstrapServers() + ", " + directory + "]";
  }

  private Path nodeDirectory(int nodeId) {
    return directory.resolve("node-" + nodeId);
  }

  private Properties serverProperties(int index, String voters, int nodes, int minInsync) {
    int nodeId = index + 1;
    int replicas = Math.min(nodes, 3);
    Properties p = new Properties();
    p.setProperty("process.roles", "broker,controller");
    p.setProperty("node.id", Integer.toString(nodeId));
    p.setProperty("listeners", "PLAINTEXT://127.0.0.1:" + brokerPorts[index] + ",CONTROLLER://127.0.0.1:"
        + controllerPorts[index]);
    p.setProperty("advertised.listeners", "PLAINTEXT://127.0.0.1:" + brokerPorts[index]);
    p.setProperty("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT");
    p.setProperty("inter.broker.listener.name", "PLAINTEXT");
    p.setProperty("controller.listener.names", "CONTROLLER");
    p.setProperty("controller.quorum.voters", voters);
    p.setProperty("log.dirs", nodeDirectory(nodeId).resolve("logs").toString());
    p.setProperty("num.partitions", "1");
    p.setProperty("default.replication.factor", Integer.toString(replicas));
    p.setProperty("min.insync.replicas", Integer.toString(minInsync));
    EmbeddedKafka.internalTopics(p, replicas, minInsync);
    EmbeddedKafka.tapflowDefaults(p);
    // a stopped node's partitions get a new leader at once (controlled shutdown); a node back
    // is made preferred leader again only when asked (Admin.electLeaders), so tests decide
    p.setProperty("auto.leader.rebalance.enable", "false");
    return p;
  }
}
