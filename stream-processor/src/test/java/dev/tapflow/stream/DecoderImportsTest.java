package dev.tapflow.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Decoders, pairing and flow tracking stand alone: no Kafka, Avro or pcap4j type in these
 * packages (STYLE.md, "Layout"), so they are tested, fuzzed and benchmarked without them.
 */
class DecoderImportsTest {

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"flow", "protocol", "protocol/redis", "protocol/memcached", "protocol/dns", "tcp", "udp"})
  void importsNoKafkaAvroOrPcap4j(String pkg) throws IOException {
    Path dir = Path.of("src/main/java/dev/tapflow/stream", pkg);
    assertTrue(Files.isDirectory(dir), "run from the stream-processor module: " + dir);
    List<String> bad = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(f -> f.toString().endsWith(".java")).toList()) {
        for (String l : Files.readAllLines(f)) {
          if (l.startsWith("import ") && (l.contains("org.apache.kafka") || l.contains("org.apache.avro")
              || l.contains("org.pcap4j"))) {
            bad.add(f.getFileName() + ": " + l);
          }
        }
      }
    }
    assertEquals(List.of(), bad);
  }
}
