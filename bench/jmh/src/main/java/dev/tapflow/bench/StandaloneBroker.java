package dev.tapflow.bench;

import dev.tapflow.embedded.EmbeddedKafka;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A broker of its own for bench/capture.sh, so the agent's process measures only the agent:
 * {@code StandaloneBroker DIR PARTITIONS} starts the embedded KRaft broker in DIR, creates the
 * segments and capture-stats topics, writes its bootstrap address to DIR/bootstrap, and runs
 * until its standard input closes.
 */
public final class StandaloneBroker {
  private StandaloneBroker() {}

  public static void main(String[] args) throws IOException {
    Path dir = Path.of(args[0]);
    int partitions = Integer.parseInt(args[1]);
    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"))) {
      kafka.createTopics(Map.of("tapflow.segments.v1", partitions, "tapflow.capture-stats.v1", 1));
      Files.writeString(dir.resolve("bootstrap"), kafka.bootstrapServers(), StandardCharsets.UTF_8);
      while (System.in.read() >= 0) {
        // until the script closes our stdin
      }
    }
  }
}
