package dev.tapflow.cli;

import dev.tapflow.stream.topology.ProcessorConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Option;

/** Options that change which facts the processor derives; shared by analyze, local and process. */
final class PipelineOptions {

  @Option(names = "--window", defaultValue = "60s", paramLabel = "DURATION",
      description = "How long a request waits for its response before it is a TIMEOUT fact, "
          + "in capture time (e.g. 500ms, 60s, 5m). Default: ${DEFAULT-VALUE}.")
  String window;

  @Option(names = "--server-port", paramLabel = "PROTO=PORT",
      description = "A server port to decode as a protocol, besides its default port "
          + "(redis 6379, memcached 11211, dns 53; for memcached and dns on TCP and UDP), "
          + "e.g. --server-port redis=6380. Repeatable.")
  List<String> serverPorts = new ArrayList<>();

  ProcessorConfig processorConfig() {
    return ProcessorConfig.defaults().withWindow(Durations.parse(window, "--window"))
        .withServerPorts(serverPortMap());
  }

  private Map<String, List<Integer>> serverPortMap() {
    Map<String, List<Integer>> map = new LinkedHashMap<>();
    for (String s : serverPorts) {
      int eq = s.indexOf('=');
      if (eq <= 0) {
        throw new UserError("--server-port wants PROTO=PORT, e.g. redis=6380; got '" + s + "'");
      }
      int port;
      try {
        port = Integer.parseInt(s.substring(eq + 1).trim());
      } catch (NumberFormatException e) {
        throw new UserError("--server-port: not a port number in '" + s + "'");
      }
      if (port < 1 || port > 65535) {
        throw new UserError("--server-port: port out of range in '" + s + "'");
      }
      map.computeIfAbsent(s.substring(0, eq).trim().toLowerCase(java.util.Locale.ROOT), k -> new ArrayList<>()).add(port);
    }
    return map;
  }

  /** Durations as people type them: 250ms, 60s, 5m, 1h, or ISO-8601 (PT1M). */
  static final class Durations {
    private Durations() {}

    static Duration parse(String text, String option) {
      String t = text.trim().toLowerCase(java.util.Locale.ROOT);
      try {
        if (t.startsWith("pt")) {
          return Duration.parse(t.toUpperCase(java.util.Locale.ROOT));
        }
        if (t.endsWith("ms")) {
          return Duration.ofMillis(Long.parseLong(t.substring(0, t.length() - 2)));
        }
        long n = Long.parseLong(t.substring(0, t.length() - 1));
        return switch (t.charAt(t.length() - 1)) {
          case 's' -> Duration.ofSeconds(n);
          case 'm' -> Duration.ofMinutes(n);
          case 'h' -> Duration.ofHours(n);
          default -> throw new NumberFormatException();
        };
      } catch (RuntimeException e) {
        throw new UserError(option + ": not a duration: '" + text + "' (use e.g. 500ms, 60s, 5m)");
      }
    }
  }
}
