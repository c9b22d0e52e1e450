package dev.tapflow.cli.replay;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Transport;
import dev.tapflow.stream.flow.Flow;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.stream.topology.FactMapper;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * {@code --facts}: one {@link LatencyFact} per replayed request on the facts topic, as the
 * processor would write it for a capture taken at the replayer: {@code vantage = replay},
 * agent {@code replay}, the replayer's connection as client, the target as server, times of
 * the replay (ns since the epoch). The sink stores them with the others; queries tell them
 * apart by vantage. Keyed by the replay connection's {@link ConnectionKey}, like the processor's.
 */
public final class KafkaReplayFacts implements Replayer.FactListener, AutoCloseable {

  /** The vantage of replayed requests' facts. */
  public static final String VANTAGE = "replay";

  private final KafkaProducer<byte[], byte[]> producer;
  private final String topic;
  private final AvroSerde<LatencyFact> facts = AvroSerde.latencyFact();
  private final AvroSerde<ConnectionKey> keys = AvroSerde.connectionKey();
  private final AtomicLong published = new AtomicLong();
  private final AtomicReference<Exception> error = new AtomicReference<>();

  /** @param clientProperties Kafka client settings, {@code bootstrap.servers} included */
  public KafkaReplayFacts(Map<String, Object> clientProperties, String topic) {
    Properties p = new Properties();
    clientProperties.forEach((k, v) -> {
      if (ProducerConfig.configNames().contains(k)) {
        p.put(k, v);
      }
    });
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    p.putIfAbsent(ProducerConfig.LINGER_MS_CONFIG, "20");
    p.putIfAbsent(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    this.producer = new KafkaProducer<>(p);
    this.topic = topic;
  }

  @Override
  public void fact(Flow connection, Exchange replayed) {
    LatencyFact f = FactMapper.toFact(connection, replayed);
    f.setVantage(VANTAGE);
    producer.send(new ProducerRecord<>(topic, null, replayed.requestFirstNs() / 1_000_000L, key(connection),
        facts.encode(f)), (meta, e) -> {
          if (e != null) {
            error.compareAndSet(null, e);
          } else {
            published.incrementAndGet();
          }
        });
  }

  /** The connection key in canonical order: address bytes unsigned, then port. */
  private byte[] key(Flow c) {
    int cmp = Arrays.compareUnsigned(c.clientIp(), c.serverIp());
    boolean clientFirst = cmp < 0 || cmp == 0 && c.clientPort() <= c.serverPort();
    byte[] ipA = clientFirst ? c.clientIp() : c.serverIp();
    byte[] ipB = clientFirst ? c.serverIp() : c.clientIp();
    return keys.encode(new ConnectionKey(c.agent(), Transport.TCP, ByteBuffer.wrap(ipA),
        clientFirst ? c.clientPort() : c.serverPort(), ByteBuffer.wrap(ipB), clientFirst ? c.serverPort() : c.clientPort()));
  }

  /** Facts acknowledged by Kafka so far. */
  public long published() {
    return published.get();
  }

  /** Sends what is buffered (waiting at most 30 s); fails with the first error Kafka reported. */
  @Override
  public void close() {
    producer.close(java.time.Duration.ofSeconds(30));
    if (error.get() != null) {
      throw new org.apache.kafka.common.KafkaException("facts not published to " + topic + ": "
          + error.get().getMessage(), error.get());
    }
  }
}
