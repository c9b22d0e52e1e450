package dev.tapflow.cli;

import dev.tapflow.stream.topology.KeyPolicy;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Options that change which facts the processor derives; shared by analyze, local and process. */
final class PipelineOptions {

  @Option(names = "--window", defaultValue = "60s", paramLabel = "DURATION",
      description = "How long a request waits for its response before it is a TIMEOUT fact, "
          + "in capture time (e.g. 500ms, 60s, 5m). Default: ${DEFAULT-VALUE}.")
  String window;

  @Option(names = {"--protocol", "--server-port"}, paramLabel = "PROTO=PORT[,PORT...]", split = "\\s+",
      description = "Server ports to decode as a protocol, besides its default ports "
          + "(redis 6379, memcached 11211, dns 53, kafka 9092, http 80 and 8080; for memcached and dns on TCP and UDP; "
          + "plug-ins' in `tapflow protocols`), "
          + "e.g. --protocol redis=6380,6381. Repeatable. Servers on other ports are recognised by content.")
  List<String> serverPorts = new ArrayList<>();

  @Mixin
  PluginOptions plugins = new PluginOptions();

  @Option(names = "--keys", defaultValue = "keep", paramLabel = "keep|hash|truncate:N|drop",
      description = "What facts keep of their resource (key, topics, query name) and args: keep them, "
          + "hash them (HMAC-SHA256 with the deployment's salt from TAPFLOW_KEY_SALT or the file named by "
          + "TAPFLOW_KEY_SALT_FILE, shown as h:<16 hex digits>), keep the first N characters, or drop them. "
          + "Default: ${DEFAULT-VALUE}.")
  String keys;

  @Option(names = "--values", defaultValue = "drop", paramLabel = "keep|drop",
      description = "Whether facts' args show the values requests carry (SET key VALUE, LPUSH, HSET, PUBLISH, ...) "
          + "or only their size (<5 bytes>). Default: ${DEFAULT-VALUE}.")
  String values;

  ProcessorConfig processorConfig() {
    plugins.install();
    ProcessorConfig config = ProcessorConfig.defaults().withWindow(Durations.parse(window, "--window"))
        .withServerPorts(serverPortMap()).withKeepValues(keepValues()).withKeyPolicy(keyPolicy());
    try {
      config.protocols(); // names the protocols now: a typo is a one-line error, not a stack trace later
    } catch (IllegalArgumentException e) {
      throw new UserError("--protocol: " + e.getMessage());
    }
    return config;
  }

  private boolean keepValues() {
    return switch (values.trim().toLowerCase(java.util.Locale.ROOT)) {
      case "keep" -> true;
      case "drop" -> false;
      default -> throw new UserError("--values wants keep or drop; got '" + values + "'");
    };
  }

  /** --keys with the salt from the environment (read only for hash). */
  KeyPolicy keyPolicy() {
    boolean hash = keys.trim().equalsIgnoreCase("hash");
    try {
      return KeyPolicy.parse(keys, hash ? KeySalt.fromEnvironment() : null);
    } catch (IllegalArgumentException e) {
      throw new UserError(e.getMessage());
    }
  }

  /** --protocol as a map: protocol name -> extra server ports. */
  Map<String, List<Integer>> serverPortMap() {
    Map<String, List<Integer>> map = new LinkedHashMap<>();
    for (String s : serverPorts) {
      int eq = s.indexOf('=');
      if (eq <= 0 || eq == s.length() - 1) {
        throw new UserError("--protocol wants PROTO=PORT[,PORT...], e.g. redis=6380,6381; got '" + s + "'");
      }
      List<Integer> ports = map.computeIfAbsent(s.substring(0, eq).trim().toLowerCase(java.util.Locale.ROOT),
          k -> new ArrayList<>());
      for (String part : s.substring(eq + 1).split(",")) {
        int port;
        try {
          port = Integer.parseInt(part.trim());
        } catch (NumberFormatException e) {
          throw new UserError("--protocol: not a port number in '" + s + "'");
        }
        if (port < 1 || port > 65535) {
          throw new UserError("--protocol: port out of range in '" + s + "'");
        }
        ports.add(port);
      }
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
