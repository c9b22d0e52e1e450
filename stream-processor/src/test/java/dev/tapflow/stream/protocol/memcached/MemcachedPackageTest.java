package dev.tapflow.stream.protocol.memcached;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The decoders stand alone: no Kafka, Avro or pcap4j type in this package (STYLE.md, "Layout"). */
class MemcachedPackageTest {

  @Test
  void importsNoKafkaAvroOrPcap4j() throws IOException {
    Path dir = Path.of("src/main/java/dev/tapflow/stream/protocol/memcached");
    assertTrue(Files.isDirectory(dir), "run from the stream-processor module");
    try (Stream<Path> files = Files.list(dir)) {
      List<String> bad = files.filter(f -> f.toString().endsWith(".java")).flatMap(f -> {
        try {
          return Files.readAllLines(f).stream().filter(l -> l.startsWith("import ")
              && (l.contains("org.apache.kafka") || l.contains("org.apache.avro") || l.contains("org.pcap4j")))
              .map(l -> f.getFileName() + ": " + l);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }).toList();
      assertEquals(List.of(), bad);
    }
  }
}
