package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tapflow.capture.IpFragmentReassembler;
import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.capture.live.LiveCapture;
import dev.tapflow.capture.live.LivePublisher;
import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.CaptureStats;
import dev.tapflow.schemas.SegmentBatch;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The broker goes away in the middle of a live capture and comes back: the agent keeps
 * capturing, holds what it can in a bounded backlog, drops and counts the rest, resumes
 * publishing when Kafka is back, and at the end every segment it made is accounted for
 * exactly: published (and found in the topic, once) + producer errors + backlog drops.
 */
class LiveBrokerOutageTest {
  static final long BACKLOG = 256 * 1024;

  @TempDir
  Path dir;

  /** TCP traffic on loopback: one connection, a 200-byte message every half millisecond or so. */
  static final class Traffic implements AutoCloseable {
    final ServerSocket server;
    final AtomicBoolean running = new AtomicBoolean(true);
    final AtomicLong messages = new AtomicLong();
    final CompletableFuture<Void> sink;
    final CompletableFuture<Void> source;

    Traffic() throws Exception {
      server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
      sink = CompletableFuture.runAsync(() -> {
        try (Socket s = server.accept(); InputStream in = s.getInputStream()) {
          byte[] b = new byte[8192];
          while (in.read(b) >= 0) {
            // discard
          }
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      source = CompletableFuture.runAsync(() -> {
        byte[] msg = new byte[200];
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort())) {
          s.setTcpNoDelay(true);
          OutputStream out = s.getOutputStream();
          while (running.get()) {
            out.write(msg);
            messages.incrementAndGet();
            java.util.concurrent.locks.LockSupport.parkNanos(400_000);
          }
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
    }

    int port() {
      return server.getLocalPort();
    }

    @Override
    public void close() throws Exception {
      running.set(false);
      source.get(10, TimeUnit.SECONDS);
      sink.get(10, TimeUnit.SECONDS);
      server.close();
    }
  }

  @Test
  void theAgentSurvivesAnOutageWithBoundedMemoryAndAccountsForEverySegment() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "live capture needs root (CI runs as root)");
    Path brokerDir = dir.resolve("kafka");
    EmbeddedKafka broker = EmbeddedKafka.start(brokerDir);
    int port = broker.port();
    String bootstrap = broker.bootstrapServers();
    broker.createTopics(Map.of(KafkaSegmentPublisher.DEFAULT_TOPIC, 2, LiveCapture.STATS_TOPIC, 1));
    List<CaptureStats> reports = new ArrayList<>();
    CaptureStats last;
    long[] publishedAt = new long[3];
    try (Traffic traffic = new Traffic()) {
      Map<String, Object> tight = Map.of(
          "buffer.memory", Long.toString(BACKLOG), "batch.size", "65536",
          "delivery.timeout.ms", "4000", "request.timeout.ms", "1500",
          "reconnect.backoff.max.ms", "500", "retry.backoff.max.ms", "500");
      LivePublisher publisher = LivePublisher.create(bootstrap, tight, KafkaSegmentPublisher.DEFAULT_TOPIC, BACKLOG);
      LiveCapture capture = LiveCapture.open(new LiveCapture.Settings("outage", List.of("lo"),
          "tcp port " + traffic.port(), 65535, 4 << 20, 50, false, Duration.ofMillis(500),
          LiveCapture.Settings.agentBatching(), IpFragmentReassembler.Options.defaults(), Duration.ofSeconds(15),
          LiveCapture.STATS_TOPIC), publisher);
      CompletableFuture<CaptureStats> done = CompletableFuture.supplyAsync(() -> {
        try {
          return capture.run(reports::add);
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      try {
        Thread.sleep(2_000);
        publishedAt[0] = capture.latest().getPublishedSegments();
        broker.close(); // the outage
        long packetsAtOutage = capture.latest().getPackets();
        Thread.sleep(6_000);
        CaptureStats during = capture.latest();
        assertTrue(during.getPackets() > packetsAtOutage + 1000, "capture goes on during the outage: " + during);
        assertTrue(during.getBacklogDropSegments() > 0, "the backlog filled and dropped: " + during);
        publishedAt[1] = during.getPublishedSegments();
        broker = EmbeddedKafka.builder(brokerDir).port(port).start(); // back, same address
        Thread.sleep(4_000);
        publishedAt[2] = capture.latest().getPublishedSegments();
      } finally {
        capture.stop();
        last = done.get(30, TimeUnit.SECONDS);
        capture.close();
      }
    } finally {
      broker.close();
    }
    broker = EmbeddedKafka.builder(brokerDir).port(port).start();
    try {
      System.out.println("published before/during/after the outage: " + java.util.Arrays.toString(publishedAt)
          + "; final report: " + last);
      assertTrue(last.getFinal$());
      assertTrue(publishedAt[0] > 0, "published before the outage");
      assertTrue(publishedAt[2] > publishedAt[1], "published again after it: " + java.util.Arrays.toString(publishedAt));
      assertEquals(0, last.getInFlightSegments(), last.toString());
      assertEquals(0, last.getBacklogSegments(), last.toString());
      assertEquals(last.getSegments(), last.getPublishedSegments() + last.getProducerErrorSegments()
          + last.getBacklogDropSegments(), "published + counted drops == captured: " + last);
      assertTrue(last.getBacklogPeakBytes() <= BACKLOG, "bounded backlog: " + last.getBacklogPeakBytes());
      assertEquals(0, last.getInterfaces().get(0).getKernelDrops());
      assertEquals(last.getPackets(), last.getInterfaces().get(0).getReceived(), "every packet the kernel took was read");
      assertEquals(2, last.getEndOfCapturePartitions());
      for (CaptureStats r : reports) {
        assertTrue(r.getBacklogBytes() <= BACKLOG, "bounded at every report");
      }

      // the topic holds exactly the published segments, each once (idempotent producer)
      long segments = 0;
      int markers = 0;
      Properties p = new Properties();
      p.put("bootstrap.servers", broker.bootstrapServers());
      p.put("group.id", "outage-check");
      p.put("auto.offset.reset", "earliest");
      try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
        c.subscribe(List.of(KafkaSegmentPublisher.DEFAULT_TOPIC));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (markers < 2 && System.nanoTime() < deadline) {
          for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
            SegmentBatch b = AvroSerde.segmentBatch().decode(r.value());
            if (b.getEndOfCapture()) {
              markers++;
            } else {
              segments += b.getSegments().size();
            }
          }
        }
      }
      assertEquals(2, markers, "the end-of-capture marker in both partitions");
      assertEquals(last.getPublishedSegments(), segments, "acknowledged == in the topic");
    } finally {
      broker.close();
    }
  }
}
