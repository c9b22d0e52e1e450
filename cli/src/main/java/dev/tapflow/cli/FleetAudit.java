package dev.tapflow.cli;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.LatencyFact;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * What bench/fleet.sh asks Kafka, in a JVM of its own (not a tapflow command: a bench tool in the
 * jar). Every line it prints is {@code key=value} pairs.
 *
 * <pre>
 *   FleetAudit facts BOOTSTRAP TOPIC
 *       the topic read whole, read_committed: records, distinct fact ids, duplicates (records
 *       whose id was seen before) and undecodable records
 *   FleetAudit await BOOTSTRAP GROUP TOPIC TIMEOUT_S
 *       waits until GROUP has committed TOPIC's end offsets (as of the call); prints when the
 *       group's committed offsets first moved and when they reached the end (ms since the call)
 * </pre>
 */
public final class FleetAudit {
  private FleetAudit() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 3 && args[0].equals("facts")) {
      System.out.println(facts(args[1], args[2]));
    } else if (args.length == 5 && args[0].equals("await")) {
      String line = await(args[1], args[2], args[3], Duration.ofSeconds(Long.parseLong(args[4])));
      System.out.println(line);
      System.exit(line.startsWith("caught_up=true") ? 0 : 1);
    } else {
      System.err.println("usage: FleetAudit facts BOOTSTRAP TOPIC | await BOOTSTRAP GROUP TOPIC TIMEOUT_S");
      System.exit(2);
    }
  }

  /** {@code records=N distinct=N duplicates=N undecodable=N} for {@code topic}, read_committed. */
  static String facts(String bootstrap, String topic) {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    p.put("isolation.level", "read_committed");
    p.put("max.poll.records", "5000");
    AvroSerde<LatencyFact> serde = AvroSerde.latencyFact();
    long records = 0;
    long duplicates = 0;
    long undecodable = 0;
    Set<String> ids = new HashSet<>();
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      List<TopicPartition> tps = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
          .map(i -> new TopicPartition(topic, i.partition())).toList();
      c.assign(tps);
      c.seekToBeginning(tps);
      Map<TopicPartition, Long> end = c.endOffsets(tps); // read_committed: the last stable offsets
      while (tps.stream().anyMatch(tp -> c.position(tp) < end.get(tp))) {
        for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
          records++;
          try {
            if (!ids.add(serde.decode(r.value()).getId())) {
              duplicates++;
            }
          } catch (RuntimeException e) {
            undecodable++;
          }
        }
      }
    }
    return String.format(Locale.ROOT, "records=%d distinct=%d duplicates=%d undecodable=%d", records, ids.size(),
        duplicates, undecodable);
  }

  /** {@code caught_up=true|false first_progress_ms=N caught_up_ms=N committed=N end=N}. */
  static String await(String bootstrap, String group, String topic, Duration timeout) throws Exception {
    Properties p = new Properties();
    p.put("bootstrap.servers", bootstrap);
    long t0 = System.nanoTime();
    long firstProgress = -1;
    try (Admin admin = Admin.create(p)) {
      var partitions = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic)
          .partitions();
      Map<TopicPartition, OffsetSpec> specs = new java.util.HashMap<>();
      partitions.forEach(pi -> specs.put(new TopicPartition(topic, pi.partition()), OffsetSpec.latest()));
      Map<TopicPartition, Long> end = new java.util.HashMap<>();
      admin.listOffsets(specs).all().get(30, TimeUnit.SECONDS).forEach((tp, info) -> end.put(tp, info.offset()));
      long endTotal = end.values().stream().mapToLong(Long::longValue).sum();
      long committedTotal = 0;
      while (System.nanoTime() - t0 < timeout.toNanos()) {
        Map<TopicPartition, OffsetAndMetadata> committed = admin.listConsumerGroupOffsets(group)
            .partitionsToOffsetAndMetadata().get(30, TimeUnit.SECONDS);
        committedTotal = 0;
        for (TopicPartition tp : end.keySet()) {
          OffsetAndMetadata o = committed.get(tp);
          committedTotal += o == null ? 0 : Math.min(o.offset(), end.get(tp));
        }
        long now = (System.nanoTime() - t0) / 1_000_000;
        if (committedTotal > 0 && firstProgress < 0) {
          firstProgress = now;
        }
        if (committedTotal >= endTotal) {
          return String.format(Locale.ROOT, "caught_up=true first_progress_ms=%d caught_up_ms=%d committed=%d end=%d",
              firstProgress, now, committedTotal, endTotal);
        }
        Thread.sleep(100);
      }
      return String.format(Locale.ROOT, "caught_up=false first_progress_ms=%d caught_up_ms=-1 committed=%d end=%d",
          firstProgress, committedTotal, endTotal);
    }
  }
}
