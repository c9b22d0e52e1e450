package dev.tapflow.cli;

import dev.tapflow.capture.BatchListener;
import dev.tapflow.capture.CaptureFileException;
import dev.tapflow.capture.CaptureStats;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.stream.topology.ConnectionEngine;
import dev.tapflow.stream.topology.FactCollector;
import dev.tapflow.stream.topology.InMemoryStore;
import dev.tapflow.stream.topology.ProcessorConfig;
import dev.tapflow.stream.topology.StreamClock;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * {@code tapflow analyze}: the processor's engine run in memory over capture files, with no
 * Kafka and no database. It runs the same {@link ConnectionEngine} the Kafka Streams
 * processor runs, over the same batches the importer would publish, with stream-time sweeps
 * at the same interval, so both produce the same facts.
 */
final class Analyzer {

  /** What an analysis produced. */
  record Result(List<LatencyFact> facts, FactCollector collector, Map<Path, CaptureStats> captures,
      Map<String, Long> anomalies) {

    /** Facts made, including those the analysis was asked not to keep. */
    long factCount() {
      return collector.factCount();
    }
  }

  /** Capture order; requests pipelined in one segment in wire order (one comparator: no chain of boxed keys). */
  private static final Comparator<LatencyFact> CAPTURE_ORDER = (a, b) -> {
    int c = Long.compare(a.getRequestFirstNs(), b.getRequestFirstNs());
    if (c == 0) c = a.getClientIp().compareTo(b.getClientIp());
    if (c == 0) c = Integer.compare(a.getClientPort(), b.getClientPort());
    if (c == 0) c = Long.compare(a.getRequestOffset(), b.getRequestOffset());
    if (c == 0) c = a.getId().compareTo(b.getId());
    return c;
  };

  private final ProcessorConfig config;
  private final int workers;

  /** One engine, on the reading thread. */
  Analyzer(ProcessorConfig config) {
    this(config, 1);
  }

  /**
   * @param workers engines to run, each on a thread of its own, the connections spread over
   *     them by key as over a topic's partitions (1: one engine on the reading thread). Every
   *     stream-time sweep and end of capture reaches every engine at the same point of its
   *     batches, so the facts are the same whatever the number; the bound on connections
   *     held ({@code --max-connections}) holds per engine, as it holds per task in the processor.
   */
  Analyzer(ProcessorConfig config, int workers) {
    if (workers < 1) {
      throw new IllegalArgumentException("workers must be at least 1");
    }
    this.config = config;
    this.workers = workers;
  }

  /**
   * @param agentId the agent to label every file with, or null for each file's name without extension
   */
  Result analyze(List<Path> files, String agentId) throws CaptureFileException {
    return analyze(files, agentId, f -> true);
  }

  /**
   * As {@link #analyze(List, String)}, keeping only the facts {@code keep} accepts (all are made
   * and counted): a million fast requests need not stay in memory to print the slow ones.
   */
  Result analyze(List<Path> files, String agentId, Predicate<LatencyFact> keep) throws CaptureFileException {
    Map<Path, CaptureStats> captures = new LinkedHashMap<>();
    List<CaptureStats> stats;
    FactCollector out;
    Map<String, Long> anomalies;
    if (workers == 1) {
      Shard shard = new Shard(config, keep, 0);
      stats = ImportCommand.importAll(files, agentId, new Feeder(config, List.of(shard)) {
        @Override
        void send(Shard s, Object message) {
          s.apply(message);
        }
      });
      out = shard.out;
      anomalies = shard.engine.anomalyCounts();
    } else {
      Parallel parallel = new Parallel(config, keep, workers);
      try {
        stats = ImportCommand.importAll(files, agentId, parallel.feeder);
        parallel.finish();
      } finally {
        parallel.stop();
      }
      out = new FactCollector(keep);
      Map<String, Long> sum = new java.util.TreeMap<>();
      for (Shard shard : parallel.shards) {
        out.addAll(shard.out);
        shard.engine.anomalyCounts().forEach((k, v) -> sum.merge(k, v, Long::sum));
      }
      anomalies = sum;
    }
    int i = 0;
    for (Path file : files) {
      captures.put(file, stats.get(i++));
    }
    List<LatencyFact> facts = new ArrayList<>(out.facts());
    facts.sort(CAPTURE_ORDER);
    return new Result(facts, out, captures, anomalies);
  }

  /** What a shard is sent: a batch, a sweep at a stream time, or an agent's end of capture. */
  private record BatchMessage(byte[] keyBytes, ConnectionKey key, SegmentBatch batch) {}

  private record SweepMessage(long streamTimeNs) {}

  private record EndMessage(String agent, long lastTsNs) {}

  /** One engine with its store and what it emitted. */
  private static final class Shard {
    final ConnectionEngine engine;
    final InMemoryStore store = new InMemoryStore();
    final FactCollector out;
    final int index;

    Shard(ProcessorConfig config, Predicate<LatencyFact> keep, int index) {
      this.index = index;
      engine = new ConnectionEngine(config);
      out = new FactCollector(keep);
    }

    void apply(Object message) {
      if (message instanceof BatchMessage b) {
        engine.onBatch(b.keyBytes(), b.key(), b.batch(), store, out);
      } else if (message instanceof SweepMessage t) {
        engine.onStreamTime(t.streamTimeNs(), store, out);
      } else {
        EndMessage e = (EndMessage) message;
        engine.endOfCapture(e.agent(), e.lastTsNs(), store, out);
      }
    }
  }

  /**
   * The reading thread's side: encodes each connection's key once, routes its batches, and
   * sends every shard the stream-time sweeps (at the points the processor would run them) and
   * the ends of capture.
   */
  private abstract static class Feeder implements BatchListener {
    private final AvroSerde<ConnectionKey> keySerde = AvroSerde.connectionKey();
    private final StreamClock clock;
    private final List<Shard> shards;
    private ConnectionKey lastKey;
    private byte[] lastKeyBytes;
    private Shard lastShard;

    Feeder(ProcessorConfig config, List<Shard> shards) {
      this.clock = new StreamClock(config);
      this.shards = shards;
    }

    abstract void send(Shard shard, Object message);

    void broadcast(Object message) {
      for (Shard s : shards) {
        send(s, message);
      }
    }

    @Override
    public void onBatch(ConnectionKey key, SegmentBatch batch) {
      if (key != lastKey) { // the importer shares one key instance per connection
        lastKey = key;
        lastKeyBytes = keySerde.encode(key);
        lastShard = shards.get(Math.floorMod(java.util.Arrays.hashCode(lastKeyBytes), shards.size()));
      }
      send(lastShard, new BatchMessage(lastKeyBytes, key, batch));
      if (clock.advance(BatchListener.timestampMs(batch))) {
        broadcast(new SweepMessage(clock.streamTimeNs()));
      }
    }

    @Override
    public void onEndOfCapture(String agentName, long lastTsNs) {
      broadcast(new EndMessage(agentName, lastTsNs));
    }
  }

  /**
   * Shards on threads of their own, fed in chunks through bounded queues (the reader waits
   * when the engines fall behind, so memory stays bounded); each shard sees its messages in
   * the reader's order.
   */
  private static final class Parallel {
    private static final int CHUNK = 16;
    private static final Object[] STOP = new Object[0];

    final List<Shard> shards = new ArrayList<>();
    private final List<java.util.concurrent.ArrayBlockingQueue<Object[]>> queues = new ArrayList<>();
    private final List<Thread> threads = new ArrayList<>();
    private final Object[][] open;
    private final int[] fill;
    private final java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
    final Feeder feeder;

    Parallel(ProcessorConfig config, Predicate<LatencyFact> keep, int n) {
      open = new Object[n][];
      fill = new int[n];
      for (int i = 0; i < n; i++) {
        Shard shard = new Shard(config, keep, i);
        shards.add(shard);
        java.util.concurrent.ArrayBlockingQueue<Object[]> q = new java.util.concurrent.ArrayBlockingQueue<>(4);
        queues.add(q);
        Thread t = new Thread(() -> run(shard, q), "analyze-" + i);
        t.setDaemon(true);
        threads.add(t);
        t.start();
      }
      feeder = new Feeder(config, shards) {
        @Override
        void send(Shard s, Object message) {
          int i = s.index;
          if (open[i] == null) {
            open[i] = new Object[CHUNK];
          }
          open[i][fill[i]++] = message;
          if (fill[i] == CHUNK) {
            put(i, open[i]);
            open[i] = null;
            fill[i] = 0;
          }
        }
      };
    }

    private void run(Shard shard, java.util.concurrent.BlockingQueue<Object[]> q) {
      try {
        while (true) {
          Object[] chunk = q.take();
          if (chunk == STOP) {
            return;
          }
          for (Object m : chunk) {
            if (m == null) {
              break;
            }
            shard.apply(m);
          }
        }
      } catch (Throwable e) {
        failure.compareAndSet(null, e);
        q.clear(); // the reader must not wait on a queue nobody takes from
        while (true) {
          try {
            if (q.take() == STOP) {
              return;
            }
          } catch (InterruptedException stop) {
            return;
          }
        }
      }
    }

    private void put(int i, Object[] chunk) {
      rethrow();
      try {
        while (!queues.get(i).offer(chunk, 100, java.util.concurrent.TimeUnit.MILLISECONDS)) {
          rethrow();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }

    private void rethrow() {
      Throwable e = failure.get();
      if (e instanceof RuntimeException r) {
        throw r;
      }
      if (e instanceof Error err) {
        throw err;
      }
      if (e != null) {
        throw new IllegalStateException(e);
      }
    }

    /** Sends what is left and waits until every shard processed everything. */
    void finish() {
      for (int i = 0; i < shards.size(); i++) {
        if (fill[i] > 0) {
          put(i, open[i]);
          open[i] = null;
          fill[i] = 0;
        }
      }
      stop();
      rethrow();
    }

    /** Ends the threads (after {@link #finish}, or after the reader failed). */
    void stop() {
      for (int i = 0; i < threads.size(); i++) {
        if (!threads.get(i).isAlive()) {
          continue;
        }
        try {
          queues.get(i).put(STOP);
          threads.get(i).join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }
  }
}
