package dev.tapflow.stream.topology;

import static dev.tapflow.stream.topology.Conn.MS;
import static dev.tapflow.stream.topology.Conn.batch;
import static dev.tapflow.stream.topology.Conn.resp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.capture.BatchListener;
import dev.tapflow.capture.CaptureFileImporter;
import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.LatencyHistograms;
import dev.tapflow.schemas.LatencyWindow;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Latency windows in the real topology: the windows published equal what a plain
 * computation over the facts the same run published gives (counters exactly, percentiles
 * within HdrHistogram's stated precision); windows close by stream time after the TIMEOUT
 * window plus the grace; a late fact within the grace is counted, a later one is dropped,
 * counted and reported.
 */
class LatencyWindowTopologyTest {

  /** 2024-01-01T00:00:00Z: a minute boundary. */
  private static final long T0 = 1_704_067_200_000L * MS;
  private static final long S = 1000 * MS;
  private static final Path PCAPS = Path.of("src", "test", "resources", "pcap", "redis");

  @TempDir
  Path stateDir;

  private TopologyTestDriver driver;
  private TestInputTopic<byte[], SegmentBatch> segments;
  private TestOutputTopic<byte[], LatencyFact> facts;
  private TestOutputTopic<byte[], LatencyWindow> windows;
  private TestOutputTopic<byte[], DecodeError> errors;
  private LatencyWindowCounters counters;

  private void start(LatencyWindowConfig windowConfig) {
    ProcessorConfig config = ProcessorConfig.defaults().withWindow(Duration.ofSeconds(60));
    Properties props = TapflowTopology.baseProperties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "latency-window-test");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    counters = new LatencyWindowCounters();
    driver = new TopologyTestDriver(
        TapflowTopology.build(config, new ConnectionEngine(config), windowConfig, counters), props);
    segments = driver.createInputTopic(config.segmentsTopic(), new ByteArraySerializer(),
        AvroSerde.segmentBatch().serializer());
    facts = driver.createOutputTopic(config.factsTopic(), new ByteArrayDeserializer(),
        AvroSerde.latencyFact().deserializer());
    windows = driver.createOutputTopic(windowConfig.topic(), new ByteArrayDeserializer(),
        AvroSerde.latencyWindow().deserializer());
    errors = driver.createOutputTopic(config.decodeErrorsTopic(), new ByteArrayDeserializer(),
        AvroSerde.decodeError().deserializer());
  }

  @AfterEach
  void stop() {
    if (driver != null) {
      driver.close();
    }
  }

  @Test
  void windowsOfRealCapturesEqualAComputationOverTheirFacts() throws Exception {
    start(LatencyWindowConfig.defaults().withSize(Duration.ofSeconds(10)));
    for (String name : List.of("benchmark-plain", "benchmark-pipelined", "redis-cli-session")) {
      new CaptureFileImporter().importFile(PCAPS.resolve(name + ".pcap"), name, new BatchListener() {
        @Override
        public void onBatch(ConnectionKey key, SegmentBatch batch) {
          segments.pipeInput(AvroSerde.connectionKey().encode(key), batch, BatchListener.timestampMs(batch));
        }

        @Override
        public void onEndOfCapture(String agent, long lastTsNs) {
          segments.pipeInput(AvroSerde.connectionKey().encode(KafkaSegmentPublisher.endOfCaptureKey(agent)),
              Conn.endOfCapture(lastTsNs), Math.floorDiv(lastTsNs, MS));
        }
      });
    }
    List<LatencyFact> all = facts.readValuesToList();
    List<LatencyWindow> out = windows.readValuesToList();
    assertTrue(all.size() > 3000, "facts: " + all.size());

    Map<String, Expected> expected = new TreeMap<>();
    for (LatencyFact f : all) {
      long start = Math.floorDiv(f.getRequestFirstNs(), 10 * S) * 10 * S;
      expected.computeIfAbsent(String.join("|", f.getAgent(), f.getProtocol(), f.getServerIp(),
          Integer.toString(f.getServerPort()), f.getCommand(), Long.toString(start)), k -> new Expected()).add(f);
    }
    Map<String, LatencyWindow> got = new TreeMap<>();
    for (LatencyWindow w : out) {
      String k = String.join("|", w.getAgent(), w.getProtocol(), w.getServerIp(), Integer.toString(w.getServerPort()),
          w.getCommand(), Long.toString(w.getWindowStartNs()));
      assertNull(got.put(k, w), "one part per window in a one-partition run: " + k);
      assertEquals(10_000, w.getWindowSizeMs());
      assertEquals(0, w.getPart());
    }
    assertEquals(expected.keySet(), got.keySet(), "one window per group and 10 s of request time");
    int percentilesChecked = 0;
    for (Map.Entry<String, Expected> e : expected.entrySet()) {
      Expected x = e.getValue();
      LatencyWindow w = got.get(e.getKey());
      assertEquals(x.count, w.getCount(), e.getKey());
      assertEquals(x.errors, w.getErrors(), e.getKey());
      assertEquals(x.timeouts, w.getTimeouts(), e.getKey());
      assertEquals(x.requestBytes, w.getRequestBytes(), e.getKey());
      assertEquals(x.responseBytes, w.getResponseBytes(), e.getKey());
      assertEquals(x.latencies.size(), w.getLatencyCount(), e.getKey());
      assertEquals(x.latencies.stream().mapToLong(Long::longValue).sum(), w.getLatencySumNs(), e.getKey());
      Histogram h = LatencyHistograms.decode(w.getHistogram());
      assertEquals(x.latencies.size(), h.getTotalCount(), e.getKey());
      if (x.latencies.isEmpty()) {
        assertNull(w.getLatencyMaxNs());
        continue;
      }
      long[] sorted = x.latencies.stream().mapToLong(Long::longValue).sorted().toArray();
      assertEquals(sorted[0], w.getLatencyMinNs(), e.getKey());
      assertEquals(sorted[sorted.length - 1], w.getLatencyMaxNs(), e.getKey());
      for (double p : new double[] {50, 90, 99, 99.9, 100}) {
        assertWithinPrecision(nearestRank(sorted, p), h.getValueAtPercentile(p), e.getKey() + " p" + p);
        percentilesChecked++;
      }
    }
    System.out.printf("%d facts, %d windows, %d percentiles checked%n", all.size(), out.size(), percentilesChecked);
    assertTrue(percentilesChecked > 50, "percentiles checked: " + percentilesChecked);
    assertEquals(all.size(), counters.factsCounted());
    assertEquals(0, counters.lateFactsDropped());
    assertEquals(out.size(), counters.windowsEmitted());
  }

  @Test
  void aWindowClosesAfterTheTimeoutWindowAndTheGraceWithItsTimeouts() {
    start(LatencyWindowConfig.defaults()); // 1 min windows, 10 s grace; TIMEOUT window 60 s
    Conn c = new Conn("host1", 5, 50000, 6379);
    pipe(c, batch(c.client(T0 + S, resp("GET", "a")), c.server(T0 + S + 300_000, "$-1\r\n")));
    pipe(c, batch(c.client(T0 + 2 * S, resp("GET", "b")), c.server(T0 + 2 * S + 700_000, "$1\r\nx\r\n")));
    Conn silent = new Conn("host1", 6, 50001, 6379);
    pipe(silent, batch(silent.client(T0 + 50 * S, resp("GET", "never"))));
    Conn clock = new Conn("host1", 7, 50002, 6379);
    // the window [T0, T0+60s) closes at stream time T0 + 60 + 60 + 10 s
    for (long t = 60; t <= 125; t += 5) {
      pipe(clock, batch(clock.client(T0 + t * S, resp("PING")), clock.server(T0 + t * S + 100_000, "+PONG\r\n")));
      assertTrue(windows.readValuesToList().stream().noneMatch(w -> w.getWindowStartNs() == T0),
          "open at " + t + " s");
    }
    pipe(clock, batch(clock.client(T0 + 130 * S, resp("PING")), clock.server(T0 + 130 * S + 100_000, "+PONG\r\n")));
    List<LatencyWindow> closed = windows.readValuesToList();
    LatencyWindow get = closed.stream().filter(w -> w.getWindowStartNs() == T0 && w.getCommand().equals("GET"))
        .findFirst().orElseThrow();
    assertEquals(3, get.getCount());
    assertEquals(1, get.getTimeouts(), "the unanswered GET, timed out at 110 s, is in its request's window");
    assertEquals(2, get.getLatencyCount());
    assertEquals(300_000L, get.getLatencyMinNs());
    assertEquals(700_000L, get.getLatencyMaxNs());
    assertEquals("10.0.1.1", get.getServerIp());
    assertEquals(6379, get.getServerPort());
    assertEquals("redis", get.getProtocol());
    assertTrue(closed.stream().noneMatch(w -> w.getWindowStartNs() > T0), "later windows stay open");
  }

  @Test
  void aLateFactWithinTheGraceCountsALaterOneIsDroppedCountedAndReported() {
    start(LatencyWindowConfig.defaults().withGrace(Duration.ofSeconds(20))); // closes at T0 + 140 s
    Conn clock = new Conn("host1", 7, 50002, 6379);
    pipe(clock, batch(clock.client(T0 + 10 * S, resp("SET", "k", "v")), clock.server(T0 + 10 * S + 200_000, "+OK\r\n")));
    pipe(clock, batch(clock.client(T0 + 135 * S, resp("PING")), clock.server(T0 + 135 * S + 100_000, "+PONG\r\n")));
    // segments captured at 30 s arrive now, at stream time 135 s: inside the grace
    Conn late = new Conn("host1", 8, 50003, 6379);
    pipe(late, batch(late.client(T0 + 30 * S, resp("SET", "k", "w")), late.server(T0 + 30 * S + 900_000, "+OK\r\n")));
    assertTrue(windows.isEmpty());
    pipe(clock, batch(clock.client(T0 + 140 * S, resp("PING")), clock.server(T0 + 140 * S + 100_000, "+PONG\r\n")));
    LatencyWindow set = windows.readValuesToList().stream()
        .filter(w -> w.getWindowStartNs() == T0 && w.getCommand().equals("SET")).findFirst().orElseThrow();
    assertEquals(2, set.getCount(), "the fact within the grace is in the window");
    assertEquals(900_000L, set.getLatencyMaxNs());
    assertEquals(0, counters.lateFactsDropped());

    // and now, after the window was published, two more from 40 s
    Conn later = new Conn("host1", 9, 50004, 6379);
    pipe(later, batch(later.client(T0 + 40 * S, resp("SET", "k", "x")), later.server(T0 + 40 * S + 100_000, "+OK\r\n"),
        later.client(T0 + 41 * S, resp("SET", "k", "y")), later.server(T0 + 41 * S + 100_000, "+OK\r\n")));
    assertEquals(2, counters.lateFactsDropped());
    assertEquals(2, facts.readValuesToList().stream().filter(f -> f.getRequestFirstNs() >= T0 + 40 * S
        && f.getRequestFirstNs() < T0 + 42 * S).count(), "late facts are still facts");
    pipe(clock, batch(clock.client(T0 + 145 * S, resp("PING")), clock.server(T0 + 145 * S + 100_000, "+PONG\r\n")));
    List<DecodeError> anomalies = errors.readValuesToList().stream()
        .filter(e -> e.getName().equals(LatencyWindowProcessor.LATE_FACTS)).toList();
    assertEquals(1, anomalies.size(), "one report per window that lost facts");
    assertTrue(anomalies.get(0).getDetail().startsWith("2 SET facts of the window starting 2024-01-01T00:00:00Z"),
        anomalies.get(0).getDetail());
    assertEquals("10.0.0.9", anomalies.get(0).getClientIp());
    assertFalse(windows.readValuesToList().stream().anyMatch(w -> w.getWindowStartNs() == T0),
        "an emitted window is never emitted again");
  }

  @Test
  void endOfCaptureEmitsTheAgentsWindowsAtOnce() {
    start(LatencyWindowConfig.defaults());
    Conn a = new Conn("agent-a", 5, 50000, 6379);
    Conn b = new Conn("agent-b", 5, 50000, 6379);
    pipe(a, batch(a.client(T0 + S, resp("GET", "a")), a.server(T0 + S + 300_000, "$-1\r\n")));
    pipe(b, batch(b.client(T0 + S, resp("GET", "a")), b.server(T0 + S + 300_000, "$-1\r\n")));
    pipe(a, batch(a.client(T0 + 2 * S, resp("GET", "pending"))));
    segments.pipeInput(AvroSerde.connectionKey().encode(KafkaSegmentPublisher.endOfCaptureKey("agent-a")),
        Conn.endOfCapture(T0 + 3 * S), (T0 + 3 * S) / MS);
    List<LatencyWindow> out = windows.readValuesToList();
    assertEquals(1, out.size(), "agent-b's window stays open");
    assertEquals("agent-a", out.get(0).getAgent());
    assertEquals(2, out.get(0).getCount());
    assertEquals(1, out.get(0).getTimeouts(), "the request pending at the end of capture");
  }

  private void pipe(Conn c, SegmentBatch b) {
    segments.pipeInput(c.keyBytes, b, b.getSegments().get(0).getTsNs() / MS);
  }

  /** HdrHistogram's percentile: the smallest recorded value with at least p% of values at or below it. */
  static long nearestRank(long[] sorted, double p) {
    long rank = Math.max(1, (long) Math.ceil(p / 100 * sorted.length));
    return sorted[(int) Math.min(sorted.length, rank) - 1];
  }

  /** Read back from the histogram, a value is within its stated relative precision. */
  static void assertWithinPrecision(long exact, long fromHistogram, String what) {
    double tolerance = Math.max(1, exact * LatencyHistograms.RELATIVE_ERROR);
    assertTrue(Math.abs(fromHistogram - exact) <= tolerance,
        what + ": exact " + exact + ", histogram " + fromHistogram + " (tolerance " + tolerance + ")");
  }

  private static final class Expected {
    long count;
    long errors;
    long timeouts;
    long requestBytes;
    long responseBytes;
    final List<Long> latencies = new ArrayList<>();

    void add(LatencyFact f) {
      count++;
      errors += f.getStatus() == Status.ERROR ? 1 : 0;
      timeouts += f.getStatus() == Status.TIMEOUT ? 1 : 0;
      requestBytes += f.getRequestBytes();
      responseBytes += f.getResponseBytes();
      if (f.getLatencyNs() != null) {
        latencies.add(f.getLatencyNs());
      }
    }
  }
}
