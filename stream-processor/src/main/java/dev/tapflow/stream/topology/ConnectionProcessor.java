package dev.tapflow.stream.topology;

import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.SegmentBatch;
import java.time.Duration;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The Kafka Streams side of {@link ConnectionEngine}: one instance per task, state in the
 * task's {@code connections} store (changelogged, so a restarted processor continues
 * mid-connection), TIMEOUTs by stream-time punctuation. Every fact also goes to the
 * {@link LatencyWindowProcessor} of the task, followed by a tick after each sweep and an
 * end marker after an agent's end of capture, so the windows close after the facts that
 * belong in them.
 */
final class ConnectionProcessor implements Processor<byte[], SegmentBatch, byte[], Object> {

  static final String FACTS_SINK = "facts-sink";
  static final String ERRORS_SINK = "decode-errors-sink";

  private final ConnectionEngine engine;
  private final KeyDecoder keys = new KeyDecoder();
  private ProcessorContext<byte[], Object> context;
  private KeyValueStore<Bytes, byte[]> kv;
  private ConnectionEngine.Store store;
  private ConnectionEngine.Output output;

  ConnectionProcessor(ConnectionEngine engine) {
    this.engine = engine;
  }

  @Override
  public void init(ProcessorContext<byte[], Object> context) {
    this.context = context;
    this.kv = context.getStateStore(ProcessorConfig.CONNECTIONS_STORE);
    this.store = new StreamsStore(kv);
    this.output = new ConnectionEngine.Output() {
      @Override
      public void fact(byte[] key, LatencyFact fact) {
        long ts = Math.max(0, fact.getRequestFirstNs() / 1_000_000);
        org.apache.kafka.streams.processor.api.Record<byte[], Object> r =
            new org.apache.kafka.streams.processor.api.Record<>(key, fact, ts);
        context.forward(r, FACTS_SINK);
        context.forward(r, LatencyWindowProcessor.NODE);
      }

      @Override
      public void decodeError(byte[] key, DecodeError error) {
        long ts = Math.max(0, error.getTsNs() / 1_000_000);
        context.forward(new org.apache.kafka.streams.processor.api.Record<byte[], Object>(key, error, ts), ERRORS_SINK);
      }
    };
    Duration every = engine.config().punctuateInterval();
    context.schedule(every, PunctuationType.STREAM_TIME, streamTimeMs -> {
      engine.onStreamTime(streamTimeMs * 1_000_000L, store, output);
      context.forward(new org.apache.kafka.streams.processor.api.Record<byte[], Object>(null,
          new LatencyWindowProcessor.Tick(streamTimeMs), streamTimeMs), LatencyWindowProcessor.NODE);
    });
  }

  /**
   * Kafka Streams keeps the input record's raw bytes in its record context (for a dead-letter
   * queue, which tapflow does not configure), and every entry of a caching store written while
   * the record is processed keeps that context: the latency windows' cache would pin thousands
   * of segment batches (up to ~150 KiB each) on the heap, growing with the traffic until the
   * cache evicts (measured: +100 MB a minute under redis-benchmark; bench/soak.sh). The batch is
   * decoded already; let its bytes go. (An internal Streams API: without it, only memory grows.)
   */
  private void releaseRawRecord() {
    if (context instanceof org.apache.kafka.streams.processor.internals.InternalProcessorContext<?, ?> internal
        && internal.recordContext() != null) {
      internal.recordContext().freeRawRecord();
    }
  }

  @Override
  public void process(org.apache.kafka.streams.processor.api.Record<byte[], SegmentBatch> record) {
    releaseRawRecord();
    if (record.key() == null || record.value() == null) {
      return;
    }
    ConnectionKey key = keys.decode(record.key());
    if (key == null) {
      return; // counted by the key decoder
    }
    engine.onBatch(record.key(), key, record.value(), store, output);
    if (record.value().getEndOfCapture()) {
      context.forward(record.withValue((Object) new LatencyWindowProcessor.AgentEnd(key.getAgent(),
          record.value().getEndTsNs())), LatencyWindowProcessor.NODE);
    }
  }
}
