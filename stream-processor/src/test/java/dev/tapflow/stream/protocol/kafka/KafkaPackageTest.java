package dev.tapflow.stream.protocol.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The decoder packages' import rule (STYLE.md, "Layout": no Kafka, Avro or pcap4j type in a
 * decoder, so it is tested, fuzzed and benchmarked alone; enforced for the other decoder
 * packages by their own import test), narrowed for this package only: decoding the Kafka
 * wire protocol with kafka-clients' own protocol classes is the point here (issue 4), so
 * {@code KafkaApis.java}, the one class that parses bodies, may import
 * {@code org.apache.kafka.common.Uuid} and the {@code org.apache.kafka.common.protocol},
 * {@code .message}, {@code .record} and {@code .requests} packages. Nothing else: no Kafka
 * client, Streams or server type anywhere, no Avro or pcap4j, and framing
 * ({@link KafkaDecoder}), pairing ({@link KafkaSession}) and the probe stay Kafka-free.
 */
class KafkaPackageTest {

  private static final Path DIR = Path.of("src/main/java/dev/tapflow/stream/protocol/kafka");
  private static final String BODY_PARSER = "KafkaApis.java";
  private static final List<String> KAFKA_PROTOCOL_CLASSES = List.of("org.apache.kafka.common.Uuid;",
      "org.apache.kafka.common.protocol.", "org.apache.kafka.common.message.", "org.apache.kafka.common.record.",
      "org.apache.kafka.common.requests.");

  @Test
  void onlyTheBodyParserImportsKafkaClientsAndOnlyItsProtocolClasses() throws IOException {
    assertTrue(Files.isDirectory(DIR), "run from the stream-processor module");
    List<String> bad = new ArrayList<>();
    try (Stream<Path> files = Files.list(DIR)) {
      for (Path f : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        for (String line : Files.readAllLines(f)) {
          String imported = line.startsWith("import ") ? line.substring(line.lastIndexOf(' ') + 1) : "";
          boolean banned = imported.startsWith("org.apache.kafka") || imported.startsWith("org.apache.avro")
              || imported.startsWith("org.pcap4j");
          boolean allowed = f.getFileName().toString().equals(BODY_PARSER)
              && KAFKA_PROTOCOL_CLASSES.stream().anyMatch(imported::startsWith);
          if (banned && !allowed) {
            bad.add(f.getFileName() + ": " + line);
          }
        }
      }
    }
    assertEquals(List.of(), bad);
  }

  /** The narrowing is used, not dead: KafkaApis parses with kafka-clients. */
  @Test
  void theBodyParserUsesKafkaClients() throws IOException {
    assertTrue(Files.readAllLines(DIR.resolve(BODY_PARSER)).contains(
        "import org.apache.kafka.common.requests.AbstractResponse;"));
  }
}
