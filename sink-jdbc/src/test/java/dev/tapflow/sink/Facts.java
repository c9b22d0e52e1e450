package dev.tapflow.sink;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import dev.tapflow.schemas.Transport;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/** Test facts built with the generated builder, and a transactional producer for them. */
final class Facts {
  static final long T0 = 1_763_900_000_000_000_000L; // 2025-11-23, in ns
  private static final AvroSerde<ConnectionKey> KEYS = AvroSerde.connectionKey();
  private static final AvroSerde<LatencyFact> VALUES = AvroSerde.latencyFact();

  private Facts() {}

  /** Fact number {@code i}: a GET or SET from one of 7 client ports, OK, latency {@code latencyNs}. */
  static LatencyFact fact(String idPrefix, int i, long latencyNs) {
    long requestLast = T0 + i * 1_000_000L + 2_000;
    return LatencyFact.newBuilder()
        .setId(idPrefix + "-" + i)
        .setAgent("test-agent")
        .setProtocol("redis")
        .setVantage("client")
        .setClientIp("10.0.0.1")
        .setClientPort(40_000 + i % 7)
        .setServerIp("10.0.0.2")
        .setServerPort(6379)
        .setCommand(i % 2 == 0 ? "GET" : "SET")
        .setResource("key:" + i)
        .setStatus(Status.OK)
        .setRequestFirstNs(T0 + i * 1_000_000L)
        .setRequestLastNs(requestLast)
        .setResponseFirstNs(requestLast + latencyNs)
        .setResponseLastNs(requestLast + latencyNs + 500)
        .setLatencyNs(latencyNs)
        .setRequestBytes(30)
        .setResponseBytes(12)
        .setRequestOffset(i * 30L)
        .setArgs("key:" + i)
        .build();
  }

  static byte[] key(LatencyFact f) {
    ConnectionKey k = ConnectionKey.newBuilder()
        .setAgent(f.getAgent())
        .setTransport(Transport.TCP)
        .setIpA(ByteBuffer.wrap(new byte[] {10, 0, 0, 1}))
        .setPortA(f.getClientPort())
        .setIpB(ByteBuffer.wrap(new byte[] {10, 0, 0, 2}))
        .setPortB(f.getServerPort())
        .build();
    return KEYS.encode(k);
  }

  static byte[] value(LatencyFact f) {
    return VALUES.encode(f);
  }

  static KafkaProducer<byte[], byte[]> transactionalProducer(String bootstrap) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "facts-test-" + UUID.randomUUID());
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    KafkaProducer<byte[], byte[]> producer =
        new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer());
    producer.initTransactions();
    return producer;
  }

  /** Sends the facts (keyed by their ConnectionKey) in one committed transaction. */
  static void produce(KafkaProducer<byte[], byte[]> producer, String topic, List<LatencyFact> facts) {
    producer.beginTransaction();
    for (LatencyFact f : facts) {
      producer.send(new ProducerRecord<>(topic, key(f), value(f)));
    }
    producer.commitTransaction();
  }
}
