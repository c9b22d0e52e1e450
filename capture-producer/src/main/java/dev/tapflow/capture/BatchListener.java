package dev.tapflow.capture;

import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.VantageSetting;

/**
 * Receives the {@code SegmentBatch}es of a capture, on the reading thread, in emission order.
 * Batches of one connection arrive in capture order. No Kafka types: {@link KafkaSegmentPublisher}
 * is one implementation; {@code tapflow analyze} feeds the processor's engine directly.
 *
 * <p>The {@link ConnectionKey} instance is shared by every batch of a connection (built once):
 * treat it, and the batch, as immutable. The record timestamp of a batch is its first segment's
 * capture time in ms ({@link #timestampMs(SegmentBatch)}).
 *
 * <p>An unchecked exception thrown here stops the import and propagates to its caller.
 */
@FunctionalInterface
public interface BatchListener {

  /** One batch: at least one segment, all of connection {@code key}, in capture order. */
  void onBatch(ConnectionKey key, SegmentBatch batch);

  /**
   * The capture of {@code agent} ended; every batch of it has been passed to {@link #onBatch}.
   * {@code lastTsNs} is the capture time of its last packet (0 when it had none).
   */
  default void onEndOfCapture(String agent, long lastTsNs) {}

  /**
   * {@code listener} with every batch labelled with the agent's {@code --vantage} (AUTO: unchanged):
   * which side of its connections the capture point is on, as the operator says.
   */
  static BatchListener withVantage(BatchListener listener, VantageSetting vantage) {
    if (vantage == VantageSetting.AUTO) {
      return listener;
    }
    return new BatchListener() {
      @Override
      public void onBatch(ConnectionKey key, SegmentBatch batch) {
        batch.setVantage(vantage);
        listener.onBatch(key, batch);
      }

      @Override
      public void onEndOfCapture(String agent, long lastTsNs) {
        listener.onEndOfCapture(agent, lastTsNs);
      }
    };
  }

  /** The record timestamp of a batch: its first segment's capture time in ms. */
  static long timestampMs(SegmentBatch batch) {
    return Math.floorDiv(batch.getSegments().get(0).getTsNs(), 1_000_000L);
  }
}
