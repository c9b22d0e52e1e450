package dev.tapflow.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Where an option gets its value when the command line does not give it: every option of
 * every command can come from the environment or from one configuration file, so a container,
 * a systemd unit or a Kubernetes pod configures tapflow without a long command line.
 *
 * <p>Precedence, first found wins: the command line; {@code TAPFLOW_<COMMAND>_<OPTION>};
 * {@code TAPFLOW_<OPTION>}; {@code <command>.<option>} in the file; {@code <option>} in the
 * file; the built-in default. {@code <OPTION>} is the option's long name without dashes
 * ({@code --max-batch}: {@code max-batch} in the file, {@code TAPFLOW_MAX_BATCH} in the
 * environment). Options that repeat ({@code -i}, {@code --port}, {@code --protocol}) take a
 * space-separated list.
 *
 * <p>The file (Java properties: {@code --config FILE}, else {@code $TAPFLOW_CONFIG}) may also
 * hold {@code kafka.<property>} lines, passed unchanged to every Kafka client, producer,
 * consumer, admin and Kafka Streams (as are {@code TAPFLOW_KAFKA_<PROPERTY>} variables:
 * {@code TAPFLOW_KAFKA_SASL_JAAS_CONFIG} is {@code sasl.jaas.config}), and {@code jdbc-user} /
 * {@code jdbc-password} (the environment's {@code TAPFLOW_JDBC_USER} / {@code
 * TAPFLOW_JDBC_PASSWORD} win).
 */
final class ConfigDefaults implements CommandLine.IDefaultValueProvider {
  static final String ENV_FILE = "TAPFLOW_CONFIG";
  static final String ENV_PREFIX = "TAPFLOW_";
  static final String KAFKA_PREFIX = "kafka.";
  static final String ENV_KAFKA_PREFIX = "TAPFLOW_KAFKA_";
  /** File keys that are not options: the database login (environment variables of the same name win). */
  static final List<String> JDBC_KEYS = List.of("jdbc-user", "jdbc-password");

  private static final Pattern SECRET = Pattern.compile(
      "(?i).*(password|passwd|secret|token|credential|jaas|private|ssl\\.key(store)?\\.key|apikey|api\\.key).*");
  private static final Pattern URL_SECRET = Pattern.compile("(?i)(password|pwd|secret)=([^&;]*)");
  static final String MASK = "********";

  private final Path file;
  private final Properties fileValues;
  private final Map<String, String> env;

  private ConfigDefaults(Path file, Properties fileValues, Map<String, String> env) {
    this.file = file;
    this.fileValues = fileValues;
    this.env = env;
  }

  /** Reads {@code file}, or {@code $TAPFLOW_CONFIG} when it is null, or nothing when neither is set. */
  static ConfigDefaults load(Path file, Map<String, String> env) {
    Path f = file != null ? file : env.get(ENV_FILE) != null && !env.get(ENV_FILE).isBlank()
        ? Path.of(env.get(ENV_FILE)) : null;
    Properties p = new Properties();
    if (f != null) {
      try (Reader r = Files.newBufferedReader(f)) {
        p.load(r);
      } catch (IOException e) {
        throw new UserError("configuration file " + f + ": " + e.getMessage(), e, 2);
      }
    }
    Map<String, String> set = new java.util.HashMap<>();
    env.forEach((k, v) -> {
      if (v != null && !v.isBlank()) { // an empty variable (compose's ${X:-}) is not set
        set.put(k, v);
      }
    });
    return new ConfigDefaults(f, p, Map.copyOf(set));
  }

  /** The configuration of the command {@code spec} runs in (its root command line's provider). */
  static ConfigDefaults of(CommandSpec spec) {
    CommandLine.IDefaultValueProvider p = spec.root().commandLine() == null ? null
        : spec.root().commandLine().getDefaultValueProvider();
    return p instanceof ConfigDefaults c ? c : load(null, System.getenv());
  }

  Path file() {
    return file;
  }

  @Override
  public String defaultValue(ArgSpec arg) {
    Found f = find(arg);
    return f == null ? null : f.value;
  }

  /** A value and where it came from, in words ({@code env TAPFLOW_MAX_BATCH}, {@code file sink.max-batch}). */
  record Found(String value, String source) {}

  /** Where {@code arg} gets its default from here, or null for its built-in default. */
  Found find(ArgSpec arg) {
    if (!(arg instanceof OptionSpec o) || o.usageHelp() || o.versionHelp() || arg.command() == null) {
      return null;
    }
    String command = arg.command().name();
    for (String key : keys(o)) {
      String qualified = envName(command + "-" + key);
      if (env.get(qualified) != null) {
        return new Found(env.get(qualified), "env " + qualified);
      }
      if (env.get(envName(key)) != null) {
        return new Found(env.get(envName(key)), "env " + envName(key));
      }
    }
    for (String key : keys(o)) {
      if (fileValues.getProperty(command + "." + key) != null) {
        return new Found(fileValues.getProperty(command + "." + key).trim(), "file " + command + "." + key);
      }
      if (fileValues.getProperty(key) != null) {
        return new Found(fileValues.getProperty(key).trim(), "file " + key);
      }
    }
    return null;
  }

  /** The option's long names without dashes: its keys in the file. */
  static List<String> keys(OptionSpec o) {
    return java.util.Arrays.stream(o.names()).filter(n -> n.startsWith("--")).map(n -> n.substring(2)).toList();
  }

  static String envName(String key) {
    return ENV_PREFIX + key.toUpperCase(Locale.ROOT).replace('-', '_').replace('.', '_');
  }

  /** Kafka client properties from the file ({@code kafka.*}) and the environment ({@code TAPFLOW_KAFKA_*}, which wins). */
  Map<String, String> kafkaProperties() {
    Map<String, String> out = new TreeMap<>();
    for (String k : fileValues.stringPropertyNames()) {
      if (k.startsWith(KAFKA_PREFIX)) {
        out.put(k.substring(KAFKA_PREFIX.length()), fileValues.getProperty(k).trim());
      }
    }
    env.forEach((k, v) -> {
      // TAPFLOW_KAFKA_CONFIG is the --kafka-config option, not a property named "config"
      if (k.startsWith(ENV_KAFKA_PREFIX) && !k.equals(envName("kafka-config"))) {
        out.put(k.substring(ENV_KAFKA_PREFIX.length()).toLowerCase(Locale.ROOT).replace('_', '.'), v);
      }
    });
    return out;
  }

  /** The database user or password: environment ({@code TAPFLOW_JDBC_USER}, then {@code PGUSER}), then the file. */
  String jdbc(String key) {
    String v = env.get(envName(key));
    if (v == null) {
      v = env.get(key.equals("jdbc-user") ? "PGUSER" : "PGPASSWORD");
    }
    return v != null ? v : fileValues.getProperty(key);
  }

  /** File keys that name nothing tapflow knows: no option of any command, no kafka.*, no jdbc login. */
  List<String> unknownFileKeys(CommandSpec root) {
    java.util.Set<String> known = new java.util.HashSet<>(JDBC_KEYS);
    for (CommandLine sub : root.subcommands().values()) {
      String name = sub.getCommandName();
      for (OptionSpec o : sub.getCommandSpec().options()) {
        for (String k : keys(o)) {
          known.add(k);
          known.add(name + "." + k);
        }
      }
      for (CommandLine subsub : sub.getSubcommands().values()) {
        for (OptionSpec o : subsub.getCommandSpec().options()) {
          for (String k : keys(o)) {
            known.add(k);
            known.add(subsub.getCommandName() + "." + k);
          }
        }
      }
    }
    return fileValues.stringPropertyNames().stream().filter(k -> !k.startsWith(KAFKA_PREFIX) && !known.contains(k))
        .sorted().toList();
  }

  /** Whether a key names a secret: passwords, SASL JAAS configs, TLS key passwords, tokens. */
  static boolean isSecret(String key) {
    return SECRET.matcher(key).matches();
  }

  /** {@code value} as it may be printed under {@code key}: secrets masked, passwords in URLs too. */
  static String printable(String key, String value) {
    if (value == null) {
      return null;
    }
    if (isSecret(key)) {
      return MASK;
    }
    return URL_SECRET.matcher(value).replaceAll("$1=" + MASK);
  }

  /** Options of {@code spec} with their effective values and sources, for {@code tapflow config check}. */
  Map<String, Found> effective(CommandSpec spec) {
    Map<String, Found> out = new LinkedHashMap<>();
    for (OptionSpec o : spec.options()) {
      if (o.usageHelp() || o.versionHelp() || keys(o).isEmpty() || keys(o).get(0).equals("config")) {
        continue;
      }
      Found f = find(o);
      String key = keys(o).get(0);
      out.put(key, f != null ? f : o.defaultValue() == null ? null : new Found(o.defaultValue(), "default"));
    }
    return out;
  }
}
