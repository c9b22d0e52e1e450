package dev.tapflow.cli.replay;

import dev.tapflow.capture.BatchListener;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.SegmentBatch;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The segment batches of a time range, read from the segments topic and handed on in
 * capture-time order across partitions. Each partition starts at the offset
 * {@code offsetsForTimes(from)} names and ends at the first record after {@code to} (or at
 * its end offset when the read began). Partitions are merged by record timestamp (a batch's
 * first segment), so the replayer's schedule is not skewed by one partition being fetched
 * ahead of another; a partition whose buffer is full is paused, so memory stays bounded
 * whatever the range. No consumer group: offsets are assigned, never committed.
 */
public final class KafkaRangeSource {

  /** Records buffered per partition before it is paused. */
  static final int MAX_BUFFERED_PER_PARTITION = 2_000;

  private final Map<String, Object> clientProperties;
  private final String topic;
  private final Instant from;
  private final Instant to;

  /**
   * @param clientProperties Kafka client settings, {@code bootstrap.servers} included
   * @param to               the end of the range (inclusive, ms)
   */
  public KafkaRangeSource(Map<String, Object> clientProperties, String topic, Instant from, Instant to) {
    this.clientProperties = clientProperties;
    this.topic = topic;
    this.from = from;
    this.to = to;
  }

  /**
   * Reads the range into {@code listener}; returns the number of batches read.
   *
   * @throws IllegalStateException when the topic does not exist
   * @throws org.apache.kafka.common.KafkaException when Kafka cannot be read
   */
  public long run(BatchListener listener) {
    Properties p = new Properties();
    clientProperties.forEach((k, v) -> {
      if (ConsumerConfig.configNames().contains(k)) {
        p.put(k, v);
      }
    });
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.remove(ConsumerConfig.GROUP_ID_CONFIG);
    p.putIfAbsent(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
    AvroSerde<ConnectionKey> keys = AvroSerde.connectionKey();
    AvroSerde<SegmentBatch> batches = AvroSerde.segmentBatch();
    long toMs = to.toEpochMilli();
    long read = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
      List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(30));
      if (infos == null || infos.isEmpty()) {
        throw new IllegalStateException("topic " + topic + " does not exist");
      }
      List<TopicPartition> partitions = new ArrayList<>();
      for (PartitionInfo pi : infos) {
        partitions.add(new TopicPartition(topic, pi.partition()));
      }
      consumer.assign(partitions);
      Map<TopicPartition, Long> query = new HashMap<>();
      partitions.forEach(tp -> query.put(tp, from.toEpochMilli()));
      Map<TopicPartition, OffsetAndTimestamp> starts = consumer.offsetsForTimes(query);
      Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
      Map<TopicPartition, ArrayDeque<ConsumerRecord<byte[], byte[]>>> buffered = new HashMap<>();
      List<TopicPartition> open = new ArrayList<>();
      for (TopicPartition tp : partitions) {
        OffsetAndTimestamp start = starts.get(tp);
        if (start != null && start.offset() < ends.get(tp)) {
          consumer.seek(tp, start.offset());
          buffered.put(tp, new ArrayDeque<>());
          open.add(tp);
        }
      }
      consumer.pause(partitions);
      consumer.resume(open);
      List<TopicPartition> done = new ArrayList<>();
      while (!buffered.isEmpty()) {
        for (ConsumerRecord<byte[], byte[]> rec : consumer.poll(Duration.ofMillis(200))) {
          TopicPartition tp = new TopicPartition(rec.topic(), rec.partition());
          if (open.contains(tp)) {
            buffered.get(tp).add(rec);
          }
        }
        for (TopicPartition tp : List.copyOf(open)) {
          ArrayDeque<ConsumerRecord<byte[], byte[]>> q = buffered.get(tp);
          ConsumerRecord<byte[], byte[]> last = q.peekLast();
          boolean finished = last != null ? last.timestamp() > toMs || last.offset() + 1 >= ends.get(tp)
              : consumer.position(tp) >= ends.get(tp);
          if (finished) {
            open.remove(tp);
            done.add(tp);
            consumer.pause(List.of(tp));
          } else if (q.size() >= MAX_BUFFERED_PER_PARTITION) {
            consumer.pause(List.of(tp));
          } else {
            consumer.resume(List.of(tp));
          }
        }
        // hand on in timestamp order while every partition still reading has something buffered
        while (true) {
          TopicPartition next = null;
          ConsumerRecord<byte[], byte[]> head = null;
          boolean starved = false;
          for (Map.Entry<TopicPartition, ArrayDeque<ConsumerRecord<byte[], byte[]>>> e : buffered.entrySet()) {
            ConsumerRecord<byte[], byte[]> h = e.getValue().peekFirst();
            if (h == null) {
              starved |= open.contains(e.getKey());
              continue;
            }
            if (head == null || h.timestamp() < head.timestamp()) {
              head = h;
              next = e.getKey();
            }
          }
          if (head == null || starved) {
            break;
          }
          buffered.get(next).pollFirst();
          if (head.timestamp() > toMs) {
            buffered.get(next).clear(); // past the range: nothing more from this partition
          } else {
            listener.onBatch(keys.decode(head.key()), batches.decode(head.value()));
            read++;
          }
          if (open.contains(next) && buffered.get(next).size() < MAX_BUFFERED_PER_PARTITION) {
            consumer.resume(List.of(next));
          }
        }
        for (TopicPartition tp : done) {
          if (buffered.containsKey(tp) && buffered.get(tp).isEmpty()) {
            buffered.remove(tp);
          }
        }
      }
    }
    return read;
  }
}
