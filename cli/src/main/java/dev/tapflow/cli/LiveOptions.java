package dev.tapflow.cli;

import dev.tapflow.capture.IpFragmentReassembler;
import dev.tapflow.capture.live.LiveCapture;
import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.stream.protocol.Protocols;
import dev.tapflow.schemas.CaptureStats;
import dev.tapflow.schemas.InterfaceCaptureStats;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import picocli.CommandLine.Option;

/** Live capture options, shared by {@code tapflow capture} and {@code tapflow local -i}. */
final class LiveOptions {

  @picocli.CommandLine.Mixin
  VantageOptions.Side vantage = new VantageOptions.Side();

  @Option(names = {"-i", "--interface"}, paramLabel = "IFACE", split = "\\s+", // a list in one value: config file, env
      description = "Capture on this interface (repeatable: -i eth0 -i lo). Linux; needs CAP_NET_RAW.")
  List<String> interfaces = new ArrayList<>();

  @Option(names = "--filter", paramLabel = "BPF",
      description = "pcap-filter(7) expression compiled by libpcap and run in the kernel, "
          + "e.g. 'tcp port 6379 and host 10.0.0.5'. Default: the protocols' ports (--port, else "
          + "redis 6379, memcached 11211 and any --protocol ports) and IP fragments.")
  String filter;

  @Option(names = "--port", paramLabel = "PORT", split = "\\s+",
      description = "Capture traffic to or from this port (repeatable), instead of the protocols' default ports.")
  List<Integer> ports = new ArrayList<>();

  @Option(names = "--snaplen", defaultValue = "262144", paramLabel = "BYTES",
      description = "Bytes kept of each packet (64..262144). Default: ${DEFAULT-VALUE}.")
  int snaplen;

  @Option(names = "--buffer-size", defaultValue = "8MiB", paramLabel = "SIZE",
      description = "Kernel capture buffer per interface (e.g. 2MiB, 32MiB); a larger one rides out longer bursts. "
          + "Default: ${DEFAULT-VALUE}.")
  String bufferSize;

  @Option(names = "--block-timeout", defaultValue = "100ms", paramLabel = "DURATION",
      description = "The kernel hands captured packets over in blocks, at the latest after this long "
          + "(immediate mode is off: one wake-up per block, not per packet). Default: ${DEFAULT-VALUE}.")
  String blockTimeout;

  @Option(names = "--promiscuous",
      description = "Put the interfaces in promiscuous mode (needs CAP_NET_ADMIN too). Off by default: a host agent sees its own traffic without it.")
  boolean promiscuous;

  @Option(names = "--stats-interval", defaultValue = "10s", paramLabel = "DURATION",
      description = "How often the counters are published to tapflow.capture-stats.v1 and printed. Default: ${DEFAULT-VALUE}.")
  String statsInterval;

  @Option(names = "--backlog", defaultValue = "16MiB", paramLabel = "SIZE",
      description = "Records waiting for an unreachable or slow Kafka are held up to this size (besides the "
          + "producer's buffer.memory, 8 MiB by default); beyond it they are dropped and counted. Default: ${DEFAULT-VALUE}.")
  String backlog;

  @Option(names = "--batch-delay", defaultValue = "100ms", paramLabel = "DURATION",
      description = "A connection's segments are published together for at most this long (or 64 KiB, or FIN/RST). "
          + "Default: ${DEFAULT-VALUE}.")
  String batchDelay;

  @Option(names = "--shutdown-timeout", defaultValue = "10s", paramLabel = "DURATION",
      description = "On SIGTERM/SIGINT, how long to wait for Kafka to take what is left. Default: ${DEFAULT-VALUE}.")
  String shutdownTimeout;

  @Option(names = "--duration", paramLabel = "DURATION",
      description = "Stop by itself after this long, as on SIGTERM (for tests and benchmarks).")
  String duration;

  @Option(names = "--clock-offset-ms", hidden = true, defaultValue = "0", paramLabel = "MS",
      description = "For testing only: add MS (may be negative) to every capture time, as if this host's clock were "
          + "that far off (bench/fleet.sh gives one host a skewed clock this way). Default: 0.")
  long clockOffsetMs;

  boolean enabled() {
    return !interfaces.isEmpty();
  }

  /**
   * The capture filter: --filter as given, else the ports (--port, or the protocols' default
   * ports and {@code protocolPorts}, the --protocol ports of {@code tapflow local}) and IP fragments.
   */
  String filter(Map<String, List<Integer>> protocolPorts) {
    if (filter != null) {
      if (!ports.isEmpty()) {
        throw new UserError("--filter and --port: use one (put the ports in the filter)");
      }
      return filter;
    }
    TreeSet<Integer> all = new TreeSet<>();
    for (int p : ports) {
      if (p < 1 || p > 65535) {
        throw new UserError("--port " + p + ": not a port number");
      }
      all.add(p);
    }
    if (all.isEmpty()) {
      for (Protocol p : Protocols.installed(Map.of()).all()) {
        for (int port : p.defaultPorts()) {
          all.add(port);
        }
      }
      protocolPorts.values().forEach(all::addAll);
    }
    List<String> terms = new ArrayList<>();
    all.forEach(p -> terms.add("port " + p));
    // IP fragments after the first carry no ports: keep them all, the agent reassembles them
    return String.join(" or ", terms) + " or (ip[6:2] & 0x1fff != 0) or (ip6 and ip6[6] == 44)";
  }

  LiveCapture.Settings settings(String agentId, Map<String, List<Integer>> protocolPorts) {
    Duration delay = PipelineOptions.Durations.parse(batchDelay, "--batch-delay");
    if (delay.isZero() || delay.isNegative()) {
      throw new UserError("--batch-delay must be positive");
    }
    Duration block = PipelineOptions.Durations.parse(blockTimeout, "--block-timeout");
    if (block.toMillis() < 1 || block.toMillis() > 10_000) {
      throw new UserError("--block-timeout must be between 1ms and 10s");
    }
    Duration stats = PipelineOptions.Durations.parse(statsInterval, "--stats-interval");
    if (stats.toMillis() < 100) {
      throw new UserError("--stats-interval must be at least 100ms");
    }
    if (snaplen < 64 || snaplen > 262_144) {
      throw new UserError("--snaplen must be between 64 and 262144");
    }
    long buffer = Sizes.parse(bufferSize, "--buffer-size");
    if (buffer < 256 * 1024 || buffer > (1L << 30)) {
      throw new UserError("--buffer-size must be between 256KiB and 1GiB");
    }
    return new LiveCapture.Settings(agentId == null ? hostName() : agentId, interfaces, filter(protocolPorts), snaplen,
        (int) buffer, (int) block.toMillis(), promiscuous, stats,
        LiveCapture.Settings.agentBatching().withMaxBatchDelayNs(delay.toNanos()),
        IpFragmentReassembler.Options.defaults(),
        PipelineOptions.Durations.parse(shutdownTimeout, "--shutdown-timeout"), LiveCapture.STATS_TOPIC,
        vantage.setting())
        .withClockOffsetNs(Math.multiplyExact(clockOffsetMs, 1_000_000L));
  }

  long backlogBytes() {
    return Sizes.parse(backlog, "--backlog");
  }

  /** --duration, or null to run until a signal. */
  Duration duration() {
    return duration == null ? null : PipelineOptions.Durations.parse(duration, "--duration");
  }

  /** The default agent id: this host's name. */
  static String hostName() {
    String env = System.getenv("HOSTNAME");
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return env != null && !env.isBlank() ? env : "localhost";
    }
  }

  /** One line of counters for the terminal or the journal. */
  static String line(CaptureStats s) {
    long received = 0;
    long kernelDrops = 0;
    long ifDrops = 0;
    for (InterfaceCaptureStats i : s.getInterfaces()) {
      received += i.getReceived();
      kernelDrops += i.getKernelDrops();
      ifDrops += i.getInterfaceDrops();
    }
    return String.format(Locale.ROOT, "%s packets=%d received=%d kernel_drops=%d interface_drops=%d segments=%d "
            + "batches=%d published_segments=%d producer_error_segments=%d backlog_drop_segments=%d "
            + "backlog_bytes=%d in_flight_segments=%d skipped=%s",
        s.getFinal$() ? "final" : "so far", s.getPackets(), received, kernelDrops, ifDrops, s.getSegments(),
        s.getBatches(), s.getPublishedSegments(), s.getProducerErrorSegments(), s.getBacklogDropSegments(),
        s.getBacklogBytes(), s.getInFlightSegments(), s.getSkipped());
  }

  /** Sizes as people type them: 262144, 512KiB, 8MiB, 1GiB (also k/m/g, KB/MB/GB as binary units). */
  static final class Sizes {
    private Sizes() {}

    static long parse(String text, String option) {
      String t = text.trim().toLowerCase(Locale.ROOT).replace("ib", "").replace("b", "");
      long unit = 1;
      if (t.endsWith("k")) {
        unit = 1L << 10;
      } else if (t.endsWith("m")) {
        unit = 1L << 20;
      } else if (t.endsWith("g")) {
        unit = 1L << 30;
      }
      if (unit != 1) {
        t = t.substring(0, t.length() - 1);
      }
      try {
        long n = Long.parseLong(t.trim());
        if (n < 0) {
          throw new NumberFormatException();
        }
        return Math.multiplyExact(n, unit);
      } catch (RuntimeException e) {
        throw new UserError(option + ": not a size: '" + text + "' (use e.g. 8MiB, 512KiB, 262144)");
      }
    }
  }
}
