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

  Analyzer(ProcessorConfig config) {
    this.config = config;
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
    ConnectionEngine engine = new ConnectionEngine(config);
    InMemoryStore store = new InMemoryStore();
    FactCollector out = new FactCollector(keep);
    AvroSerde<ConnectionKey> keySerde = AvroSerde.connectionKey();
    Map<Path, CaptureStats> captures = new LinkedHashMap<>();
    BatchListener listener = new BatchListener() {
      ConnectionKey lastKey;
      byte[] lastKeyBytes;
      final StreamClock clock = new StreamClock(config);

      @Override
      public void onBatch(ConnectionKey key, SegmentBatch batch) {
        if (key != lastKey) { // the importer shares one key instance per connection
          lastKey = key;
          lastKeyBytes = keySerde.encode(key);
        }
        engine.onBatch(lastKeyBytes, key, batch, store, out);
        if (clock.advance(BatchListener.timestampMs(batch))) {
          engine.onStreamTime(clock.streamTimeNs(), store, out);
        }
      }

      @Override
      public void onEndOfCapture(String agentName, long lastTsNs) {
        engine.endOfCapture(agentName, lastTsNs, store, out);
      }
    };
    List<CaptureStats> stats = ImportCommand.importAll(files, agentId, listener);
    int i = 0;
    for (Path file : files) {
      captures.put(file, stats.get(i++));
    }
    List<LatencyFact> facts = new ArrayList<>(out.facts());
    facts.sort(CAPTURE_ORDER);
    return new Result(facts, out, captures, engine.anomalyCounts());
  }
}
