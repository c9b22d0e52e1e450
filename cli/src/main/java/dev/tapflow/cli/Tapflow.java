package dev.tapflow.cli;

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
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Tapflow());
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
