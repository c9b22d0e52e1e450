package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tapflow.schemas.LatencyFact;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The text line of a fact, made without a formatter, is character for character what
 * {@code String.format} and {@code DateTimeFormatter} made (the form users and scripts read),
 * on every fact of the recorded Redis fixtures and on latencies at every rounding edge.
 */
class FactTextTest {
  private static final DateTimeFormatter MICROS =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS").withZone(ZoneOffset.UTC);

  /** The line as String.format made it. */
  static String formatted(LatencyFact f) {
    long ns = f.getRequestFirstNs();
    String time = MICROS.format(Instant.ofEpochSecond(Math.floorDiv(ns, 1_000_000_000L), Math.floorMod(ns, 1_000_000_000L)));
    String latency = f.getLatencyNs() == null ? "       -   " : String.format(Locale.ROOT, "%8.3f ms", f.getLatencyNs() / 1e6);
    StringBuilder cmd = new StringBuilder(f.getCommand());
    if (f.getResource() != null) {
      cmd.append(' ').append(f.getResource());
    }
    if (f.getArgs() != null) {
      cmd.append(' ').append(f.getArgs());
    }
    return String.format(Locale.ROOT, "%s %s:%d => %s:%d %s %-8s %s", time, f.getClientIp(), f.getClientPort(),
        f.getServerIp(), f.getServerPort(), latency, f.getStatus().name(), cmd)
        + (f.getError() != null ? "  (" + f.getError() + ")" : "")
        + FactText.lossNote(f); // the loss note was and is the same code
  }

  @Test
  void everyFixtureFactPrintsAsFormatted() throws Exception {
    List<LatencyFact> facts = new Analyzer(dev.tapflow.stream.topology.ProcessorConfig.defaults())
        .analyze(redisFixtures(), null).facts();
    assertEquals(true, facts.size() > 20, "facts: " + facts.size());
    StringBuilder b = new StringBuilder();
    FactText.Clock clock = new FactText.Clock();
    for (LatencyFact f : facts) {
      b.setLength(0);
      assertEquals(formatted(f), FactText.line(f, b, clock).toString());
    }
  }

  private static List<java.nio.file.Path> redisFixtures() throws java.io.IOException {
    try (java.util.stream.Stream<java.nio.file.Path> s =
        java.nio.file.Files.list(java.nio.file.Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "redis"))) {
      return s.filter(p -> p.toString().endsWith(".pcap")).sorted().toList();
    }
  }

  @Test
  void latenciesRoundAsFormatDoes() {
    Random r = new Random(7);
    long[] edges = {0, 1, 499, 500, 501, 999, 1000, 1499, 1500, 999_499, 999_500, 9_999_999_500L, 99_999_999_499L,
        123_456_789_012L, -1, -499, -500, -501, -1500, -2_345_678};
    for (long ns : edges) {
      assertMillis(ns);
    }
    for (int i = 0; i < 50_000; i++) {
      long ns = switch (i % 4) {
        case 0 -> r.nextInt(10_000);
        case 1 -> r.nextInt(100_000_000);
        case 2 -> (long) r.nextInt(1_000_000) * 1000 + 500; // half-way cases
        default -> r.nextLong() % 1_000_000_000_000L;
      };
      assertMillis(ns);
    }
  }

  @Test
  void timesAtEverySubSecondWidth() {
    long base = 1_796_000_000L * 1_000_000_000L;
    long[] nanos = {0, 999, 1000, 9_999, 10_000, 123_456, 999_999, 1_000_000, 12_345_678, 999_999_999};
    FactText.Clock clock = new FactText.Clock();
    for (long n : nanos) {
      long ns = base + n;
      StringBuilder b = new StringBuilder();
      clock.append(b, Math.floorDiv(ns, 1_000_000_000L), Math.floorMod(ns, 1_000_000_000L));
      assertEquals(MICROS.format(Instant.ofEpochSecond(0, ns)), b.toString());
    }
  }

  private static void assertMillis(long ns) {
    StringBuilder b = new StringBuilder();
    FactText.millis(b, ns);
    assertEquals(String.format(Locale.ROOT, "%8.3f", ns / 1e6), b.toString(), "ns=" + ns);
  }
}
