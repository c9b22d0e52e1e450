package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.embedded.EmbeddedKafka;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The importer's producer publishing into topics the moment they are created: the first
 * request to a partition can be refused (NOT_LEADER_OR_FOLLOWER, the broker still creating it)
 * while a later one lands. With several requests in flight the broker then started the
 * producer at the later sequence and refused every retry of the first batch
 * (OUT_OF_ORDER_SEQUENCE_NUMBER) until the delivery timeout: 18 of 30 rounds failed so before
 * {@link KafkaSegmentPublisher#producerConfig} kept one request in flight. Every record must
 * be delivered in every round.
 */
class FreshTopicPublishTest {
  private static final int ROUNDS = 6;

  @TempDir
  Path dir;

  @Test
  void everyRecordIsDeliveredToATopicCreatedAMomentBefore() throws Exception {
    Path fixture = LocalPipelineTest.FIXTURES.resolve("benchmark-pipelined.pcap");
    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"));
         Admin admin = Admin.create(kafka.adminProperties())) {
      for (int i = 0; i < ROUNDS; i++) {
        String topic = "fresh-" + i;
        admin.createTopics(List.of(new NewTopic(topic, 8, (short) 1))).all().get(30, TimeUnit.SECONDS);
        // small batches sent at once: many requests, so several would be in flight; a short
        // delivery timeout so a stuck batch fails the round in seconds, not minutes
        try (KafkaSegmentPublisher p = new KafkaSegmentPublisher(kafka.bootstrapServers(), topic,
            Map.of("linger.ms", "0", "batch.size", "2000", "delivery.timeout.ms", "15000", "request.timeout.ms", "5000"))) {
          for (int copy = 0; copy < 3; copy++) {
            ImportCommand.importAll(List.of(fixture), "copy-" + copy, p);
          }
          p.flush(); // throws PublishException naming the first error if any record failed
          assertEquals(p.sent(), p.acked(), "round " + i);
        }
      }
    }
  }
}
