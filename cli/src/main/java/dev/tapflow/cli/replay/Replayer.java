package dev.tapflow.cli.replay;

import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.stream.protocol.Protocols;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Sends captured requests to a live server, per captured connection in order, at the
 * captured pacing times a speed factor. Each captured connection is given a target
 * connection ({@link Lane}: a sender and a reader thread) — its own, or, past
 * {@code maxConnections}, a shared one. The reading thread hands requests in; a lane's
 * bounded queue makes it wait when the target falls behind (backpressure), and a target that
 * fails (refused, closed, silent past the reply timeout) ends the replay with a
 * {@link ReplayException}.
 *
 * <p>Schedule: request i is due at {@code t0 + (ts_i - ts_first) / speed} (absolute
 * deadlines, {@code LockSupport.parkNanos} until each, so waiting never drifts), and not
 * before the target answered as many of its connection's earlier requests as the capture had
 * answered when it was sent ({@link CapturedRequest#dependsOn}); {@code speed 0} means no
 * pacing, only that order. A rate cap spaces sends by {@code 1/rate} across all connections.
 * The clock starts ({@code t0}) once {@link #READ_AHEAD_NS} of capture time has been read
 * ahead, a connection's queue is full, or the source ended: connections open and code warms
 * up before the first request is due. How late each request left against its deadline is
 * measured and reported.
 */
public final class Replayer implements CapturedRequests.Sink {

  /** Where each replayed request's exchange goes, with the replay connection it was sent on (any thread). */
  public interface FactListener {
    void fact(dev.tapflow.stream.flow.Flow connection, dev.tapflow.protocol.api.Exchange replayed);
  }

  /**
   * @param facts          each replayed request as a fact, or null
   * @param speed          pacing factor: 2.0 is twice as fast; 0 sends as fast as answers allow
   * @param rate           at most this many requests per second overall, or 0
   * @param maxConnections target connections at most (captured connections share them), or 0 for one per captured connection
   * @param queueCapacity  requests waiting per target connection before the reader waits
   * @param replyTimeout   how long a connection waits for an answer it needs before the replay fails
   * @param connectTimeout how long a connect may take
   */
  public record Options(ReplayTarget target, FactListener facts, double speed, double rate, int maxConnections, int queueCapacity,
      Duration replyTimeout, Duration connectTimeout) {}

  /** Target connections open at once when each captured connection gets its own; beyond, they are shared. */
  static final int MAX_LANES = 1024;
  /**
   * Capture time read ahead before the clock starts: the first connections open, and the
   * code warms up, before anything is due, so the first requests do not leave late. The clock
   * also starts when a connection's queue is full, and when the source ends.
   */
  static final long READ_AHEAD_NS = 1_000_000_000L;
  /** Time from the start of the clock to the first request. */
  private static final long START_LEAD_NS = 10_000_000L;

  private final Options options;
  final Protocol protocol;
  private final Lane[] slots;
  private final boolean capped;
  private int nextSlot;
  private final Map<Long, Assignment> assignments = new HashMap<>();
  /** lanes still open (a lane that closed hands its figures over and leaves: memory stays bounded over long ranges) */
  private final java.util.Set<Lane> lanes = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private long lanesOpened;
  // what closed lanes handed over (under closedLock)
  private final Object closedLock = new Object();
  private final org.HdrHistogram.Histogram lag = new org.HdrHistogram.Histogram(3);
  private final Map<String, Long> anomalies = new TreeMap<>();
  private long authenticated;
  private final Map<String, Map<String, Long>> skipped = new TreeMap<>();
  /** per command, over all connections (lanes record under its monitor) */
  private final Map<String, CommandStats> stats = new TreeMap<>();
  private volatile ReplayException failure;
  private long connections;

  private volatile long t0Ns;
  /** the earliest capture time handed in before the clock started: the schedule's origin */
  private volatile long firstTsNs = Long.MAX_VALUE;
  private long readAheadFromNs = Long.MAX_VALUE;
  private final java.util.concurrent.CountDownLatch started = new java.util.concurrent.CountDownLatch(1);
  private final AtomicLong nextRateSlotNs = new AtomicLong(Long.MIN_VALUE);
  private final long rateIntervalNs;
  // measured, over every sent request (lanes write them)
  private final AtomicLong firstSendNs = new AtomicLong(Long.MAX_VALUE);
  private final AtomicLong lastSendNs = new AtomicLong(Long.MIN_VALUE);
  private final AtomicLong minTsNs = new AtomicLong(Long.MAX_VALUE);
  /** System.nanoTime() + this = ns since the epoch: the replay's own exchanges carry wall-clock times, like facts */
  private final long epochOffsetNs;
  private final AtomicLong maxTsNs = new AtomicLong(Long.MIN_VALUE);

  private record Assignment(Lane lane, Lane.ConnectionState state) {}

  public Replayer(Options options) {
    this.options = options;
    this.protocol = Protocols.installed(Map.of()).byName(options.target().protocol());
    this.capped = options.maxConnections() > 0;
    this.slots = new Lane[capped ? options.maxConnections() : MAX_LANES];
    this.rateIntervalNs = options.rate() > 0 ? (long) (1e9 / options.rate()) : 0;
    java.time.Instant now = java.time.Instant.now();
    this.epochOffsetNs = now.getEpochSecond() * 1_000_000_000L + now.getNano() - System.nanoTime();
  }

  /** A System.nanoTime() reading as ns since the epoch. */
  long epochNs(long nanoTime) {
    return nanoTime + epochOffsetNs;
  }

  Options options() {
    return options;
  }

  @Override
  public void request(CapturedRequest r) {
    checkFailure();
    if (started.getCount() > 0) {
      readAheadFromNs = Math.min(readAheadFromNs, r.tsNs());
      firstTsNs = Math.min(firstTsNs, r.tsNs());
      if (r.tsNs() - readAheadFromNs >= READ_AHEAD_NS) {
        start();
      }
    }
    Assignment a = assignments.get(r.connection());
    if (a == null) {
      Lane lane = assign();
      lane.refs++;
      a = new Assignment(lane, new Lane.ConnectionState());
      assignments.put(r.connection(), a);
      connections++;
    }
    a.lane().enqueue(new Lane.Item(r, a.state()), this);
  }

  private Lane assign() {
    if (!capped) { // a free slot: a connection of its own
      for (int i = 0; i < slots.length; i++) {
        int s = (nextSlot + i) % slots.length;
        if (slots[s] == null || slots[s].ending()) {
          nextSlot = (s + 1) % slots.length;
          return slots[s] = open();
        }
      }
    }
    int s = nextSlot;
    nextSlot = (s + 1) % slots.length;
    if (slots[s] == null) {
      slots[s] = open();
    }
    return slots[s];
  }

  private Lane open() {
    Lane lane = new Lane(++lanesOpened, this);
    lanes.add(lane);
    lane.start();
    return lane;
  }

  @Override
  public void connectionEnded(long connection) {
    Assignment a = assignments.remove(connection);
    if (a != null && --a.lane().refs == 0 && !capped) {
      a.lane().end(this);
    }
  }

  @Override
  public void skipped(String command, String reason) {
    skipped.computeIfAbsent(command, c -> new TreeMap<>()).merge(reason, 1L, Long::sum);
  }

  /**
   * Every request has been handed in: waits until the target answered them (or the replay
   * failed) and returns what happened.
   *
   * @throws ReplayException when the target failed
   */
  public ReplayResult finish() {
    start();
    for (Lane lane : List.copyOf(lanes)) {
      if (!lane.ending()) {
        lane.end(this);
      }
    }
    for (Lane lane : List.copyOf(lanes)) {
      lane.join();
    }
    checkFailure();
    Map<String, CommandStats> commands;
    synchronized (stats) {
      commands = new TreeMap<>(stats);
    }
    long sent = commands.values().stream().mapToLong(CommandStats::count).sum();
    synchronized (closedLock) {
      return new ReplayResult(false, commands, skipped, connections, lanesOpened,
          authenticated > 0 ? Map.of("AUTH", authenticated) : Map.of(),
          sent == 0 ? 0 : maxTsNs.get() - minTsNs.get(), sent == 0 ? 0 : lastSendNs.get() - firstSendNs.get(),
          lag.getTotalCount() == 0 ? -1 : lag.getValueAtPercentile(99) * 1000,
          lag.getTotalCount() == 0 ? -1 : lag.getMaxValue() * 1000,
          new TreeMap<>(anomalies));
    }
  }

  /** A lane closed (its sender thread, last thing): its figures join the replay's, and it is forgotten. */
  void closed(Lane lane) {
    synchronized (closedLock) {
      lag.add(lane.lag());
      lane.anomalies().forEach((n, k) -> anomalies.merge(n, k, Long::sum));
      authenticated += lane.authenticated() ? 1 : 0;
    }
    lanes.remove(lane);
  }

  /** Stops every connection after a failure elsewhere (the reading side) and waits for them to close. */
  public void abort(ReplayException cause) {
    fail(cause);
    for (Lane lane : List.copyOf(lanes)) {
      lane.join();
    }
  }

  /** Starts the clock (once): requests become due from now on. Called on the reading thread. */
  void start() {
    if (started.getCount() > 0) {
      t0Ns = System.nanoTime() + START_LEAD_NS;
      started.countDown();
    }
  }

  /** Waits until the clock started (or the replay failed). */
  void awaitStart() throws InterruptedException {
    while (!started.await(100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
      if (failure != null) {
        throw new ReplayException(failure.getMessage());
      }
    }
  }

  void fail(ReplayException e) {
    if (failure == null) {
      failure = e;
    }
  }

  ReplayException failure() {
    return failure;
  }

  void checkFailure() {
    ReplayException f = failure;
    if (f != null) {
      throw new ReplayException(f.getMessage(), f);
    }
  }

  /** When a request is due by the schedule alone (System.nanoTime); 0 at {@code --speed max}. */
  long dueNs(CapturedRequest r) {
    if (options.speed() <= 0) {
      return 0;
    }
    return t0Ns + (long) ((r.tsNs() - firstTsNs) / options.speed());
  }

  /** Waits until the request may go: its schedule, then a slot of the rate cap. */
  void awaitTurn(CapturedRequest r) {
    parkUntil(dueNs(r));
    if (rateIntervalNs > 0) {
      long now = System.nanoTime();
      long slot = nextRateSlotNs.getAndAccumulate(now, (prev, n) -> Math.max(prev, n) + rateIntervalNs);
      parkUntil(Math.max(slot, now));
    }
  }

  boolean paced() {
    return options.speed() > 0 || rateIntervalNs > 0;
  }

  static void parkUntil(long deadlineNs) {
    long left;
    while ((left = deadlineNs - System.nanoTime()) > 0) {
      LockSupport.parkNanos(left);
    }
  }

  /** A request the target answered (or that ended unanswered). */
  void record(dev.tapflow.stream.flow.Flow connection, CapturedRequest r, dev.tapflow.protocol.api.Exchange ex) {
    synchronized (stats) {
      stats.computeIfAbsent(r.command(), c -> new CommandStats()).record(r, ex);
    }
    if (options.facts() != null) {
      options.facts().fact(connection, ex);
    }
  }

  void sent(long sendNs, long tsNs) {
    firstSendNs.accumulateAndGet(sendNs, Math::min);
    lastSendNs.accumulateAndGet(sendNs, Math::max);
    minTsNs.accumulateAndGet(tsNs, Math::min);
    maxTsNs.accumulateAndGet(tsNs, Math::max);
  }
}
