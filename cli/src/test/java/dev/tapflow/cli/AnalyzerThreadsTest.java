package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * {@code tapflow analyze --threads N}: the connections spread over N engines on threads of
 * their own make the same facts, anomalies and decode errors as one engine, on every
 * recorded fixture of every protocol (each directory analysed as one capture, so the sweeps
 * and ends of capture of several files cross the shards too).
 */
class AnalyzerThreadsTest {
  private static final Path PCAP = Path.of("..", "stream-processor", "src", "test", "resources", "pcap");

  @Test
  void everyFixtureGivesTheSameFactsOnOneEngineAndOnThree() throws Exception {
    List<Path> dirs;
    try (Stream<Path> s = Files.list(PCAP)) {
      dirs = s.filter(Files::isDirectory).sorted().toList();
    }
    assertTrue(dirs.size() >= 5, "fixture directories: " + dirs);
    long compared = 0;
    for (Path dir : dirs) {
      List<Path> files = pcaps(dir);
      if (files.isEmpty()) {
        continue;
      }
      Analyzer.Result one = new Analyzer(ProcessorConfig.defaults(), 1).analyze(files, null);
      Analyzer.Result three = new Analyzer(ProcessorConfig.defaults(), 3).analyze(files, null);
      assertEquals(text(one.facts()), text(three.facts()), dir.toString());
      assertEquals(one.factCount(), three.factCount(), dir.toString());
      assertEquals(one.anomalies(), three.anomalies(), dir.toString());
      assertEquals(errors(one), errors(three), dir.toString());
      compared += one.facts().size();
    }
    assertTrue(compared > 10_000, "facts compared: " + compared);
  }

  @Test
  void factsBelowTheThresholdAreCountedButNotKept() throws Exception {
    List<Path> files = pcaps(PCAP.resolve("redis"));
    Analyzer.Result all = new Analyzer(ProcessorConfig.defaults(), 2).analyze(files, null);
    long minNs = 1_000_000L;
    Analyzer.Result slow = new Analyzer(ProcessorConfig.defaults(), 2).analyze(files, null,
        f -> f.getLatencyNs() == null || f.getLatencyNs() >= minNs);
    List<LatencyFact> expected = all.facts().stream()
        .filter(f -> f.getLatencyNs() == null || f.getLatencyNs() >= minNs).toList();
    assertTrue(!expected.isEmpty() && expected.size() < all.facts().size(), "the threshold splits the facts");
    assertEquals(text(expected), text(slow.facts()), "the kept facts, ids included");
    assertEquals(all.factCount(), slow.factCount(), "every fact counted");
  }

  private static List<Path> pcaps(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.toString().endsWith(".pcap") || p.toString().endsWith(".pcapng")).sorted().toList();
    }
  }

  private static List<String> text(List<LatencyFact> facts) {
    return facts.stream().map(LatencyFact::toString).toList();
  }

  private static List<String> errors(Analyzer.Result r) {
    return r.collector().errors().stream().map(DecodeError::toString).sorted().toList();
  }
}
