package dev.tapflow.cli;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The peers' captures in {@code ../shared/conformance} (system property {@code tapflow.shared}),
 * each analysed once per test run with default settings, as {@code tapflow analyze} would.
 * Tests that use them are skipped where the folder is absent (users' clones).
 */
final class SharedCaptures {

  private static final String SHARED = System.getProperty("tapflow.shared");
  static final Path CONFORMANCE = SHARED == null ? null : Path.of(SHARED, "conformance");
  private static final Map<String, Analyzer.Result> CACHE = new ConcurrentHashMap<>();

  private SharedCaptures() {}

  /** Skips the calling test unless the shared conformance folder is here. */
  static void assumePresent() {
    assumeTrue(CONFORMANCE != null && Files.isDirectory(CONFORMANCE),
        "no ../shared/conformance here (property tapflow.shared=" + SHARED + "): skipped");
  }

  static Analyzer.Result analyze(String capture) {
    return CACHE.computeIfAbsent(capture, f -> {
      try {
        return new Analyzer(ProcessorConfig.defaults()).analyze(List.of(CONFORMANCE.resolve("captures").resolve(f)), null);
      } catch (Exception e) {
        throw new IllegalStateException(f, e);
      }
    });
  }

  static List<String> anomalyNames(Analyzer.Result r) {
    return r.collector().errors().stream().map(DecodeError::getName).toList();
  }

  static String describe(LatencyFact f) {
    return f.getClientIp() + ":" + f.getClientPort() + ">" + f.getServerIp() + ":" + f.getServerPort() + " "
        + f.getCommand() + " " + f.getResource() + " " + f.getStatus() + " " + f.getError() + " latency="
        + f.getLatencyNs() + " " + f.getDetail();
  }
}
