package dev.tapflow.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code tapflow config check}: validates the configuration file and environment, prints the effective settings. */
@Command(name = "config", mixinStandardHelpOptions = true,
    description = "The configuration file and TAPFLOW_* environment variables: every option of every command "
        + "can be set there (see 'tapflow config check --help').",
    subcommands = {ConfigCommand.Check.class})
final class ConfigCommand implements Runnable {
  static final String OPTION = "--config";

  @Spec
  CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(spec.commandLine().getOut());
  }

  /** {@code --config FILE} or {@code --config=FILE} among {@code args}, else null. */
  static Path configFile(String[] args) {
    Path found = null;
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--")) {
        break;
      }
      if (args[i].equals(OPTION) && i + 1 < args.length) {
        found = Path.of(args[++i]);
      } else if (args[i].startsWith(OPTION + "=")) {
        found = Path.of(args[i].substring(OPTION.length() + 1));
      }
    }
    return found;
  }

  /** Gives every command (but help) a {@code --config FILE} option; {@link Tapflow} reads it before parsing. */
  static void addConfigOption(CommandLine root) {
    for (CommandLine sub : root.getSubcommands().values()) {
      if (sub.getCommandSpec().userObject() instanceof CommandLine.HelpCommand) {
        continue;
      }
      sub.getCommandSpec().addOption(OptionSpec.builder(OPTION).paramLabel("FILE").type(Path.class)
          .description("Configuration file (Java properties) giving any option of any command: "
              + "'option = value' or 'command.option = value', plus kafka.* client properties; "
              + "TAPFLOW_<OPTION> environment variables win over it. Default: $" + ConfigDefaults.ENV_FILE + ".")
          .build());
      addConfigOption(sub);
    }
  }

  @Command(name = "check", mixinStandardHelpOptions = true,
      description = "Validate the configuration (file and TAPFLOW_* environment) and print the effective settings of "
          + "the given commands, with where each comes from; passwords, sasl.jaas.config, ssl.*password* and the "
          + "like are masked. Exit 2 when something is wrong.")
  static final class Check implements Callable<Integer> {

    @Parameters(arity = "0..*", paramLabel = "COMMAND",
        description = "Commands to show. Default: capture process sink.")
    List<String> commands = new ArrayList<>(List.of("capture", "process", "sink"));

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
      ConfigDefaults config = ConfigDefaults.of(spec);
      CommandLine root = spec.root().commandLine();
      PrintWriter out = spec.commandLine().getOut();
      List<String> problems = new ArrayList<>();
      config.unknownFileKeys(spec.root()).forEach(k -> problems.add(config.file() + ": unknown key '" + k
          + "' (not an option of any command, nor kafka.*, jdbc-user, jdbc-password)"));
      out.println("configuration file: " + (config.file() == null ? "none (--config FILE or $"
          + ConfigDefaults.ENV_FILE + ")" : config.file()));
      for (String name : commands) {
        CommandLine cmd = root.getSubcommands().get(name);
        if (cmd == null) {
          problems.add("no command '" + name + "'");
          continue;
        }
        out.println();
        out.println("[" + name + "]");
        Map<String, ConfigDefaults.Found> effective = config.effective(cmd.getCommandSpec());
        int width = effective.keySet().stream().mapToInt(String::length).max().orElse(0);
        effective.forEach((key, found) -> {
          String value = found == null ? "(not set)" : ConfigDefaults.printable(key, found.value());
          out.printf("  %-" + width + "s = %s%s%n", key, value, found == null ? "" : "   (" + found.source() + ")");
          if (found != null) {
            validate(name, key, cmd.getCommandSpec().findOption(key), found, problems);
          }
        });
      }
      Map<String, String> kafka = config.kafkaProperties();
      out.println();
      out.println("[kafka client properties, passed to every Kafka client unchanged]");
      if (kafka.isEmpty()) {
        out.println("  (none)");
      }
      kafka.forEach((k, v) -> out.printf("  %s = %s%n", k, ConfigDefaults.printable(k, v)));
      out.println();
      out.println("[database login]");
      for (String k : ConfigDefaults.JDBC_KEYS) {
        String v = config.jdbc(k);
        out.printf("  %s = %s%n", k, v == null ? "(not set)" : ConfigDefaults.printable(k, v));
      }
      out.flush();
      if (!problems.isEmpty()) {
        PrintWriter err = spec.commandLine().getErr();
        problems.forEach(p -> err.println("tapflow: " + p));
        err.flush();
        return 2;
      }
      return 0;
    }

    /** A value that will not parse is a problem now, not when the role starts in production. */
    private static void validate(String command, String key, OptionSpec option, ConfigDefaults.Found found,
        List<String> problems) {
      String where = command + " --" + key + " (" + found.source() + "): ";
      String value = found.value();
      try {
        switch (option.paramLabel()) {
          case "DURATION" -> PipelineOptions.Durations.parse(value, "--" + key);
          case "SIZE" -> LiveOptions.Sizes.parse(value, "--" + key);
          default -> {
            Class<?> type = option.type();
            if (type == int.class || type == Integer.class) {
              Integer.parseInt(value);
            } else if (type == long.class || type == Long.class) {
              Long.parseLong(value);
            } else if (type == boolean.class || type == Boolean.class) {
              if (!value.equalsIgnoreCase("true") && !value.equalsIgnoreCase("false")) {
                problems.add(where + "not true or false: '" + value + "'");
              }
            } else if (option.isMultiValue() && option.auxiliaryTypes()[0] == Integer.class) {
              for (String part : value.trim().split("\\s+")) {
                Integer.parseInt(part);
              }
            }
          }
        }
      } catch (UserError e) {
        problems.add(where + e.getMessage());
      } catch (NumberFormatException e) {
        problems.add(where + "not a number: '" + value + "'");
      }
    }
  }
}
