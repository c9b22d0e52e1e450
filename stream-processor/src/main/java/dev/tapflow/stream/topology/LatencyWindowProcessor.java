package dev.tapflow.stream.topology;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.LatencyWindow;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/**
 * The Kafka Streams side of {@link LatencyWindowAggregator}: a child of the connections
 * processor in the same task, state in the task's changelogged store
 * {@value LatencyWindowConfig#STORE}, part = the task's partition.
 */
final class LatencyWindowProcessor implements Processor<byte[], Object, byte[], Object> {

  static final String NODE = "latency-windows";
  static final String SINK = "latency-windows-sink";
  static final String LATE_FACTS = LatencyWindowAggregator.LATE_FACTS;

  /** Stream time reached {@code streamTimeMs} and the connections were swept. */
  record Tick(long streamTimeMs) {}

  /** The agent's capture ended at {@code endNs} and its connections were closed. */
  record AgentEnd(String agent, long endNs) {}

  private final LatencyWindowConfig config;
  private final ProcessorConfig processorConfig;
  private final LatencyWindowCounters counters;
  private LatencyWindowAggregator windows;

  LatencyWindowProcessor(LatencyWindowConfig config, ProcessorConfig processorConfig, LatencyWindowCounters counters) {
    this.config = config;
    this.processorConfig = processorConfig;
    this.counters = counters;
  }

  @Override
  public void init(ProcessorContext<byte[], Object> context) {
    KeyValueStore<Bytes, byte[]> kv = context.getStateStore(LatencyWindowConfig.STORE);
    windows = new LatencyWindowAggregator(config, processorConfig, counters, new StreamsStore(kv),
        context.taskId().partition(), new LatencyWindowAggregator.Output() {
          @Override
          public void window(byte[] key, LatencyWindow window, long timestampMs) {
            context.forward(new Record<>(key, window, timestampMs), SINK);
          }

          @Override
          public void anomaly(byte[] key, DecodeError error, long timestampMs) {
            context.forward(new Record<>(key, error, timestampMs), ConnectionProcessor.ERRORS_SINK);
          }
        });
  }

  @Override
  public void process(Record<byte[], Object> record) {
    Object v = record.value();
    if (v instanceof LatencyFact f) {
      windows.add(f);
    } else if (v instanceof Tick t) {
      windows.onTick(t.streamTimeMs());
    } else if (v instanceof AgentEnd e) {
      windows.onAgentEnd(e.agent(), e.endNs());
    }
  }
}
