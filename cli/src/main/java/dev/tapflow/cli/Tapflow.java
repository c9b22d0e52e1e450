package dev.tapflow.cli;

import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code tapflow} command: every role of the pipeline, and the all-in-one {@code local}. */
@Command(
    name = "tapflow",
    mixinStandardHelpOptions = true,
    versionProvider = Tapflow.Version.class,
    description = "Finds slow Redis, memcached, Kafka and DNS requests from packets, "
        + "as a streaming pipeline: capture -> Kafka -> Kafka Streams -> PostgreSQL.",
    subcommands = {
      AnalyzeCommand.class,
      LocalCommand.class,
      ImportCommand.class,
      ReprocessCommand.class,
      CaptureCommand.class,
      ProcessCommand.class,
      SinkCommand.class,
      SlowCommand.class,
      TopCommand.class,
      SqlCommand.class,
      ReplayCommand.class,
      ProtocolsCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Tapflow implements Runnable {

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(commandLine(System.getenv(), args).execute(args));
  }

  static CommandLine commandLine() {
    return commandLine(System.getenv());
  }

  /**
   * The command line for {@code args}: for {@code tapflow analyze}, a root that knows only that
   * command (picocli builds the model of every command it knows, by reflection: ~0.2 s of a
   * short analysis's start); for anything else, the whole command.
   */
  static CommandLine commandLine(Map<String, String> env, String[] args) {
    boolean analyze = args.length > 0 && args[0].equals("analyze");
    return commandLine(env, analyze ? new AnalyzeOnly() : new Tapflow(), !analyze);
  }

  /** {@code tapflow} with only its {@code analyze} command. */
  @Command(name = "tapflow", mixinStandardHelpOptions = true, versionProvider = Tapflow.Version.class,
      subcommands = AnalyzeCommand.class)
  static final class AnalyzeOnly implements Runnable {
    @Override
    public void run() {
      // never reached: main builds this root only when the first argument is "analyze"
    }
  }

  /**
   * The command line with {@code env} as its environment: every option of every command gets
   * a {@code --config FILE} companion and its defaults from {@link ConfigDefaults} (the file,
   * and {@code TAPFLOW_*} variables of {@code env}).
   */
  static CommandLine commandLine(Map<String, String> env) {
    return commandLine(env, new Tapflow(), true);
  }

  private static CommandLine commandLine(Map<String, String> env, Object root, boolean allCommands) {
    CommandLine cl = new CommandLine(root) {
      @Override
      public int execute(String... args) {
        try {
          setDefaultValueProvider(ConfigDefaults.load(ConfigCommand.configFile(args), env));
        } catch (UserError e) {
          getErr().println("tapflow: " + e.getMessage());
          getErr().flush();
          return e.exitCode();
        }
        return super.execute(args);
      }
    };
    if (allCommands) {
      cl.addSubcommand(new TopicsCommand());
      cl.addSubcommand(new ConfigCommand());
    }
    ConfigCommand.addConfigOption(cl);
    cl.setDefaultValueProvider(ConfigDefaults.load(null, env));
    cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
      // a user sees one line, not a stack trace; TAPFLOW_DEBUG=1 shows the trace
      cmd.getErr().println("tapflow: " + UserError.message(ex));
      if (System.getenv("TAPFLOW_DEBUG") != null) {
        ex.printStackTrace(cmd.getErr());
      }
      return ex instanceof UserError u ? u.exitCode() : 1;
    });
    return cl;
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      String v = Tapflow.class.getPackage().getImplementationVersion();
      return new String[] {"tapflow " + (v == null ? "dev" : v)};
    }
  }
}
