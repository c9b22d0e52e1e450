package dev.tapflow.capture.live;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import dev.tapflow.capture.IpFragmentReassembler;
import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.CaptureStats;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.InterfaceCaptureStats;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Transport;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Live capture on the loopback interface of this machine (root, as in CI): real packets sent
 * by this test, read from the kernel ring, published through a mock producer and decoded
 * back with AvroSerde. Loopback shows each packet twice to a packet socket; the counters
 * must say each packet once.
 */
class LiveCaptureTest {
  static final String SEGMENTS = KafkaSegmentPublisher.DEFAULT_TOPIC;
  static final AvroSerde<CaptureStats> STATS = AvroSerde.of(CaptureStats.getClassSchema());

  @BeforeAll
  static void root() {
    assumeTrue("root".equals(System.getProperty("user.name")), "live capture needs root (CI runs as root)");
  }

  static LiveCapture.Settings settings(String filter) {
    // the agent's default buffer (8 MiB): 1 MiB is two 512 KiB blocks at this snaplen, and a burst of 500
    // datagrams at a capture thread still loading its classes (a fresh machine's first build) lost one
    return new LiveCapture.Settings("live-test", List.of("lo"), filter, 262_144, 8 << 20, 20, false,
        Duration.ofMillis(200), LiveCapture.Settings.agentBatching(), IpFragmentReassembler.Options.defaults(),
        Duration.ofSeconds(5), LiveCapture.STATS_TOPIC);
  }

  /** Runs a capture on a thread; returns its final report through the future. */
  static CompletableFuture<CaptureStats> start(LiveCapture capture, List<CaptureStats> reports) {
    CompletableFuture<CaptureStats> done = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try {
        done.complete(capture.run(reports::add));
      } catch (Throwable e) {
        done.completeExceptionally(e);
      }
    }, "live-capture-test");
    t.start();
    return done;
  }

  static void await(java.util.function.BooleanSupplier condition, java.util.function.Supplier<String> what)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      assertTrue(System.nanoTime() < deadline, () -> "timed out waiting for " + what.get());
      Thread.sleep(20);
    }
  }

  @Test
  void udpAndTcpOnLoopbackArriveWholeWithNanosecondTimesAndTrueCounters() throws Exception {
    LivePublisherTest.Refusing producer = new LivePublisherTest.Refusing(true);
    try (DatagramSocket server = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        DatagramSocket client = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        ServerSocket tcpServer = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      int udpPort = server.getLocalPort();
      int tcpPort = tcpServer.getLocalPort();
      LiveCapture capture = LiveCapture.open(settings("udp port " + udpPort + " or tcp port " + tcpPort),
          new LivePublisher(producer, SEGMENTS, 1 << 20));
      List<CaptureStats> reports = new ArrayList<>();
      CompletableFuture<CaptureStats> done = start(capture, reports);

      long before = System.currentTimeMillis() * 1_000_000L;
      int n = 500;
      List<String> sent = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        String msg = "datagram " + i + " " + "x".repeat(i % 200);
        sent.add(msg);
        byte[] b = msg.getBytes(StandardCharsets.US_ASCII);
        client.send(new DatagramPacket(b, b.length, InetAddress.getLoopbackAddress(), udpPort));
      }
      // one TCP connection: handshake, request, reply, FIN both ways
      CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
        try (Socket s = tcpServer.accept(); InputStream in = s.getInputStream(); OutputStream out = s.getOutputStream()) {
          in.readNBytes(5);
          out.write("world".getBytes(StandardCharsets.US_ASCII));
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      try (Socket s = new Socket(InetAddress.getLoopbackAddress(), tcpPort)) {
        s.getOutputStream().write("hello".getBytes(StandardCharsets.US_ASCII));
        assertEquals("world", new String(s.getInputStream().readNBytes(5), StandardCharsets.US_ASCII));
      }
      served.get(5, TimeUnit.SECONDS);
      long after = System.currentTimeMillis() * 1_000_000L + 1_000_000L;
      await(() -> capture.latest().getSegments() >= n + 6, () -> "the segments: " + capture.latest());
      Thread.sleep(100);
      capture.stop();
      CaptureStats last = done.get(20, TimeUnit.SECONDS);
      capture.close();

      InterfaceCaptureStats lo = last.getInterfaces().get(0);
      assertEquals("lo", lo.getName());
      assertEquals("EN10MB", lo.getLinkType());
      assertEquals(0, lo.getKernelDrops());
      assertEquals(last.getPackets(), lo.getPackets());
      assertEquals(lo.getPackets(), lo.getReceived(), "loopback: each packet counted once, not twice");
      assertTrue(last.getFinal$());
      assertEquals(last.getPackets(), last.getSegments() + last.getSkipped().values().stream().mapToLong(Long::longValue).sum());
      assertEquals(last.getSegments(), last.getPublishedSegments());
      assertEquals(0, last.getBacklogDropSegments() + last.getProducerErrorSegments() + last.getInFlightSegments());
      assertEquals(2, last.getEndOfCapturePartitions(), "the mock cluster has two partitions");

      // what the producer got: batches of the UDP flow and of the TCP connection, then the markers
      List<Segment> udp = new ArrayList<>();
      List<Segment> tcp = new ArrayList<>();
      int markers = 0;
      List<CaptureStats> published = new ArrayList<>();
      for (ProducerRecord<byte[], byte[]> r : producer.history()) {
        if (r.topic().equals(LiveCapture.STATS_TOPIC)) {
          published.add(STATS.decode(r.value()));
          assertEquals("live-test", new String(r.key(), StandardCharsets.UTF_8));
          continue;
        }
        ConnectionKey key = AvroSerde.connectionKey().decode(r.key());
        SegmentBatch batch = AvroSerde.segmentBatch().decode(r.value());
        assertEquals("live-test", key.getAgent());
        if (batch.getEndOfCapture()) {
          markers++;
          assertEquals(KafkaSegmentPublisher.endOfCaptureKey("live-test"), key);
          continue;
        }
        assertEquals(Math.floorDiv(batch.getSegments().get(0).getTsNs(), 1_000_000L), r.timestamp());
        (key.getTransport() == Transport.UDP ? udp : tcp).addAll(batch.getSegments());
      }
      assertEquals(2, markers);
      assertEquals(n, udp.size());
      boolean subMicro = false;
      long prevTs = 0;
      for (int i = 0; i < n; i++) {
        Segment s = udp.get(i);
        byte[] p = new byte[s.getPayload().remaining()];
        s.getPayload().duplicate().get(p);
        assertEquals(sent.get(i), new String(p, StandardCharsets.US_ASCII), "datagram " + i + " in order, whole");
        assertTrue(s.getTsNs() >= before && s.getTsNs() <= after, "capture time is wall-clock time");
        assertTrue(s.getTsNs() >= prevTs);
        prevTs = s.getTsNs();
        subMicro |= s.getTsNs() % 1000 != 0;
        assertEquals(p.length + 42, s.getWireLen(), "Ethernet 14 + IPv4 20 + UDP 8");
      }
      assertTrue(subMicro, "nanosecond timestamps");
      assertEquals(6, tcp.size(), "SYN, SYN-ACK, hello, world, FIN, FIN; pure ACKs are not published");
      assertEquals(0x02, tcp.get(0).getFlags());
      assertTrue(published.size() >= 2, "reports every 200 ms, and the final one");
      assertTrue(published.get(published.size() - 1).getFinal$());
      assertTrue(reports.get(reports.size() - 1).getFinal$());
    }
  }

  @Test
  void setupErrorsAreOneLineAndSayWhatToDo() throws Exception {
    CaptureSetupException e = assertThrows(CaptureSetupException.class, () -> LiveCapture.open(
        new LiveCapture.Settings("a", List.of("nosuch0"), "", 65535, 1 << 20, 100, false, Duration.ofSeconds(1),
            LiveCapture.Settings.agentBatching(), IpFragmentReassembler.Options.defaults(), Duration.ofSeconds(1),
            LiveCapture.STATS_TOPIC), new LivePublisher(null, SEGMENTS, 0)));
    assertTrue(e.getMessage().startsWith("no such interface: nosuch0 (available: "), e.getMessage());
    assertTrue(e.getMessage().contains("lo"), e.getMessage());

    e = assertThrows(CaptureSetupException.class,
        () -> LiveCapture.open(settings("tcp port"), new LivePublisher(null, SEGMENTS, 0)));
    assertTrue(e.getMessage().startsWith("--filter 'tcp port': ") && e.getMessage().endsWith("syntax error"), e.getMessage());

    e = assertThrows(CaptureSetupException.class, () -> Libpcap.open("tapflow-no-such-libpcap"));
    assertTrue(e.getMessage().startsWith("libpcap is not installed or cannot be loaded"), e.getMessage());
    assertTrue(e.getMessage().contains("apt-get install libpcap0.8"), e.getMessage());
  }

  /** Drops capabilities from the calling thread only (Linux capabilities are per thread). */
  interface CapLib extends Library {
    int capget(Pointer header, Pointer data);

    int capset(Pointer header, Pointer data);
  }

  static void dropFromThisThread(int... caps) {
    CapLib c = Native.load("c", CapLib.class);
    Memory header = new Memory(8);
    header.setInt(0, 0x20080522); // _LINUX_CAPABILITY_VERSION_3
    header.setInt(4, 0); // this thread
    Memory data = new Memory(24); // 2 x {effective, permitted, inheritable}
    assertEquals(0, c.capget(header, data));
    int eff = data.getInt(0);
    for (int cap : caps) {
      eff &= ~(1 << cap);
    }
    data.setInt(0, eff);
    assertEquals(0, c.capset(header, data));
  }

  @Test
  void withoutCapNetRawTheErrorNamesIt() throws Exception {
    AtomicReference<Throwable> thrown = new AtomicReference<>();
    Thread t = new Thread(() -> {
      dropFromThisThread(Capabilities.CAP_NET_RAW, Capabilities.CAP_NET_ADMIN);
      try {
        LiveCapture.open(settings(""), new LivePublisher(null, SEGMENTS, 0)).close();
      } catch (Throwable e) {
        thrown.set(e);
      }
    });
    t.start();
    t.join();
    Throwable e = thrown.get();
    assertInstanceOf(CaptureSetupException.class, e);
    assertTrue(e.getMessage().startsWith("cannot capture on lo: live capture needs CAP_NET_RAW, which this process does not have"),
        e.getMessage());
    assertTrue(e.getMessage().contains("setcap cap_net_raw+ep"), e.getMessage());
    assertFalse(e.getMessage().contains("\n"));
  }

  @Test
  void anInterfaceThatGoesDownIsWaitedForAndOneThatDisappearsEndsTheCapture() throws Exception {
    String a = "tfcap" + ProcessHandle.current().pid() % 100000;
    String b = a + "p";
    ip("link", "add", a, "type", "veth", "peer", "name", b);
    try {
      ip("link", "set", a, "up");
      ip("link", "set", b, "up");
      LiveCapture capture = LiveCapture.open(new LiveCapture.Settings("a", List.of(a), "", 65535, 1 << 20, 20, false,
          Duration.ofSeconds(1), LiveCapture.Settings.agentBatching(), IpFragmentReassembler.Options.defaults(),
          Duration.ofSeconds(1), LiveCapture.STATS_TOPIC), new LivePublisher(null, SEGMENTS, 0));
      CompletableFuture<CaptureStats> done = start(capture, new ArrayList<>());
      Thread.sleep(200);
      ip("link", "set", a, "down");
      Thread.sleep(300);
      ip("link", "set", a, "up");
      Thread.sleep(300);
      assertFalse(done.isDone(), "down and up again: capture goes on");
      ip("link", "del", a);
      Exception e = assertThrows(Exception.class, () -> done.get(10, TimeUnit.SECONDS));
      CaptureFailedException failed = assertInstanceOf(CaptureFailedException.class, e.getCause());
      assertEquals("interface " + a + " disappeared", failed.getMessage());
      assertTrue(failed.finalReport().getFinal$());
      capture.close();
    } finally {
      new ProcessBuilder("ip", "link", "del", a).start().waitFor();
    }
  }

  static void ip(String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("ip"));
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
  }
}
