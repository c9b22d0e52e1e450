package dev.tapflow.embedded;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;

/** A real broker: format, produce transactionally, consume, stop, restart on the same directory. */
class EmbeddedKafkaTest {

  @Test
  void producesConsumesAndKeepsDataAcrossRestart() throws Exception {
    Path dir = Files.createDirectories(Paths.get("target", "it", "kafka-" + UUID.randomUUID()));
    String topic = "tapflow.test.v1";
    String clusterId;
    int firstPort;

    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir)) {
      assertTrue(kafka.formattedOnStart());
      System.out.printf("EmbeddedKafka first start: %d ms%n", kafka.startTime().toMillis());
      clusterId = kafka.clusterId();
      firstPort = kafka.port();
      kafka.createTopics(Map.of(topic, 3));
      kafka.createTopics(Map.of(topic, 3, "tapflow.other.v1", 1)); // idempotent, adds the missing one
      try (Admin admin = Admin.create(kafka.adminProperties())) {
        assertEquals(3, admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size());
        assertTrue(admin.listTopics().names().get().contains("tapflow.other.v1"));
      }
      produceTransactionally(kafka.bootstrapServers(), topic, 0, 100);
      assertEquals(100, consumeAll(kafka.bootstrapServers(), topic, 100).size());
      kafka.close();
      assertDoesNotThrow(kafka::close, "closing twice");
    }

    try (EmbeddedKafka kafka = EmbeddedKafka.builder(dir).start()) {
      assertFalse(kafka.formattedOnStart());
      System.out.printf("EmbeddedKafka restart: %d ms (port %d, was %d)%n",
          kafka.startTime().toMillis(), kafka.port(), firstPort);
      assertEquals(clusterId, kafka.clusterId());
      produceTransactionally(kafka.bootstrapServers(), topic, 100, 50);
      List<String> all = consumeAll(kafka.bootstrapServers(), topic, 150);
      assertEquals(150, all.size());
      assertTrue(all.contains("v0") && all.contains("v149"));
    }
  }

  @Test
  void givenPortIsUsed() {
    Path dir = Paths.get("target", "it", "kafka-port-" + UUID.randomUUID());
    int port = FreePort.pick();
    try (EmbeddedKafka kafka = EmbeddedKafka.builder(dir).port(port).start()) {
      assertEquals("127.0.0.1:" + port, kafka.bootstrapServers());
      assertNotEquals(null, kafka.clusterId());
    }
  }

  /** The controller port is recorded and reused; if it is taken, a new one works too. */
  @Test
  void restartsOnAnotherControllerPort() throws Exception {
    Path dir = Paths.get("target", "it", "kafka-ctl-" + UUID.randomUUID());
    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir)) {
      kafka.createTopics(Map.of("a", 1));
      produceTransactionally(kafka.bootstrapServers(), "a", 0, 10);
    }
    try (EmbeddedKafka kafka = EmbeddedKafka.builder(dir).controllerPort(FreePort.pick()).start()) {
      kafka.createTopics(Map.of("b", 1)); // needs the controller
      produceTransactionally(kafka.bootstrapServers(), "a", 10, 10);
      assertEquals(20, consumeAll(kafka.bootstrapServers(), "a", 20).size());
    }
  }

  private static void produceTransactionally(String bootstrap, String topic, int from, int count) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "test-" + UUID.randomUUID());
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      producer.initTransactions();
      producer.beginTransaction();
      for (int i = from; i < from + count; i++) {
        producer.send(new ProducerRecord<>(topic, "k" + i, "v" + i));
      }
      producer.commitTransaction();
    }
  }

  private static List<String> consumeAll(String bootstrap, String topic, int expected) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, "test-" + UUID.randomUUID());
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
    List<String> values = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
      consumer.subscribe(List.of(topic));
      while (values.size() < expected && System.nanoTime() < deadline) {
        for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
          values.add(r.value());
        }
      }
    }
    return values;
  }
}
