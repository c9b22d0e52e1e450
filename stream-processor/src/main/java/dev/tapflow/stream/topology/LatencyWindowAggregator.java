package dev.tapflow.stream.topology;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.LatencyHistograms;
import dev.tapflow.schemas.LatencyWindow;
import dev.tapflow.schemas.Status;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.HdrHistogram.Histogram;

/**
 * Latency windows: per (agent, protocol, server endpoint, command) and window of request
 * capture time, the count, errors, timeouts, bytes and an HdrHistogram of latency, published
 * as {@link LatencyWindow} records when the window closes.
 *
 * <p>It runs beside the connections' engine of one task ({@link LatencyWindowProcessor} in
 * Kafka Streams, or {@code tapflow reprocess}'s bounded job): it receives every fact as it is
 * emitted, a tick ({@link #onTick}) after each stream-time sweep of the connections (so the
 * TIMEOUT facts of a sweep are always counted before the windows they belong to close), and
 * an agent's end ({@link #onAgentEnd}) after its end of capture has closed its connections. A group's
 * connections are spread over all partitions, so each task emits its own part of a window
 * ({@code part} = its partition); the parts merge exactly downstream.
 *
 * <p>Closing: a window {@code [start, end)} is emitted at the first tick whose stream time is
 * at least {@code end + TIMEOUT window + grace} (by then every request in it was answered or
 * timed out), or at its agent's end of capture. A fact whose window was already emitted is
 * late: it is dropped from the windows, counted ({@link LatencyWindowCounters}), and each
 * (group, window) that lost facts raises one {@value #LATE_FACTS} anomaly on the
 * decode-errors topic at the next tick.
 *
 * <p>State, all in a {@link Store} (in Kafka Streams the changelogged store {@value LatencyWindowConfig#STORE}) (keys start with
 * a kind byte; times are big-endian so windows sort by start):
 * <pre>
 * 1 start group 0          the window's counters (9 longs)
 * 1 start group 1 bucket   latencies in one HdrHistogram bucket (its lowest equivalent value): count
 * 2 start group            late facts of an emitted window, until reported
 * 3 agent                  the agent's last end of capture: its windows up to there are emitted
 * 4                        windows ending at or before this were emitted
 * </pre>
 * A histogram is kept as one entry per bucket, so adding a fact touches two small entries
 * whatever the spread of latencies; the HdrHistogram is built and encoded once, at close.
 */
public final class LatencyWindowAggregator {

  /** The windows' state: entries in unsigned byte order of their keys (as RocksDB keeps them). */
  public interface Store {
    byte[] get(byte[] key);

    void put(byte[] key, byte[] value);

    void delete(byte[] key);

    /** Entries with {@code from <= key < to}, in key order; the visitor must not modify the store. */
    void range(byte[] from, byte[] to, ConnectionEngine.Store.Visitor visitor);
  }

  /** Where closed windows and late-fact anomalies go; keys and timestamps as the topics want them. */
  public interface Output {
    void window(byte[] key, LatencyWindow window, long timestampMs);

    void anomaly(byte[] key, DecodeError error, long timestampMs);
  }


  static final String LATE_FACTS = "LATENCY_WINDOW_LATE_FACTS";

  private static final byte WINDOW = 1;
  private static final byte LATE = 2;
  private static final byte AGENT_END = 3;
  private static final byte CLOSED_BEFORE = 4;
  private static final byte COUNTERS = 0;
  private static final byte BUCKET = 1;
  private static final int COUNTER_FIELDS = 9;
  /** Bucket boundaries only: {@link Histogram#lowestEquivalentValue} is pure arithmetic. */
  private static final Histogram BUCKETS = LatencyHistograms.create();

  private final LatencyWindowConfig config;
  private final long timeoutWindowNs;
  private final LatencyWindowCounters counters;
  private final long sizeNs;
  private final Store store;
  private final int part;
  private final Output output;
  /*
   * The meta entries (3 and 4) are read for every fact and are mostly absent, and a cached
   * Kafka Streams store does not cache an absent key: every fact was two RocksDB reads, two
   * thirds of a fact's cost in the processor. Only this aggregator writes them and none is ever
   * deleted, so they are read once and then kept here; a task that is revived (its store wiped
   * and restored) gets a new aggregator at init.
   */
  private long closedBefore;
  private boolean closedBeforeRead;
  private final Map<String, Long> agentEnds = new HashMap<>();

  /**
   * @param part the task's partition: the part of each window this aggregator emits
   */
  public LatencyWindowAggregator(LatencyWindowConfig config, ProcessorConfig processorConfig,
      LatencyWindowCounters counters, Store store, int part, Output output) {
    this.config = config;
    this.timeoutWindowNs = processorConfig.window().toNanos();
    this.counters = counters;
    this.sizeNs = config.size().toNanos();
    this.store = store;
    this.part = part;
    this.output = output;
  }

  // ---------------------------------------------------------------- facts

  /** A fact the connections emitted. */
  public void add(LatencyFact f) {
    long start = Math.max(0, Math.floorDiv(f.getRequestFirstNs(), sizeNs) * sizeNs);
    byte[] group = LatencyGroup.of(f).toBytes();
    if (start + sizeNs <= closedBefore() || start <= agentEnd(f.getAgent())) {
      tallyLate(start, group, f);
      return;
    }
    byte[] countersKey = windowKey(start, group, COUNTERS, 0);
    byte[] old = store.get(countersKey);
    long[] c = old == null ? emptyCounters() : longs(old);
    c[0]++;
    if (f.getStatus() == Status.ERROR) {
      c[1]++;
    } else if (f.getStatus() == Status.TIMEOUT) {
      c[2]++;
    }
    c[3] += f.getRequestBytes();
    c[4] += f.getResponseBytes();
    Long latency = f.getLatencyNs();
    if (latency != null) {
      long l = Math.max(0, latency); // HdrHistogram records no negative value; none is expected
      c[5]++;
      c[6] += l;
      c[7] = Math.min(c[7], l);
      c[8] = Math.max(c[8], l);
      byte[] bucketKey = windowKey(start, group, BUCKET, BUCKETS.lowestEquivalentValue(l));
      store.put(bucketKey, bytes(getLong(store.get(bucketKey), 0) + 1));
    }
    store.put(countersKey, bytes(c));
    counters.factsCounted.incrementAndGet();
  }

  private void tallyLate(long start, byte[] group, LatencyFact f) {
    counters.lateFactsDropped.incrementAndGet();
    byte[] key = ByteBuffer.allocate(9 + group.length).put(LATE).putLong(start).put(group).array();
    byte[] old = store.get(key);
    if (old != null) {
      ByteBuffer b = ByteBuffer.wrap(old.clone());
      b.putLong(0, b.getLong(0) + 1);
      store.put(key, b.array());
      return;
    }
    // the first late fact stands for the episode in the anomaly
    byte[] ip = f.getClientIp().getBytes(StandardCharsets.UTF_8);
    store.put(key, ByteBuffer.allocate(28 + ip.length).putLong(1).putLong(f.getRequestFirstNs())
        .putLong(f.getRequestOffset()).putInt(f.getClientPort()).put(ip).array());
  }

  // ---------------------------------------------------------------- closing

  /** Stream time reached {@code streamTimeMs} and the connections were swept. */
  public void onTick(long streamTimeMs) {
    long closedBefore = streamTimeMs * 1_000_000L - timeoutWindowNs - config.grace().toNanos();
    if (closedBefore > closedBefore()) {
      store.put(metaKey(CLOSED_BEFORE, null), bytes(closedBefore));
      this.closedBefore = closedBefore;
    }
    long lastStart = closedBefore - sizeNs; // windows starting at or before it have ended by closedBefore
    if (lastStart >= 0) {
      byte[] to = ByteBuffer.allocate(9).put(WINDOW).putLong(lastStart + 1).array();
      emitWindows(new byte[] {WINDOW}, to, g -> true);
    }
    reportLate();
  }

  /** The agent's capture ended at {@code endNs} and its connections were closed: its windows close. */
  public void onAgentEnd(String agent, long endNs) {
    long[] lastStart = {endNs};
    emitWindows(new byte[] {WINDOW}, new byte[] {WINDOW + 1}, g -> {
      if (g.group.agent().equals(agent)) {
        lastStart[0] = Math.max(lastStart[0], g.start);
        return true;
      }
      return false;
    });
    if (lastStart[0] > agentEnd(agent)) {
      store.put(metaKey(AGENT_END, agent), bytes(lastStart[0]));
      agentEnds.put(agent, lastStart[0]);
    }
    reportLate();
  }

  /** Emits and deletes the windows with keys in [from, to) that {@code which} selects. */
  private void emitWindows(byte[] from, byte[] to, Predicate<Open> which) {
    List<byte[]> done = new ArrayList<>();
    Open[] open = {null};
    store.range(from, to, (key, value) -> {
      ByteBuffer k = ByteBuffer.wrap(key);
      k.get(); // WINDOW
      long start = k.getLong();
      int groupFrom = k.position();
      LatencyGroup group = LatencyGroup.read(k);
      int groupTo = k.position();
      Open o = open[0];
      if (o == null || o.start != start || !o.sameGroup(key, groupFrom, groupTo)) {
        if (o != null && o.selected) {
          emit(o);
        }
        o = new Open(start, group, key, groupFrom, groupTo);
        o.selected = which.test(o);
        open[0] = o;
      }
      if (!o.selected) {
        return;
      }
      done.add(key);
      if (k.get() == COUNTERS) {
        o.counters = longs(value);
      } else {
        o.histogram.recordValueWithCount(k.getLong(), getLong(value, 0));
      }
    });
    if (open[0] != null && open[0].selected) {
      emit(open[0]);
    }
    for (byte[] k : done) {
      store.delete(k);
    }
  }

  private void emit(Open w) {
    long[] c = w.counters;
    if (c == null) {
      return; // never written without its counters; nothing to say
    }
    LatencyGroup g = w.group;
    LatencyWindow out = LatencyWindow.newBuilder()
        .setAgent(g.agent())
        .setProtocol(g.protocol())
        .setServerIp(g.serverIp())
        .setServerPort(g.serverPort())
        .setCommand(g.command())
        .setWindowStartNs(w.start)
        .setWindowSizeMs((int) config.size().toMillis())
        .setPart(part)
        .setCount(c[0])
        .setErrors(c[1])
        .setTimeouts(c[2])
        .setRequestBytes(c[3])
        .setResponseBytes(c[4])
        .setLatencyCount(c[5])
        .setLatencySumNs(c[6])
        .setLatencyMinNs(c[5] == 0 ? null : c[7])
        .setLatencyMaxNs(c[5] == 0 ? null : c[8])
        .setHistogram(ByteBuffer.wrap(LatencyHistograms.encode(w.histogram)))
        .build();
    long startMs = w.start / 1_000_000L;
    output.window(outputKey(g, startMs), out, startMs);
    counters.windowsEmitted.incrementAndGet();
  }

  /** One DecodeError per (group, window) that lost facts since the last report. */
  private void reportLate() {
    List<byte[][]> tallies = new ArrayList<>();
    store.range(new byte[] {LATE}, new byte[] {LATE + 1}, (key, value) -> tallies.add(new byte[][] {key, value}));
    for (byte[][] t : tallies) {
      ByteBuffer k = ByteBuffer.wrap(t[0]);
      k.get();
      long start = k.getLong();
      LatencyGroup g = LatencyGroup.read(k);
      ByteBuffer v = ByteBuffer.wrap(t[1]);
      long n = v.getLong();
      long firstNs = v.getLong();
      long offset = v.getLong();
      int clientPort = v.getInt();
      String clientIp = new String(t[1], v.position(), v.remaining(), StandardCharsets.UTF_8);
      DecodeError err = DecodeError.newBuilder()
          .setAgent(g.agent())
          .setProtocol(g.protocol())
          .setClientIp(clientIp)
          .setClientPort(clientPort)
          .setServerIp(g.serverIp())
          .setServerPort(g.serverPort())
          .setName(LATE_FACTS)
          .setClientSide(false)
          .setStreamOffset(offset)
          .setDetail(n + " " + g.command() + " facts of the window starting " + Instant.ofEpochSecond(0, start)
              + " (" + config.size().toSeconds() + " s) arrived after part " + part
              + " of it was emitted; they are on the facts topic but in no latency window")
          .setTsNs(firstNs)
          .build();
      output.anomaly(outputKey(g, start / 1_000_000L), err, firstNs / 1_000_000L);
      store.delete(t[0]);
    }
  }

  /** A window being read back from the store at close. */
  private static final class Open {
    final long start;
    final LatencyGroup group;
    final byte[] key;
    final int groupFrom;
    final int groupTo;
    final Histogram histogram = LatencyHistograms.create();
    long[] counters;
    boolean selected;

    Open(long start, LatencyGroup group, byte[] key, int groupFrom, int groupTo) {
      this.start = start;
      this.group = group;
      this.key = key;
      this.groupFrom = groupFrom;
      this.groupTo = groupTo;
    }

    boolean sameGroup(byte[] other, int from, int to) {
      return Arrays.equals(key, groupFrom, groupTo, other, from, to);
    }
  }

  // ---------------------------------------------------------------- encoding

  /** Readable and unique per (group, window): partitions every part of a window alike. */
  private byte[] outputKey(LatencyGroup g, long startMs) {
    return String.join("|", g.agent(), g.protocol(), g.serverIp(), Integer.toString(g.serverPort()), g.command(),
        Long.toString(startMs), Long.toString(config.size().toMillis())).getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] windowKey(long start, byte[] group, byte kind, long bucket) {
    ByteBuffer b = ByteBuffer.allocate(10 + group.length + (kind == BUCKET ? 8 : 0))
        .put(WINDOW).putLong(start).put(group).put(kind);
    if (kind == BUCKET) {
      b.putLong(bucket);
    }
    return b.array();
  }

  private static byte[] metaKey(byte kind, String agent) {
    byte[] a = agent == null ? new byte[0] : agent.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(1 + a.length).put(kind).put(a).array();
  }

  private byte[] meta(byte kind, String agent) {
    return store.get(metaKey(kind, agent));
  }

  /** Entry 4, read from the store once; from then on kept here as it is written. */
  private long closedBefore() {
    if (!closedBeforeRead) {
      closedBefore = getLong(meta(CLOSED_BEFORE, null), Long.MIN_VALUE);
      closedBeforeRead = true;
    }
    return closedBefore;
  }

  /** The agent's entry 3, read from the store once; from then on kept here as it is written. */
  private long agentEnd(String agent) {
    Long end = agentEnds.get(agent);
    if (end == null) {
      end = getLong(meta(AGENT_END, agent), Long.MIN_VALUE);
      agentEnds.put(agent, end);
    }
    return end;
  }

  private static long[] emptyCounters() {
    long[] c = new long[COUNTER_FIELDS];
    c[7] = Long.MAX_VALUE; // min
    c[8] = Long.MIN_VALUE; // max
    return c;
  }

  private static long[] longs(byte[] b) {
    long[] out = new long[COUNTER_FIELDS];
    ByteBuffer.wrap(b).asLongBuffer().get(out);
    return out;
  }

  private static byte[] bytes(long[] values) {
    ByteBuffer b = ByteBuffer.allocate(8 * values.length);
    b.asLongBuffer().put(values);
    return b.array();
  }

  private static byte[] bytes(long v) {
    return ByteBuffer.allocate(8).putLong(v).array();
  }

  private static long getLong(byte[] b, long absent) {
    return b == null ? absent : ByteBuffer.wrap(b).getLong();
  }
}
