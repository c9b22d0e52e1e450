package dev.tapflow.capture.live;

import com.sun.jna.LastErrorException;
import dev.tapflow.capture.CaptureStats;
import dev.tapflow.capture.IpFragmentReassembler;
import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.capture.SegmentBatchEncoder;
import dev.tapflow.capture.SegmentBatcher;
import dev.tapflow.capture.SegmentExtractor;
import dev.tapflow.capture.SkipReason;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.InterfaceCaptureStats;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.VantageSetting;
import dev.tapflow.capture.LocalAddresses;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live capture agent's loop: packet rings on one or more interfaces, read by one thread
 * that also decodes, batches and publishes, so nothing is handed between threads per packet.
 *
 * <pre>
 * PacketRing (per interface: kernel filter, TPACKET_V3 blocks copied out in one go)
 *   -> SegmentExtractor (headers parsed in place, IP fragments reassembled)
 *   -> SegmentBatcher + SegmentBatchEncoder (per connection, Avro bytes written in place)
 *   -> LivePublisher (non-blocking producer, bounded backlog, every record accounted for)
 * </pre>
 *
 * <p>The thread sleeps in {@code poll} on the rings' sockets and wakes when the kernel hands a
 * block over (full, or after the block timeout) or at the timeout: it then reads every ready
 * block, lets wall-clock time flush batches of quiet connections, offers the backlog to the
 * producer again, and every stats interval publishes a {@code CaptureStats} report to
 * {@link #STATS_TOPIC} and refreshes the JMX view ({@link LiveCaptureMXBean}).
 *
 * <p>Stopping ({@link #stop}, from a signal handler): the kernel stops taking packets for the
 * rings, the thread waits for it to hand over the block it was filling (at most one block
 * timeout), so the final counters add up exactly (received = read + kernel drops), flushes
 * every open batch, queues the end-of-capture marker for every partition, waits up to the
 * shutdown timeout for Kafka to acknowledge everything, publishes the final report, and
 * returns it. Whatever Kafka did not take by then is counted, never silently lost.
 */
public final class LiveCapture implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(LiveCapture.class);
  /** Where the agents' reports go. */
  public static final String STATS_TOPIC = "tapflow.capture-stats.v1";

  /** How long to wait for the kernel's partly filled block at shutdown, beyond the block timeout. */
  private static final long DRAIN_GRACE_NANOS = 200_000_000L;
  /** JMX refresh period. */
  private static final long METRICS_NANOS = 1_000_000_000L;
  private static final AvroSerde<dev.tapflow.schemas.CaptureStats> STATS_SERDE =
      AvroSerde.of(dev.tapflow.schemas.CaptureStats.getClassSchema());

  /**
   * What to capture and how.
   *
   * @param agent agent id on every ConnectionKey and report
   * @param interfaces interface names
   * @param filter pcap-filter(7) expression; empty captures everything
   * @param snaplen bytes kept of each packet
   * @param bufferBytes kernel ring size per interface
   * @param blockTimeoutMs the kernel hands a partly filled block over after this long: the
   *     capture's latency and the poll period (immediate mode is off)
   * @param promiscuous put the interfaces in promiscuous mode (needs CAP_NET_ADMIN)
   * @param statsInterval how often a report is published
   * @param batching batch bounds; a batch is flushed by wall-clock time too
   * @param fragments IP reassembly bounds
   * @param shutdownTimeout how long to wait for Kafka at shutdown
   * @param statsTopic where reports go, usually {@link #STATS_TOPIC}
   * @param vantage the side of the connections this agent is on, or AUTO (the processor decides)
   * @param clockOffsetNs added to every packet's capture time (0; for tests: a host whose clock is off)
   */
  public record Settings(String agent, List<String> interfaces, String filter, int snaplen, int bufferBytes,
      int blockTimeoutMs, boolean promiscuous, Duration statsInterval, SegmentBatcher.Options batching,
      IpFragmentReassembler.Options fragments, Duration shutdownTimeout, String statsTopic, VantageSetting vantage,
      long clockOffsetNs) {

    /** As the canonical constructor, with the vantage left to the processor (AUTO) and no clock offset. */
    public Settings(String agent, List<String> interfaces, String filter, int snaplen, int bufferBytes,
        int blockTimeoutMs, boolean promiscuous, Duration statsInterval, SegmentBatcher.Options batching,
        IpFragmentReassembler.Options fragments, Duration shutdownTimeout, String statsTopic) {
      this(agent, interfaces, filter, snaplen, bufferBytes, blockTimeoutMs, promiscuous, statsInterval, batching,
          fragments, shutdownTimeout, statsTopic, VantageSetting.AUTO, 0);
    }

    /** With a vantage and no clock offset. */
    public Settings(String agent, List<String> interfaces, String filter, int snaplen, int bufferBytes,
        int blockTimeoutMs, boolean promiscuous, Duration statsInterval, SegmentBatcher.Options batching,
        IpFragmentReassembler.Options fragments, Duration shutdownTimeout, String statsTopic, VantageSetting vantage) {
      this(agent, interfaces, filter, snaplen, bufferBytes, blockTimeoutMs, promiscuous, statsInterval, batching,
          fragments, shutdownTimeout, statsTopic, vantage, 0);
    }

    public Settings {
      Objects.requireNonNull(vantage, "vantage");
      Objects.requireNonNull(agent, "agent");
      interfaces = List.copyOf(interfaces);
      if (interfaces.isEmpty()) {
        throw new IllegalArgumentException("no interface to capture on");
      }
      if (statsInterval.isNegative() || statsInterval.isZero()) {
        throw new IllegalArgumentException("stats interval must be positive");
      }
    }

    /**
     * These settings with every capture time shifted by {@code offsetNs}, as if this host's clock
     * were that far off: for testing how a fleet copes with skewed clocks, not for production.
     */
    public Settings withClockOffsetNs(long offsetNs) {
      return new Settings(agent, interfaces, filter, snaplen, bufferBytes, blockTimeoutMs, promiscuous, statsInterval,
          batching, fragments, shutdownTimeout, statsTopic, vantage, offsetNs);
    }

    /** Defaults for the agent: snap length 262144, 8 MiB per interface, 100 ms blocks, 10 s reports, 100 ms batches. */
    public static Settings defaults(String agent, List<String> interfaces, String filter) {
      return new Settings(agent, interfaces, filter, 262_144, 8 << 20, 100, false, Duration.ofSeconds(10),
          agentBatching(), IpFragmentReassembler.Options.defaults(), Duration.ofSeconds(10), STATS_TOPIC);
    }

    /**
     * The agent's batch bounds: as the file importer's, but a batch waits up to 100 ms (not 5 ms)
     * so a connection's packets make few, large records (the producer's cost is per record), and
     * open batches hold at most 8 MiB.
     */
    public static SegmentBatcher.Options agentBatching() {
      return SegmentBatcher.Options.defaults().withMaxBatchDelayNs(100_000_000L).withMaxBufferedBytes(8L << 20);
    }
  }

  private final Settings settings;
  private final List<PacketRing> rings;
  private final LivePublisher publisher;
  private final CaptureStats stats = new CaptureStats();
  private final SegmentExtractor extractor;
  private final PacketRing.FrameVisitor frames;
  private final byte[] pollFds;
  private final long startedNs;
  private final byte[] agentKey;
  private final LiveCaptureMXBean.Registration metrics;
  private final long statsEvery;
  private long nextStats;
  private long nextMetrics;
  private long nextCheck;
  private volatile boolean stopRequested;
  /** Counted down when {@link #run} returns; {@link #close} waits for it before unmapping the rings. */
  private final java.util.concurrent.CountDownLatch runEnded = new java.util.concurrent.CountDownLatch(1);
  private static final long CLOSE_WAIT_SECONDS = 120;
  private volatile dev.tapflow.schemas.CaptureStats latest;
  private volatile boolean ran;

  private LiveCapture(Settings settings, List<PacketRing> rings, LivePublisher publisher) {
    this.settings = settings;
    this.rings = rings;
    this.publisher = publisher;
    this.extractor = new SegmentExtractor(stats,
        new SegmentBatcher(settings.agent(),
            new SegmentBatchEncoder(publisher, settings.vantage(), LocalAddresses.ofThisHost()), stats,
            settings.batching()),
        settings.fragments());
    SegmentExtractor x = extractor;
    long offset = settings.clockOffsetNs();
    this.frames = (linkType, tsNs, wireLen, buf, capLen) -> x.frame(linkType, tsNs + offset, wireLen, buf, 0, capLen);
    this.pollFds = new byte[8 * rings.size()];
    this.startedNs = nowNs();
    this.statsEvery = settings.statsInterval().toNanos();
    this.agentKey = settings.agent().getBytes(StandardCharsets.UTF_8);
    this.latest = report(false);
    this.metrics = LiveCaptureMXBean.Registration.register(settings.agent(), () -> latest);
  }

  /**
   * Opens a ring on every interface; nothing is captured until {@link #run}.
   *
   * @throws CaptureSetupException a one-line reason: no such interface, bad filter, missing
   *     capability or libpcap, the kernel refused the buffer
   */
  public static LiveCapture open(Settings settings, LivePublisher publisher) throws CaptureSetupException {
    Objects.requireNonNull(publisher, "publisher");
    PacketRing.Settings ringSettings = new PacketRing.Settings(settings.snaplen(), settings.bufferBytes(),
        settings.blockTimeoutMs(), settings.promiscuous());
    List<PacketRing> rings = new ArrayList<>();
    try {
      for (String name : settings.interfaces()) {
        if (rings.stream().anyMatch(r -> r.name().equals(name))) {
          continue;
        }
        rings.add(PacketRing.open(name, settings.filter(), ringSettings));
      }
    } catch (CaptureSetupException | RuntimeException e) {
      rings.forEach(PacketRing::close);
      throw e;
    }
    return new LiveCapture(settings, rings, publisher);
  }

  /** Asks the capture to stop; {@link #run} then shuts down in order and returns. Any thread, any number of times. */
  public void stop() {
    stopRequested = true;
  }

  /**
   * Captures until {@link #stop}, then shuts down as the class comment says.
   *
   * @param onReport called with every report, the final one included, on this thread
   * @return the final report
   * @throws CaptureFailedException when capture could not go on (an interface disappeared);
   *     the shutdown has run and the final report is in the exception
   */
  public dev.tapflow.schemas.CaptureStats run(Consumer<dev.tapflow.schemas.CaptureStats> onReport)
      throws CaptureFailedException {
    if (ran) {
      throw new IllegalStateException("a live capture runs once");
    }
    ran = true;
    try {
      return capture(onReport);
    } finally {
      runEnded.countDown();
    }
  }

  private dev.tapflow.schemas.CaptureStats capture(Consumer<dev.tapflow.schemas.CaptureStats> onReport)
      throws CaptureFailedException {
    ByteBuffer fds = ByteBuffer.wrap(pollFds).order(ByteOrder.nativeOrder());
    for (int i = 0; i < rings.size(); i++) {
      fds.putInt(8 * i, rings.get(i).fd()).putShort(8 * i + 4, (short) (Libc.POLLIN | Libc.POLLERR));
    }
    nextStats = System.nanoTime() + statsEvery;
    nextMetrics = System.nanoTime() + METRICS_NANOS;
    String failure = null;
    while (!stopRequested && failure == null) {
      failure = step(fds, onReport);
    }
    dev.tapflow.schemas.CaptureStats last = shutDown(onReport);
    if (failure != null) {
      throw new CaptureFailedException(failure, last);
    }
    return last;
  }

  /**
   * One wake-up: wait for the kernel, read what it handed over, flush by time, offer the
   * backlog, report when due. A method of its own so the JIT compiles it early (a loop that
   * turns a few times a second would stay interpreted).
   *
   * @return why capture cannot go on, or null
   */
  private String step(ByteBuffer fds, Consumer<dev.tapflow.schemas.CaptureStats> onReport) {
    String failure = null;
    for (int i = 0; i < rings.size(); i++) {
      fds.putShort(8 * i + 6, (short) 0);
    }
    try {
      Libc.poll(pollFds, rings.size(), settings.blockTimeoutMs());
    } catch (LastErrorException e) {
      if (e.getErrorCode() != Libc.EINTR) {
        failure = "poll failed: " + PacketRing.errno(e);
      }
    }
    for (int i = 0; i < rings.size(); i++) {
      if ((fds.getShort(8 * i + 6) & Libc.POLLERR) != 0 && failure == null) {
        failure = socketError(rings.get(i));
      }
    }
    readReadyBlocks();
    extractor.advanceTo(nowNs() + settings.clockOffsetNs());
    long now = System.nanoTime();
    publisher.drain(now);
    if (now - nextStats >= 0) {
      nextStats += statsEvery;
      dev.tapflow.schemas.CaptureStats r = report(false);
      latest = r;
      nextMetrics = now + METRICS_NANOS;
      publishReport(r);
      onReport.accept(r);
    } else if (now - nextMetrics >= 0) {
      nextMetrics = now + METRICS_NANOS;
      latest = report(false);
    }
    if (failure == null && now - nextCheck >= 0) {
      nextCheck = now + METRICS_NANOS;
      failure = checkInterfaces();
    }
    return failure;
  }

  private void readReadyBlocks() {
    boolean any;
    do {
      any = false;
      for (PacketRing ring : rings) {
        any |= ring.readBlock(frames) >= 0;
      }
    } while (any);
  }

  /**
   * POLLERR: the interface went down (ENETDOWN; the socket captures again once it is up, so
   * capture goes on) or disappeared (fatal).
   */
  private String socketError(PacketRing ring) {
    int err = ring.takeError();
    if (ring.interfaceExists()) {
      LOG.warn("interface {} went down ({}); capturing again when it is up", ring.name(),
          err == 0 ? "no error" : Libc.strerror(err));
      return null;
    }
    return "interface " + ring.name() + " disappeared";
  }

  /**
   * Once a second: an interface that went down and was then deleted reports nothing more on its
   * socket, so its existence is checked here.
   */
  private String checkInterfaces() {
    for (PacketRing r : rings) {
      if (!r.interfaceExists()) {
        return "interface " + r.name() + " disappeared";
      }
    }
    return null;
  }

  private dev.tapflow.schemas.CaptureStats shutDown(Consumer<dev.tapflow.schemas.CaptureStats> onReport) {
    for (PacketRing r : rings) {
      try {
        r.stopReceiving();
      } catch (LastErrorException e) {
        LOG.debug("{}: {}", r.name(), e.toString()); // an interface that disappeared: nothing to stop
      }
    }
    long drainUntil = System.nanoTime() + settings.blockTimeoutMs() * 1_000_000L + DRAIN_GRACE_NANOS;
    while (System.nanoTime() - drainUntil < 0) {
      readReadyBlocks();
      boolean holding = false;
      for (PacketRing r : rings) {
        holding |= r.kernelHoldsPackets();
      }
      if (!holding) {
        break;
      }
      sleepMillis(5);
    }
    readReadyBlocks();
    extractor.finish();
    long deadline = System.nanoTime() + settings.shutdownTimeout().toNanos();
    SegmentBatch marker = new SegmentBatch(List.of(), true, stats.lastTsNs(), VantageSetting.AUTO, 0);
    byte[] markerKey = AvroSerde.connectionKey().encode(KafkaSegmentPublisher.endOfCaptureKey(settings.agent()));
    byte[] markerValue = AvroSerde.segmentBatch().encode(marker);
    long markerMs = Math.floorDiv(stats.lastTsNs(), 1_000_000L);
    while (publisher.endOfCapture(markerKey, markerValue, markerMs) == 0 && System.nanoTime() - deadline < 0) {
      publisher.drain(System.nanoTime());
      sleepMillis(20); // no metadata yet: Kafka unreachable so far
    }
    awaitPublisherIdle(deadline);
    dev.tapflow.schemas.CaptureStats last;
    if (publisher.backlogRecords() == 0 && publisher.inFlightRecords() == 0) {
      last = report(true);
      publishReport(last);
      publisher.finish(Math.max(deadline, System.nanoTime() + 1_000_000_000L)); // the final report gets a second at least
    } else {
      publisher.finish(System.nanoTime()); // gives up: what is left is counted
      last = report(true);
    }
    latest = last;
    onReport.accept(last);
    return last;
  }

  private void awaitPublisherIdle(long deadline) {
    while (System.nanoTime() - deadline < 0 && (publisher.backlogRecords() > 0 || publisher.inFlightRecords() > 0)) {
      publisher.drain(System.nanoTime());
      sleepMillis(5);
    }
  }

  private void publishReport(dev.tapflow.schemas.CaptureStats r) {
    publisher.publish(settings.statsTopic(), agentKey, STATS_SERDE.encode(r), Math.floorDiv(r.getTsNs(), 1_000_000L));
  }

  /** A report of everything so far; reads the kernel's counters. */
  private dev.tapflow.schemas.CaptureStats report(boolean last) {
    List<InterfaceCaptureStats> ifaces = new ArrayList<>(rings.size());
    for (PacketRing r : rings) {
      r.readKernelCounters();
      ifaces.add(new InterfaceCaptureStats(r.name(), dev.tapflow.capture.LinkType.name(r.linkType()), r.received(),
          r.kernelDrops(), r.interfaceDrops(), r.packets(), r.truncatedPackets()));
    }
    Map<String, Long> skipped = new LinkedHashMap<>();
    for (Map.Entry<SkipReason, Long> e : stats.skippedByReason().entrySet()) {
      skipped.put(e.getKey().name(), e.getValue());
    }
    return dev.tapflow.schemas.CaptureStats.newBuilder()
        .setAgent(settings.agent())
        .setTsNs(nowNs())
        .setStartedNs(startedNs)
        .setFinal$(last)
        .setInterfaces(ifaces)
        .setPackets(stats.packets())
        .setWireBytes(stats.wireBytes())
        .setSegments(stats.segments())
        .setPayloadBytes(stats.payloadBytes())
        .setSkipped(skipped)
        .setBatches(stats.batches())
        .setPublishedBatches(publisher.publishedBatches())
        .setPublishedSegments(publisher.publishedSegments())
        .setPublishedBytes(publisher.publishedBytes())
        .setProducerErrors(publisher.errorBatches())
        .setProducerErrorSegments(publisher.errorSegments())
        .setBacklogDrops(publisher.backlogDrops())
        .setBacklogDropSegments(publisher.backlogDropSegments())
        .setBacklogDropBytes(publisher.backlogDropBytes())
        .setBacklogSegments(publisher.backlogSegments())
        .setBacklogBytes(publisher.backlogBytes())
        .setBacklogPeakBytes(publisher.backlogPeakBytes())
        .setInFlightSegments(publisher.inFlightSegments())
        .setEndOfCapturePartitions(publisher.markersAcknowledged())
        .build();
  }

  /** The latest report (refreshed every second while capturing). */
  public dev.tapflow.schemas.CaptureStats latest() {
    return latest;
  }

  /** The rings, for messages: e.g. {@code lo[EN10MB, 16 x 512 KiB]}. */
  public List<String> describeInterfaces() {
    return rings.stream().map(PacketRing::toString).toList();
  }

  /**
   * Closes the rings and the JMX view; {@link #run} closes the publisher. A capture still
   * running is stopped first and its end awaited: the rings are memory the capture thread reads,
   * and unmapping them under it would crash the JVM. Should it not end in time, the rings stay
   * mapped (a leak, not a crash).
   */
  @Override
  public void close() {
    if (ran) {
      stop();
      try {
        if (!runEnded.await(CLOSE_WAIT_SECONDS, java.util.concurrent.TimeUnit.SECONDS)) {
          LOG.warn("live capture still running {} s after stop: its rings are left mapped", CLOSE_WAIT_SECONDS);
          metrics.close();
          return;
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        metrics.close();
        return;
      }
    }
    rings.forEach(PacketRing::close);
    metrics.close();
    publisher.close();
  }

  private static long nowNs() {
    Instant t = Instant.now();
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  private static void sleepMillis(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
