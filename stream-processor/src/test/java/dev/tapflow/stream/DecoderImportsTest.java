package dev.tapflow.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Decoders, pairing and flow tracking stand alone: no Kafka, Avro or pcap4j type in these
 * packages (STYLE.md, "Layout"), so they are tested, fuzzed and benchmarked without them.
 *
 * <p>Narrowed for {@code protocol/kafka} only: decoding the Kafka wire protocol with
 * kafka-clients' own protocol classes is the point there (issue 4), so {@value #KAFKA_BODY_PARSER},
 * the one class of that package that parses bodies, may import {@code org.apache.kafka.common.Uuid}
 * and the {@code org.apache.kafka.common.protocol}, {@code .message}, {@code .record} and
 * {@code .requests} packages. Nothing else there: no Kafka client, Streams or server type,
 * and its framing, pairing and probe are Kafka-free like every other decoder.
 */
class DecoderImportsTest {

  private static final String KAFKA_BODY_PARSER = "KafkaApis.java";
  private static final List<String> KAFKA_PROTOCOL_CLASSES = List.of("org.apache.kafka.common.Uuid;",
      "org.apache.kafka.common.protocol.", "org.apache.kafka.common.message.", "org.apache.kafka.common.record.",
      "org.apache.kafka.common.requests.");

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"flow", "protocol", "protocol/redis", "protocol/memcached", "protocol/dns", "protocol/kafka",
      "tcp", "udp"})
  void importsNoKafkaAvroOrPcap4j(String pkg) throws IOException {
    Path dir = Path.of("src/main/java/dev/tapflow/stream", pkg);
    assertTrue(Files.isDirectory(dir), "run from the stream-processor module: " + dir);
    List<String> bad = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        boolean kafkaBodyParser = pkg.equals("protocol/kafka") && f.getFileName().toString().equals(KAFKA_BODY_PARSER);
        for (String l : Files.readAllLines(f)) {
          String imported = l.startsWith("import ") ? l.substring(l.lastIndexOf(' ') + 1) : "";
          if (kafkaBodyParser && KAFKA_PROTOCOL_CLASSES.stream().anyMatch(imported::startsWith)) {
            continue;
          }
          if (l.startsWith("import ") && (l.contains("org.apache.kafka") || l.contains("org.apache.avro")
              || l.contains("org.pcap4j"))) {
            bad.add(f.getFileName() + ": " + l);
          }
        }
      }
    }
    assertEquals(List.of(), bad);
  }

  /** The narrowing is used, not dead: the Kafka decoder parses bodies with kafka-clients. */
  @Test
  void theKafkaBodyParserUsesKafkaClients() throws IOException {
    assertTrue(Files.readAllLines(Path.of("src/main/java/dev/tapflow/stream/protocol/kafka", KAFKA_BODY_PARSER))
        .contains("import org.apache.kafka.common.requests.AbstractResponse;"));
  }
}
