package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tapflow.capture.IpFragmentReassembler;
import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.capture.live.LiveCapture;
import dev.tapflow.capture.live.LivePublisher;
import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.schemas.CaptureStats;
import dev.tapflow.sink.TapflowSchema;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8's outages, on one pipeline run: a live agent (in this JVM) captures a client's
 * steady Redis traffic on loopback; {@code tapflow process} and {@code tapflow sink} run as
 * separate JVMs. The Kafka broker is stopped for 60 s and started again on the same port and
 * log directory; once the sink stores facts again, PostgreSQL is stopped for 60 s and started
 * again on the same data directory and port. Nothing is restarted by the test: the agent,
 * the processor and the sink ride both outages out and catch up. At the end the agent's
 * accounting adds up (every segment published, or counted as a producer error or a backlog
 * drop), and with nothing dropped PostgreSQL holds exactly one fact per command Redis counted
 * (INFO commandstats over a unix socket, which is not captured), none twice. The sink said
 * once per outage, in one line, that it waits, and logged no stack trace.
 */
class PipelineOutageTest {
  private static final String AGENT = "outage";
  private static final String APP_ID = "outage-test";
  private static final Duration OUTAGE = Duration.ofSeconds(Long.getLong("tapflow.test.outageSeconds", 60));
  /** An upper bound for each wait (the machine may be busy), not a timing assertion. */
  private static final Duration WAIT = Duration.ofMinutes(3);
  /** Commands per second the client sends (SET and GET in turn), one connection. */
  private static final int RATE = 200;

  @TempDir
  Path dir;

  private EmbeddedPostgres pg;

  @Test
  void agentProcessorAndSinkRideOutABrokerAndADatabaseOutage() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "live capture needs root (CI runs as root)");
    for (String tool : List.of("redis-server", "redis-cli")) {
      if (System.getenv("TAPFLOW_REQUIRE_TOOLS") != null) { // scripts/test.sh: a missing tool is a failure
        assertTrue(LiveCaptureTruthTest.onPath(tool), tool + " is not installed although scripts/test.sh installs it");
      }
      assumeTrue(LiveCaptureTruthTest.onPath(tool), tool + " is not installed (scripts/test.sh installs it)");
    }
    long t0 = System.nanoTime();
    java.util.function.Consumer<String> phase = what -> System.out.printf("%6d ms %s%n",
        (System.nanoTime() - t0) / 1_000_000, what);
    int redisPort = LiveCaptureTruthTest.freePort();
    Path sock = dir.resolve("redis.sock");
    Process redis = new ProcessBuilder("redis-server", "--port", Integer.toString(redisPort), "--bind", "127.0.0.1",
        "--unixsocket", sock.toString(), "--save", "", "--appendonly", "no", "--dir", dir.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
    Path brokerDir = dir.resolve("kafka");
    Path pgDir = dir.resolve("postgres");
    EmbeddedKafka broker = EmbeddedKafka.start(brokerDir);
    pg = EmbeddedPostgres.start(pgDir);
    int brokerPort = broker.port();
    int pgPort = pg.port();
    String bootstrap = broker.bootstrapServers();
    TapflowJvms jvms = new TapflowJvms(dir, bootstrap);
    LiveCapture capture = null;
    CompletableFuture<CaptureStats> captured = null;
    Client client = null;
    try {
      LiveCaptureTruthTest.awaitRedis(sock);
      LiveCaptureTruthTest.redisCli(sock, "CONFIG", "RESETSTAT");
      TapflowSchema.migrate(pg.jdbcUrl(), pg.connectionProperties());
      Topics.ensure(bootstrap, Map.of(), ProcessorConfig.defaults(), LatencyWindowConfig.defaults(), 2);
      jvms.processor("processor", APP_ID, "--protocol", "redis=" + redisPort);
      jvms.sink("sink", pg);

      // the agent: its producer's defaults (delivery timeout 120 s) and a backlog that holds the outage's traffic
      LivePublisher publisher = LivePublisher.create(bootstrap, Map.of(), KafkaSegmentPublisher.DEFAULT_TOPIC, 64L << 20);
      LiveCapture agent = LiveCapture.open(new LiveCapture.Settings(AGENT, List.of("lo"), "tcp port " + redisPort,
          65535, 8 << 20, 50, false, Duration.ofSeconds(1), LiveCapture.Settings.agentBatching(),
          IpFragmentReassembler.Options.defaults(), Duration.ofSeconds(30), LiveCapture.STATS_TOPIC), publisher);
      capture = agent;
      captured = CompletableFuture.supplyAsync(() -> {
        try {
          return agent.run(r -> { });
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      client = new Client(redisPort);
      await(() -> facts() > 500, "facts flowing", jvms);
      phase.accept("flowing: " + facts() + " facts");

      // 1. the broker goes away for a minute and comes back on the same port and log directory
      long beforeBroker = facts();
      broker.close();
      phase.accept("broker stopped at " + beforeBroker + " facts, " + client.sent.get() + " commands sent");
      Thread.sleep(OUTAGE.toMillis());
      jvms.requireAlive("the broker outage");
      CaptureStats during = capture.latest();
      broker = EmbeddedKafka.builder(brokerDir).port(brokerPort).start();
      phase.accept("broker back; the agent holds " + during.getBacklogSegments() + " segments in its backlog, "
          + during.getInFlightSegments() + " in flight");
      assertTrue(during.getBacklogSegments() + during.getInFlightSegments() > 0, "the agent kept what it captured: "
          + during);
      long sentAtBroker = client.sent.get();
      await(() -> facts() > beforeBroker + (sentAtBroker - beforeBroker) / 2, "the sink storing again", jvms);

      // 2. PostgreSQL goes away for a minute and comes back on the same data directory and port
      long beforePg = facts();
      pg.close();
      phase.accept("PostgreSQL stopped at " + beforePg + " facts, " + client.sent.get() + " commands sent");
      Thread.sleep(OUTAGE.toMillis());
      jvms.requireAlive("the database outage");
      pg = EmbeddedPostgres.builder(pgDir).port(pgPort).start();
      phase.accept("PostgreSQL back");

      // 3. the load ends; the agent stops; everything it published must arrive
      client.close();
      Map<String, Long> truth = LiveCaptureTruthTest.commandstats(LiveCaptureTruthTest.redisCli(sock, "INFO",
          "commandstats"));
      client = null;
      Thread.sleep(300); // the last replies and FINs pass the capture point
      capture.stop();
      CaptureStats last = captured.get(2, TimeUnit.MINUTES);
      capture.close();
      capture = null;
      long expected = truth.values().stream().mapToLong(Long::longValue).sum();
      phase.accept("load stopped: Redis counted " + truth + "; the agent's final report: segments "
          + last.getSegments() + " published " + last.getPublishedSegments() + " producer errors "
          + last.getProducerErrorSegments() + " backlog drops " + last.getBacklogDropSegments());
      assertEquals(last.getSegments(), last.getPublishedSegments() + last.getProducerErrorSegments()
          + last.getBacklogDropSegments(), "published + counted drops == captured: " + last);
      assertEquals(0, last.getProducerErrorSegments() + last.getBacklogDropSegments(),
          "the backlog held the outage: nothing dropped, so every fact must arrive: " + last);
      assertEquals(0, last.getInterfaces().get(0).getKernelDrops(), "kernel drops");
      await(() -> facts() >= expected, "every fact stored", jvms);
      Thread.sleep(2000); // anything more would be a duplicate: give it the chance to show
      jvms.requireAlive("the end");
      phase.accept("all " + expected + " facts stored");

      assertEquals(expected, facts(), "no fact lost, none twice");
      assertEquals(expected, count("SELECT count(DISTINCT id) FROM latency_facts"));
      assertEquals(0, count("SELECT count(*) FROM latency_facts WHERE status <> 'OK'"), "every command answered");
      Map<String, Long> perCommand = new TreeMap<>();
      try (Connection c = pg.connect(); Statement s = c.createStatement();
           ResultSet rs = s.executeQuery("SELECT lower(command), count(*) FROM latency_facts GROUP BY 1")) {
        while (rs.next()) {
          perCommand.put(rs.getString(1), rs.getLong(2));
        }
      }
      assertEquals(truth, perCommand, "facts per command vs Redis INFO commandstats");
      assertEquals(Map.of("processor", 1, "sink", 1), jvms.starts(), "nothing was restarted");

      // the sink said what it waited for, once per outage start, and no stack trace
      String sinkLog = Files.readString(jvms.logs("sink").get(0));
      String waits = "PostgreSQL at " + pg.jdbcUrl() + " could not store a batch";
      assertEquals(1, sinkLog.lines().filter(l -> l.contains(waits) && l.contains("waiting for it")).count(),
          "one line when the wait begins, naming the database:\n" + sinkLog);
      long still = sinkLog.lines().filter(l -> l.contains("still waiting for PostgreSQL")).count();
      assertTrue(still <= OUTAGE.toSeconds() / 30 + 1, "one line every 30 s while it lasts, not one per retry:\n"
          + sinkLog);
      assertEquals(1, sinkLog.lines().filter(l -> l.contains("PostgreSQL at " + pg.jdbcUrl() + " is back after"))
          .count(), "one line when it ends:\n" + sinkLog);
      assertEquals(0, sinkLog.lines().filter(l -> l.startsWith("\tat ")).count(), "no stack trace:\n" + sinkLog);
      phase.accept("checked: " + expected + " facts; sink log: " + sinkLog.lines().count() + " lines");
    } finally {
      if (client != null) {
        client.close();
      }
      if (capture != null) {
        capture.stop();
        capture.close();
      }
      jvms.close();
      broker.close();
      pg.close();
      redis.destroy();
      redis.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private long facts() {
    return count("SELECT count(*) FROM latency_facts");
  }

  private long count(String sql) {
    return Rows.count(pg, sql);
  }

  private void await(BooleanSupplier condition, String what, TapflowJvms jvms) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      jvms.requireAlive(what);
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what + "; facts " + facts() + "\n" + jvms.tails(60));
      }
      Thread.sleep(50);
    }
  }

  /** One Redis connection sending SET and GET in turn at {@link #RATE} commands a second, each reply read. */
  private static final class Client implements AutoCloseable {
    final AtomicBoolean running = new AtomicBoolean(true);
    final AtomicLong sent = new AtomicLong();
    final CompletableFuture<Void> loop;

    Client(int port) {
      loop = CompletableFuture.runAsync(() -> {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
          s.setTcpNoDelay(true);
          OutputStream out = s.getOutputStream();
          InputStream in = new BufferedInputStream(s.getInputStream());
          long next = System.nanoTime();
          for (long i = 0; running.get(); i++) {
            String key = "k" + (i / 2 % 1000);
            String cmd = i % 2 == 0
                ? "*3\r\n$3\r\nSET\r\n$" + key.length() + "\r\n" + key + "\r\n$5\r\nvalue\r\n"
                : "*2\r\n$3\r\nGET\r\n$" + key.length() + "\r\n" + key + "\r\n";
            out.write(cmd.getBytes(StandardCharsets.US_ASCII));
            out.flush();
            readReply(in);
            sent.incrementAndGet();
            next += 1_000_000_000L / RATE;
            LockSupport.parkNanos(next - System.nanoTime());
          }
        } catch (IOException e) {
          throw new IllegalStateException(e);
        }
      });
    }

    /** +OK, $-1 or $n followed by n bytes and CRLF (the only replies SET and GET give here). */
    private static void readReply(InputStream in) throws IOException {
      String line = readLine(in);
      if (line.startsWith("$") && !line.equals("$-1")) {
        int n = Integer.parseInt(line.substring(1));
        in.readNBytes(n + 2);
      } else if (!line.startsWith("+") && !line.equals("$-1")) {
        throw new IOException("unexpected reply " + line.toLowerCase(Locale.ROOT));
      }
    }

    private static String readLine(InputStream in) throws IOException {
      StringBuilder b = new StringBuilder();
      int c;
      while ((c = in.read()) != '\n') {
        if (c < 0) {
          throw new IOException("connection closed");
        }
        if (c != '\r') {
          b.append((char) c);
        }
      }
      return b.toString();
    }

    @Override
    public void close() throws Exception {
      running.set(false);
      loop.get(10, TimeUnit.SECONDS);
    }
  }
}
