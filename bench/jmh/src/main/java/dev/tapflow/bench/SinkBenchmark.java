package dev.tapflow.bench;

import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Status;
import dev.tapflow.schemas.Transport;
import dev.tapflow.sink.FactSink;
import dev.tapflow.sink.JdbcFactWriter;
import dev.tapflow.sink.TapflowSchema;
import dev.tapflow.stream.ProcessorApp;
import dev.tapflow.stream.topology.LatencyWindowConfig;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

/**
 * The sink's figures, on the embedded PostgreSQL (and broker) of {@code tapflow local}:
 *
 * <ol>
 *   <li>rows/s of {@link JdbcFactWriter} for each method (multi-row INSERT, COPY through a
 *       staging table), new facts in transactions of 5000 as the sink writes them, into a
 *       table partitioned by day; and the same facts again (every id already stored);
 *   <li>freshness under a steady load: synthetic Redis request/response segments with
 *       capture time = now are published at a fixed rate through the in-JVM broker, the
 *       stream processor (exactly_once_v2) and the sink; freshness is the time from a
 *       response's capture to the commit that made its fact visible in PostgreSQL
 *       ({@link FactSink#freshness()}).
 * </ol>
 *
 * <pre>SinkBenchmark WORKDIR [FACTS [RATE,RATE... [SECONDS]]]</pre>
 * Run by {@code bench/sink.sh}.
 */
public final class SinkBenchmark {
  private static final long T0 = Instant.parse("2026-11-23T10:00:00Z").getEpochSecond() * 1_000_000_000L;
  private static final int TX = 5000;

  private SinkBenchmark() {}

  public static void main(String[] args) throws Exception {
    Path work = Path.of(args.length > 0 ? args[0] : "target/sink-bench");
    int n = args.length > 1 ? Integer.parseInt(args[1]) : 200_000;
    int[] rates = args.length > 2 ? Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray()
        : new int[] {1000, 5000};
    int seconds = args.length > 3 ? Integer.parseInt(args[3]) : 20;
    Files.createDirectories(work);
    try (EmbeddedPostgres pg = EmbeddedPostgres.start(work.resolve("postgres-" + System.nanoTime()))) {
      writerThroughput(pg, n);
      try (EmbeddedKafka kafka = EmbeddedKafka.start(work.resolve("kafka-" + System.nanoTime()))) {
        for (int rate : rates) {
          freshness(pg, kafka, work, rate, seconds);
        }
      }
    }
  }

  // ---------------------------------------------------------------- 1. rows/s

  private static void writerThroughput(EmbeddedPostgres pg, int n) throws Exception {
    List<LatencyFact> facts = facts(n);
    System.out.printf(Locale.ROOT, "Facts into PostgreSQL %s (embedded, synchronous_commit on), %d facts,"
        + " %d per transaction, 3 runs each (median)%n", version(pg), n, TX);
    System.out.printf(Locale.ROOT, "  %-22s %12s %14s%n", "method", "new rows/s", "replayed rows/s");
    int round = 0;
    for (JdbcFactWriter.Method m : JdbcFactWriter.Method.values()) {
      double[] fresh = new double[3];
      double[] again = new double[3];
      for (int r = 0; r < 3; r++) {
        String schema = "bench_" + m.name().toLowerCase(Locale.ROOT) + "_" + (round++);
        String url = pg.jdbcUrl() + "?currentSchema=" + schema;
        try (Connection c = pg.connect(); Statement s = c.createStatement()) {
          s.execute("CREATE SCHEMA " + schema);
        }
        TapflowSchema.migrate(url, pg.connectionProperties());
        JdbcFactWriter writer = new JdbcFactWriter(m, JdbcFactWriter.DEFAULT_ROWS_PER_STATEMENT);
        try (Connection c = java.sql.DriverManager.getConnection(url, pg.connectionProperties())) {
          c.setAutoCommit(false);
          fresh[r] = write(c, writer, facts, n);
          again[r] = write(c, writer, facts, 0);
        }
      }
      Arrays.sort(fresh);
      Arrays.sort(again);
      String label = m == JdbcFactWriter.Method.INSERT
          ? "INSERT, " + JdbcFactWriter.DEFAULT_ROWS_PER_STATEMENT + " rows/stmt" : "COPY + INSERT SELECT";
      System.out.printf(Locale.ROOT, "  %-22s %12.0f %14.0f%n", label, fresh[1], again[1]);
    }
  }

  private static double write(Connection c, JdbcFactWriter writer, List<LatencyFact> facts, int expected)
      throws Exception {
    long t0 = System.nanoTime();
    long inserted = 0;
    for (int from = 0; from < facts.size(); from += TX) {
      inserted += writer.insert(c, facts.subList(from, Math.min(facts.size(), from + TX)));
      c.commit();
    }
    double s = (System.nanoTime() - t0) / 1e9;
    if (inserted != expected) {
      throw new IllegalStateException("inserted " + inserted + ", expected " + expected);
    }
    return facts.size() / s;
  }

  /** Facts shaped like redis-benchmark's: 50 clients, GET/SET on random keys, over two days. */
  static List<LatencyFact> facts(int n) {
    Random r = new Random(42);
    List<LatencyFact> out = new ArrayList<>(n);
    String[] commands = {"GET", "SET", "INCR", "LPUSH", "LPOP"};
    for (int i = 0; i < n; i++) {
      long first = T0 + (long) i * 1_000_000_000L * 172_800 / n; // spread over two days
      long latency = 20_000 + (long) (Math.abs(r.nextGaussian()) * 80_000);
      out.add(LatencyFact.newBuilder()
          .setId(Long.toHexString(r.nextLong()) + Long.toHexString(r.nextLong()))
          .setAgent("bench").setProtocol("redis").setVantage("client")
          .setClientIp("10.0.0." + (1 + i % 50)).setClientPort(40_000 + i % 50)
          .setServerIp("10.0.1.1").setServerPort(6379)
          .setCommand(commands[i % commands.length]).setResource("key:" + r.nextInt(100_000))
          .setStatus(Status.OK)
          .setRequestFirstNs(first).setRequestLastNs(first + 1_000)
          .setResponseFirstNs(first + 1_000 + latency).setResponseLastNs(first + 1_500 + latency)
          .setLatencyNs(latency).setRequestBytes(45).setResponseBytes(5).setRequestOffset(i * 45L)
          .setArgs("key:" + r.nextInt(100_000))
          .build());
    }
    return out;
  }

  private static String version(EmbeddedPostgres pg) throws Exception {
    try (Connection c = pg.connect(); Statement s = c.createStatement();
         var rs = s.executeQuery("SHOW server_version")) {
      rs.next();
      return rs.getString(1);
    }
  }

  // ---------------------------------------------------------------- 2. freshness

  private static void freshness(EmbeddedPostgres pg, EmbeddedKafka kafka, Path work, int rate, int seconds)
      throws Exception {
    String suffix = "r" + rate + "-" + System.nanoTime();
    ProcessorConfig config = ProcessorConfig.defaults().withTopics("segments." + suffix, "facts." + suffix,
        "errors." + suffix);
    LatencyWindowConfig windows = LatencyWindowConfig.defaults().withTopic("windows." + suffix);
    Properties admin = new Properties();
    admin.put("bootstrap.servers", kafka.bootstrapServers());
    try (Admin a = Admin.create(admin)) {
      a.createTopics(List.of(new NewTopic(config.segmentsTopic(), 4, (short) 1),
          new NewTopic(config.factsTopic(), 4, (short) 1), new NewTopic(config.decodeErrorsTopic(), 4, (short) 1),
          new NewTopic(windows.topic(), 4, (short) 1))).all().get();
    }
    String schema = "fresh_" + rate;
    try (Connection c = pg.connect(); Statement s = c.createStatement()) {
      s.execute("CREATE SCHEMA IF NOT EXISTS " + schema);
    }
    String url = pg.jdbcUrl() + "?currentSchema=" + schema;
    Properties consumer = new Properties();
    consumer.put("bootstrap.servers", kafka.bootstrapServers());
    consumer.put("group.id", "sink-" + suffix);
    try (ProcessorApp processor = new ProcessorApp(config, windows, kafka.bootstrapServers(), "bench-" + suffix,
             work.resolve("streams-" + suffix), Map.of()).start();
         FactSink sink = FactSink.builder(consumer, url, pg.connectionProperties()).topic(config.factsTopic())
             .latencyWindowsTopic(windows.topic()).build().start();
         KafkaSegmentPublisher publisher = new KafkaSegmentPublisher(kafka.bootstrapServers(), config.segmentsTopic(),
             Map.of("linger.ms", "1"))) {
      // warm up until both roles are running, then measure from a clean histogram
      Load load = new Load(publisher, 64);
      long warmupEnd = System.nanoTime() + 8_000_000_000L;
      while (System.nanoTime() < warmupEnd) {
        load.send(rate / 10);
        Thread.sleep(100);
      }
      publisher.flush();
      if (!sink.awaitCaughtUp(Duration.ofSeconds(60))) {
        throw new IllegalStateException("sink did not catch up: " + sink.status());
      }
      Histogram before = sink.freshness();
      long storedBefore = sink.factsStored();
      long start = System.nanoTime();
      long sent = 0;
      for (int tick = 1; tick <= seconds * 100; tick++) { // 10 ms ticks
        long due = (long) rate * tick / 100;
        load.send((int) (due - sent));
        sent = due;
        long sleep = start + tick * 10_000_000L - System.nanoTime();
        if (sleep > 0) {
          Thread.sleep(sleep / 1_000_000, (int) (sleep % 1_000_000));
        }
      }
      publisher.flush();
      long deadline = System.nanoTime() + 60_000_000_000L;
      while (sink.factsStored() - storedBefore < sent && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      double wall = (System.nanoTime() - start) / 1e9;
      Histogram h = sink.freshness();
      h.subtract(before);
      System.out.printf(Locale.ROOT, "Freshness at %d requests/s for %d s (%d facts stored, %.0f/s): capture to row"
              + " visible p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms%n", rate, seconds,
          sink.factsStored() - storedBefore, (sink.factsStored() - storedBefore) / wall,
          h.getValueAtPercentile(50) / 1e6, h.getValueAtPercentile(90) / 1e6, h.getValueAtPercentile(99) / 1e6,
          h.getMaxValue() / 1e6);
    }
  }

  /** Redis SET request/response pairs on a fixed set of connections, captured "now". */
  private static final class Load {
    private final KafkaSegmentPublisher publisher;
    private final ConnectionKey[] keys;
    private final long[] clientSeq;
    private final long[] serverSeq;
    private long packetNo;
    private int next;

    Load(KafkaSegmentPublisher publisher, int connections) {
      this.publisher = publisher;
      this.keys = new ConnectionKey[connections];
      this.clientSeq = new long[connections];
      this.serverSeq = new long[connections];
      for (int i = 0; i < connections; i++) {
        keys[i] = ConnectionKey.newBuilder().setAgent("bench").setTransport(Transport.TCP)
            .setIpA(ByteBuffer.wrap(new byte[] {10, 0, 0, 1})).setPortA(40_000 + i)
            .setIpB(ByteBuffer.wrap(new byte[] {10, 0, 1, 1})).setPortB(6379).build();
        clientSeq[i] = 1000;
        serverSeq[i] = 9000;
      }
    }

    void send(int pairs) {
      for (int p = 0; p < pairs; p++) {
        int i = next++ % keys.length;
        Instant now = Instant.now();
        long t = now.getEpochSecond() * 1_000_000_000L + now.getNano();
        String key = "key:" + packetNo;
        byte[] req = ("*3\r\n$3\r\nSET\r\n$" + key.length() + "\r\n" + key + "\r\n$1\r\nv\r\n")
            .getBytes(StandardCharsets.US_ASCII);
        byte[] resp = "+OK\r\n".getBytes(StandardCharsets.US_ASCII);
        Segment a = segment(true, t, clientSeq[i], serverSeq[i], req);
        clientSeq[i] += req.length;
        Segment b = segment(false, t + 150_000, serverSeq[i], clientSeq[i], resp);
        serverSeq[i] += resp.length;
        publisher.onBatch(keys[i], SegmentBatch.newBuilder().setSegments(new ArrayList<>(List.of(a, b))).build());
      }
    }

    private Segment segment(boolean aToB, long t, long seq, long ack, byte[] payload) {
      return Segment.newBuilder().setTsNs(t).setAToB(aToB).setSeq(seq).setAck(ack).setFlags(0x18)
          .setPayload(ByteBuffer.wrap(payload)).setPayloadLen(payload.length).setWireLen(payload.length + 54)
          .setPacketNo(++packetNo).build();
    }
  }
}
