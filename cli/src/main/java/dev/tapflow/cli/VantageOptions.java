package dev.tapflow.cli;

import dev.tapflow.schemas.VantageSetting;
import dev.tapflow.stream.topology.VantageJoinConfig;
import java.time.Duration;
import java.util.Locale;
import picocli.CommandLine.Option;

/** The vantage options: where an agent captures (import, capture, local), and the processor's vantage join (process, local). */
final class VantageOptions {

  private VantageOptions() {}

  /** {@code --vantage}: which side of its connections an agent captures on; shared by import, capture and local. */
  static final class Side {
    @Option(names = "--vantage", defaultValue = "auto", paramLabel = "client|server|auto",
        description = "Which side of its connections this agent captures on: client (the clients run on this host), "
            + "server (the servers do), or auto: the processor decides per connection from the live agent's own "
            + "addresses, else from the TCP handshake's timing. Default: ${DEFAULT-VALUE}.")
    String vantage;

    VantageSetting setting() {
      return switch (vantage.toLowerCase(Locale.ROOT)) {
        case "auto" -> VantageSetting.AUTO;
        case "client" -> VantageSetting.CLIENT;
        case "server" -> VantageSetting.SERVER;
        default -> throw new UserError("--vantage must be client, server or auto; got " + vantage);
      };
    }
  }

  /** The vantage join's settings; shared by process and local. */
  static final class Join {
    @Option(names = "--vantage-join", defaultValue = "true", paramLabel = "true|false", arity = "1",
        description = "Join the facts of one request seen on the client's host and on the server's into "
            + VantageJoinConfig.TOPIC + " (network time = client-side latency - server-side). Default: ${DEFAULT-VALUE}.")
    boolean enabled;

    @Option(names = "--vantage-skew", defaultValue = "5s", paramLabel = "DURATION",
        description = "Clock difference between agents the join tolerates (its window). Default: ${DEFAULT-VALUE}.")
    String skew;

    @Option(names = "--vantage-grace", defaultValue = "10m", paramLabel = "DURATION",
        description = "How far, in capture time, a fact may come behind the latest of its join partition and still "
            + "join (two agents' captures imported one after the other must each be shorter). Default: ${DEFAULT-VALUE}.")
    String grace;

    @Option(names = "--clock-skew-threshold", defaultValue = "1ms", paramLabel = "DURATION",
        description = "An agent pair whose estimated clock offset is beyond this is logged as skewed. "
            + "Default: ${DEFAULT-VALUE}.")
    String threshold;

    VantageJoinConfig config() {
      return VantageJoinConfig.defaults().withEnabled(enabled)
          .withSkew(positive(skew, "--vantage-skew"))
          .withGrace(PipelineOptions.Durations.parse(grace, "--vantage-grace"))
          .withSkewThreshold(PipelineOptions.Durations.parse(threshold, "--clock-skew-threshold"));
    }

    private static Duration positive(String text, String option) {
      Duration d = PipelineOptions.Durations.parse(text, option);
      if (d.isZero() || d.isNegative()) {
        throw new UserError(option + " must be positive");
      }
      return d;
    }
  }
}
