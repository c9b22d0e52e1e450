package dev.tapflow.bench;

import java.util.Collection;
import java.util.Locale;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs {@link ProtocolBenchmark} and prints MB/s, segments/s and facts/s per protocol (JMH's
 * own output goes to a log file). Run by {@code bench/decoders.sh}.
 *
 * <pre>ProtocolReport JMH_LOG PCAP_DIR</pre>
 */
public final class ProtocolReport {

  private ProtocolReport() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: ProtocolReport JMH_LOG PCAP_DIR");
      System.exit(2);
    }
    String pcaps = java.nio.file.Path.of(args[1]).toAbsolutePath().toString();
    System.setProperty("tapflow.bench.pcaps", pcaps);
    Options options = new OptionsBuilder()
        .include(ProtocolBenchmark.class.getName())
        .jvmArgsAppend("-Dtapflow.bench.pcaps=" + pcaps)
        .output(args[0])
        .build();
    Collection<RunResult> results = new Runner(options).run();
    System.out.printf(Locale.ROOT, "Decode core per protocol: reassembly or datagram flows, decoder, pairing, facts; 1 thread (JMH log: %s)%n", args[0]);
    System.out.printf(Locale.ROOT, "%-14s %8s %10s %7s %9s %8s %12s %12s %9s%n", "protocol", "segments", "payload_B",
        "facts", "anomalies", "MB/s", "segments/s", "facts/s", "ns/fact");
    for (RunResult r : results) {
      String protocol = r.getParams().getParam("protocol");
      ProtocolBenchmark.Feed feed = ProtocolBenchmark.feed(protocol);
      Result<?> score = r.getPrimaryResult();
      double passes = score.getScore();
      System.out.printf(Locale.ROOT, "%-14s %8d %10d %7d %9d %8.1f %,12.0f %,12.0f %9.0f  (±%.0f%%)%n", protocol,
          feed.segments(), feed.payloadBytes(), feed.facts(), feed.anomalies(), passes * feed.payloadBytes() / 1e6,
          passes * feed.segments(), passes * feed.facts(), 1e9 / (passes * feed.facts()),
          100 * score.getScoreError() / passes);
    }
    System.out.println("facts: requests (with their responses); anomalies: what the fixtures raise on purpose (e.g. a DNS query never answered).");
  }
}
