package dev.tapflow.stream.topology;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.state.Stores;

/**
 * The one place the Kafka Streams topology is built; the processor role and the tests both
 * call {@link #build}.
 *
 * <pre>
 * tapflow.segments.v1 (ConnectionKey bytes, SegmentBatch)
 *   -> connections (ConnectionProcessor, store "connections")
 *        -> tapflow.facts.v1          (same key, LatencyFact)
 *        -> tapflow.decode-errors.v1  (same key, DecodeError)
 *   (poison: a key or value that is not our Avro -> tapflow.dead-letters.v1, see DeadLetters)
 *        -> latency-windows (LatencyWindowProcessor, store "latency-windows"; facts, ticks, ends of capture)
 *             -> tapflow.latency-1m.v1     (group|window text key, LatencyWindow)
 *             -> tapflow.decode-errors.v1  (LATENCY_WINDOW_LATE_FACTS)
 * tapflow.facts.v1 (read back) -> the vantage join (VantageJoin: repartition, windowed join)
 *             -> tapflow.vantage-pairs.v1  (join key text, VantagePair)
 * </pre>
 *
 * Keys are passed through as bytes: the store and both outputs use the serialised
 * ConnectionKey, so facts land in the same partition number as their segments. The
 * latency windows are aggregated in the same task as the facts (one sub-topology, no
 * repartition): each task publishes its part of a window, and parts merge exactly.
 */
public final class TapflowTopology {

  private TapflowTopology() {}

  public static Topology build(ProcessorConfig config) {
    ConnectionEngine engine = new ConnectionEngine(config);
    return build(config, engine);
  }

  /** As {@link #build(ProcessorConfig)}, with an engine the caller keeps for its counters. */
  public static Topology build(ProcessorConfig config, ConnectionEngine engine) {
    return build(config, engine, LatencyWindowConfig.defaults(), new LatencyWindowCounters());
  }

  /** As {@link #build(ProcessorConfig, ConnectionEngine)}, with the latency windows' settings and counters. */
  public static Topology build(ProcessorConfig config, ConnectionEngine engine, LatencyWindowConfig windows,
      LatencyWindowCounters windowCounters) {
    return build(config, engine, windows, windowCounters, VantageJoinConfig.disabled(), new VantageJoinCounters());
  }

  /**
   * The whole topology: with {@code vantage} enabled, the vantage join ({@link VantageJoin}, DSL)
   * reads the facts back in the same application.
   */
  public static Topology build(ProcessorConfig config, ConnectionEngine engine, LatencyWindowConfig windows,
      LatencyWindowCounters windowCounters, VantageJoinConfig vantage, VantageJoinCounters vantageCounters) {
    AvroSerde<LatencyFact> factSerde = AvroSerde.latencyFact();
    AvroSerde<DecodeError> errorSerde = AvroSerde.decodeError();
    Topology t;
    if (vantage.enabled()) {
      StreamsBuilder dsl = new StreamsBuilder();
      VantageJoin.define(dsl, config.factsTopic(), vantage, vantageCounters);
      t = dsl.build(); // the processor API nodes below join the DSL's in one Topology
    } else {
      t = new Topology();
    }
    // a key or value that does not decode is a poison record: see DeadLetters
    t.addSource("segments", new DeadLetters.CheckedKey(), AvroSerde.segmentBatch().deserializer(),
        config.segmentsTopic());
    t.addProcessor("connections", () -> new ConnectionProcessor(engine), "segments");
    t.addStateStore(Stores.keyValueStoreBuilder(
        Stores.persistentKeyValueStore(ProcessorConfig.CONNECTIONS_STORE),
        Serdes.Bytes(), Serdes.ByteArray()), "connections");
    t.addSink(ConnectionProcessor.FACTS_SINK, config.factsTopic(), new ByteArraySerializer(),
        cast(factSerde.serializer()), "connections");
    t.addProcessor(LatencyWindowProcessor.NODE, () -> new LatencyWindowProcessor(windows, config, windowCounters),
        "connections");
    // caching: a fact updates two small entries; the store and its changelog see the latest
    // value per key once per commit instead of once per fact
    t.addStateStore(Stores.keyValueStoreBuilder(
        Stores.persistentKeyValueStore(LatencyWindowConfig.STORE), Serdes.Bytes(), Serdes.ByteArray())
        .withCachingEnabled(), LatencyWindowProcessor.NODE);
    t.addSink(LatencyWindowProcessor.SINK, windows.topic(), new ByteArraySerializer(),
        cast(AvroSerde.latencyWindow().serializer()), LatencyWindowProcessor.NODE);
    t.addSink(ConnectionProcessor.ERRORS_SINK, config.decodeErrorsTopic(), new ByteArraySerializer(),
        cast(errorSerde.serializer()), "connections", LatencyWindowProcessor.NODE);
    return t;
  }

  /**
   * Streams settings tapflow relies on: exactly_once_v2, undecodable records (poison) counted,
   * copied to the dead-letter topic and skipped ({@link DeadLetters}) instead of stopping the task,
   * a bounded input buffer.
   * The caller adds bootstrap servers, application id, state dir and anything else.
   */
  public static Properties baseProperties() {
    Properties p = new Properties();
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.DESERIALIZATION_EXCEPTION_HANDLER_CLASS_CONFIG, DeadLetters.class);
    p.put(StreamsConfig.producerPrefix("compression.type"), "lz4");
    p.put("processing.exception.handler.global.enabled", "true");
    // Records fetched ahead of processing: with Kafka Streams' defaults (a poll returns up to
    // 1000 records, and 1000 are buffered per partition) a processor that falls behind a fast
    // capture holds thousands of segment batches (up to ~150 KiB each) on its heap. 100 per
    // poll and 32 per partition keep it busy and its memory flat (bench/soak.sh).
    p.put(StreamsConfig.mainConsumerPrefix(org.apache.kafka.clients.consumer.ConsumerConfig.MAX_POLL_RECORDS_CONFIG),
        "100");
    p.put("buffered.records.per.partition", "32");
    return p;
  }

  @SuppressWarnings("unchecked")
  private static Serializer<Object> cast(Serializer<?> s) {
    return (Serializer<Object>) s;
  }
}
