package dev.tapflow.cli;

import dev.tapflow.capture.CaptureFileException;
import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.cli.replay.CapturedRequests;
import dev.tapflow.cli.replay.DryRun;
import dev.tapflow.cli.replay.KafkaRangeSource;
import dev.tapflow.cli.replay.KafkaReplayFacts;
import dev.tapflow.cli.replay.ReplayException;
import dev.tapflow.cli.replay.ReplayPolicy;
import dev.tapflow.cli.replay.ReplayReport;
import dev.tapflow.cli.replay.ReplayResult;
import dev.tapflow.cli.replay.ReplayTarget;
import dev.tapflow.cli.replay.Replayer;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code tapflow replay}: captured requests sent again to a live Redis or memcached server. */
@Command(name = "replay", mixinStandardHelpOptions = true,
    description = {"Send the requests of captured connections again to a live Redis or memcached server, "
        + "in each connection's order, at the captured pacing (times --speed), and compare latencies and outcomes "
        + "with the capture. Requests come from the segments topic (--from/--to) or from capture files (--pcap), "
        + "rebuilt by the processor's own reassembly and decoders.",
        "Read-only commands only, unless --allow-writes. Credentials in the capture (AUTH, HELLO ... AUTH, "
        + "memcached SASL) are never sent: the replayer authenticates with --target-password, a password in the "
        + "URL, or TAPFLOW_TARGET_PASSWORD."},
    exitCodeListHeading = "Exit codes:%n",
    exitCodeList = {"0:replay done (differences are reported, not failures)", "1:internal error",
        "2:usage error (options, files, Kafka)", "3:the target failed: unreachable, refused the password, "
            + "closed a connection, or did not answer within --reply-timeout"})
final class ReplayCommand implements Callable<Integer> {

  @Option(names = "--target", required = true, paramLabel = "URL",
      description = "redis://[[USER]:PASSWORD@]HOST:PORT or memcached://HOST:PORT")
  String target;

  @ArgGroup(exclusive = true, multiplicity = "1")
  Source source;

  static final class Source {
    @ArgGroup(exclusive = false)
    Range range;

    @Option(names = "--pcap", arity = "1..*", paramLabel = "FILE",
        description = "Replay capture files (pcap/pcapng) instead of a time range of the segments topic.")
    List<Path> pcap;
  }

  static final class Range {
    @Option(names = "--from", required = true, paramLabel = "TIME",
        description = "Start of the range (capture time, UTC), e.g. '2026-11-23 10:05' or 2026-11-23T10:05:00Z.")
    String from;

    @Option(names = "--to", required = true, paramLabel = "TIME", description = "End of the range (inclusive).")
    String to;
  }

  @Option(names = "--source", paramLabel = "SERVER:PORT", description = "Only connections to this captured server.")
  String sourceServer;

  @Option(names = "--agent", paramLabel = "ID", description = "Only this capture agent's segments (default: all).")
  String agent;

  @Option(names = "--speed", defaultValue = "1.0", paramLabel = "FACTOR|max",
      description = "Pacing: 1.0 as captured, 2.0 twice as fast, max as fast as the target answers. Default: ${DEFAULT-VALUE}.")
  String speed;

  @Option(names = "--rate", paramLabel = "N/s", description = "At most N requests per second overall (e.g. 5000/s).")
  String rate;

  @Option(names = "--connections", paramLabel = "N",
      description = "At most N target connections; captured connections then share them (and their state: SELECT, "
          + "HELLO, CLIENT SETNAME). Default: one per captured connection (up to 1024 open at once, then shared).")
  int connections;

  @Option(names = "--include", split = ",", paramLabel = "CMD", description = "Only these commands (as on facts: GET, SET, GetKQ).")
  List<String> include = new ArrayList<>();

  @Option(names = "--exclude", split = ",", paramLabel = "CMD", description = "Never these commands.")
  List<String> exclude = new ArrayList<>();

  @Option(names = "--allow-writes",
      description = "Also send commands that change data or server state (SET, DEL, INCR, …; memcached set, delete, …).")
  boolean allowWrites;

  @Option(names = "--dry-run", description = "Print what would be sent (per command, connections, duration); do not connect.")
  boolean dryRun;

  @Option(names = "--target-password", arity = "0..1", interactive = true, paramLabel = "PASSWORD",
      description = "The target's password (asked for when given without a value). Also: in the URL, or TAPFLOW_TARGET_PASSWORD.")
  String targetPassword;

  @Option(names = "--reply-timeout", defaultValue = "30s", paramLabel = "DURATION",
      description = "How long a connection waits for an answer it needs before the replay fails (exit 3). Default: ${DEFAULT-VALUE}.")
  String replyTimeout;

  @Option(names = "--connect-timeout", defaultValue = "5s", paramLabel = "DURATION", description = "Default: ${DEFAULT-VALUE}.")
  String connectTimeout;

  @Option(names = "--queue", defaultValue = "1000", paramLabel = "N",
      description = "Requests waiting per target connection before reading waits (bounds memory). Default: ${DEFAULT-VALUE}.")
  int queue;

  @Option(names = "--topic", defaultValue = KafkaSegmentPublisher.DEFAULT_TOPIC, paramLabel = "TOPIC",
      description = "The segments topic. Default: ${DEFAULT-VALUE}.")
  String topic;

  @Option(names = "--facts",
      description = "Also publish one fact per replayed request (vantage replay, agent replay, the replay's own times) "
          + "to the facts topic; needs --bootstrap-servers.")
  boolean facts;

  @Option(names = "--facts-topic", defaultValue = ProcessorConfig.FACTS_TOPIC, paramLabel = "TOPIC",
      description = "Default: ${DEFAULT-VALUE}.")
  String factsTopic;

  @Mixin
  KafkaOptions kafka;

  @Mixin
  PipelineOptions pipeline;

  @Spec
  picocli.CommandLine.Model.CommandSpec spec;

  /** What the last run did (for tests). */
  ReplayResult result;

  @Override
  public Integer call() throws CaptureFileException {
    result = null;
    String password = targetPassword != null ? targetPassword : System.getenv("TAPFLOW_TARGET_PASSWORD");
    ReplayTarget t;
    try {
      t = ReplayTarget.parse(target, password);
    } catch (IllegalArgumentException e) {
      throw new UserError("--target: " + e.getMessage());
    }
    double factor = speedFactor();
    ReplayPolicy policy = new ReplayPolicy(allowWrites, Set.copyOf(include), Set.copyOf(exclude));
    Instant from = null;
    Instant to = null;
    if (source.pcap != null) {
      ImportCommand.requireReadable(source.pcap);
    } else {
      from = SlowCommand.time(source.range.from, "--from");
      to = SlowCommand.time(source.range.to, "--to");
      if (to.isBefore(from)) {
        throw new UserError("--to is before --from");
      }
      kafka.requireBootstrap();
    }
    DryRun dry = dryRun ? new DryRun(factor) : null;
    KafkaReplayFacts published = null;
    if (facts && !dryRun) {
      Map<String, Object> props = kafka.clientProperties();
      props.put("bootstrap.servers", kafka.requireBootstrap());
      published = new KafkaReplayFacts(props, factsTopic);
    }
    Replayer replayer = dryRun ? null : new Replayer(new Replayer.Options(t, published, factor, rateLimit(), connections,
        queue, PipelineOptions.Durations.parse(replyTimeout, "--reply-timeout"),
        PipelineOptions.Durations.parse(connectTimeout, "--connect-timeout")));
    CapturedRequests requests;
    try {
      requests = new CapturedRequests(pipeline.processorConfig(), t.protocol(), sourceServer, agent, policy,
          dryRun ? dry : replayer);
    } catch (IllegalArgumentException e) {
      throw new UserError(e.getMessage());
    }
    try {
      if (source.pcap != null) {
        ImportCommand.importAll(source.pcap, null, requests);
      } else {
        Map<String, Object> props = kafka.clientProperties();
        props.put("bootstrap.servers", kafka.requireBootstrap());
        new KafkaRangeSource(props, topic, from, to).run(requests);
      }
      requests.finish();
      result = dryRun ? dry.result() : replayer.finish();
    } catch (ReplayException e) {
      if (replayer != null) {
        replayer.abort(e);
      }
      throw new UserError(e.getMessage(), e, ReplayException.TARGET_FAILED);
    } catch (IllegalStateException | org.apache.kafka.common.KafkaException e) {
      ReplayException stop = new ReplayException("cannot read " + topic + ": " + UserError.message(e), e);
      if (replayer != null) {
        replayer.abort(stop);
      }
      throw new UserError(stop.getMessage(), e);
    } finally {
      if (published != null && result == null) {
        try {
          published.close();
        } catch (RuntimeException e) {
          // the replay's own failure is the one to report
        }
      }
    }
    if (published != null) {
      try {
        published.close(); // waits for what was sent
      } catch (org.apache.kafka.common.KafkaException e) {
        throw new UserError(UserError.message(e), e);
      }
      spec.commandLine().getErr().println("tapflow: " + published.published() + " facts of the replay published to "
          + factsTopic + " (vantage " + KafkaReplayFacts.VANTAGE + ")");
    }
    PrintWriter out = spec.commandLine().getOut();
    out.print(ReplayReport.text(result, t, speed));
    out.flush();
    return 0;
  }

  private double speedFactor() {
    return speed.equalsIgnoreCase("max") ? 0
        : positive(speed, "--speed wants a factor above 0 (1.0, 2.0) or max, got '" + speed + "'");
  }

  private double rateLimit() {
    return rate == null ? 0 : positive(rate.toLowerCase(Locale.ROOT).replace("/s", "").trim(),
        "--rate wants requests per second, e.g. 5000/s; got '" + rate + "'");
  }

  private static double positive(String text, String error) {
    try {
      double n = Double.parseDouble(text);
      if (n > 0 && Double.isFinite(n)) {
        return n;
      }
    } catch (NumberFormatException e) {
      // below
    }
    throw new UserError(error);
  }
}
