package dev.tapflow.bench;

import dev.tapflow.embedded.EmbeddedKafka;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Kafka traffic for bench/generate.sh: {@code KafkaTraffic DIR RECORDS} starts the embedded
 * KRaft broker in DIR with a topic {@code bench} of 4 partitions, writes the broker's port to
 * DIR/port, waits for a line on standard input (the script's tcpdump is listening by then),
 * then a producer (acks=1, no linger, a batch per record, one request in flight: many Produce requests) and a consumer in a
 * group (small fetches: many Fetch requests, offset commits) move RECORDS records of 100 bytes,
 * and it exits once the consumer has read them all.
 */
public final class KafkaTraffic {
  private KafkaTraffic() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    long records = Long.parseLong(args[1]);
    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"))) {
      kafka.createTopics(Map.of("bench", 4));
      Files.writeString(dir.resolve("port"), Integer.toString(kafka.port()), StandardCharsets.UTF_8);
      new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();

      AtomicLong consumed = new AtomicLong();
      Thread consumer = new Thread(() -> consume(kafka.bootstrapServers(), records, consumed), "bench-consumer");
      consumer.start();
      Properties p = new Properties();
      p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers());
      p.put(ProducerConfig.ACKS_CONFIG, "1");
      p.put(ProducerConfig.LINGER_MS_CONFIG, "0");
      p.put(ProducerConfig.BATCH_SIZE_CONFIG, "16"); // a batch per record
      p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
      p.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
      byte[] value = new byte[100];
      long t0 = System.nanoTime();
      try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(), new ByteArraySerializer())) {
        for (long i = 0; i < records; i++) {
          byte[] key = Long.toString(i).getBytes(StandardCharsets.US_ASCII);
          producer.send(new ProducerRecord<>("bench", key, value));
        }
        producer.flush();
      }
      consumer.join();
      System.out.printf("kafka-traffic: %d records produced and consumed in %.1f s%n", consumed.get(),
          (System.nanoTime() - t0) / 1e9);
    }
  }

  private static void consume(String bootstrap, long records, AtomicLong consumed) {
    Properties c = new Properties();
    c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    c.put(ConsumerConfig.GROUP_ID_CONFIG, "bench-consumer");
    c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    c.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, "4096");
    c.put(ConsumerConfig.FETCH_MAX_BYTES_CONFIG, "4096");
    c.put(ConsumerConfig.AUTO_COMMIT_INTERVAL_MS_CONFIG, "200");
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
      consumer.subscribe(List.of("bench"));
      while (consumed.get() < records) {
        consumed.addAndGet(consumer.poll(Duration.ofMillis(200)).count());
      }
      consumer.commitSync();
    }
  }
}
