package dev.tapflow.bench;

import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs {@link ReassemblyBenchmark} and {@link ConnectionStateSize} and prints both as small
 * tables (JMH's own output goes to a log file). Run by {@code bench/reassembly.sh}.
 *
 * <pre>ReassemblyReport JMH_LOG PCAP_DIR STATE_PCAP...</pre>
 *
 * where PCAP_DIR holds the captures {@link ReassemblyBenchmark} reads.
 */
public final class ReassemblyReport {

  private ReassemblyReport() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: ReassemblyReport JMH_LOG PCAP_DIR STATE_PCAP...");
      System.exit(2);
    }
    String pcaps = Path.of(args[1]).toAbsolutePath().toString();
    System.setProperty("tapflow.bench.pcaps", pcaps); // here, for the table; -D for JMH's forked JVM
    Options options = new OptionsBuilder()
        .include(ReassemblyBenchmark.class.getName())
        .jvmArgsAppend("-Dtapflow.bench.pcaps=" + pcaps)
        .output(args[0])
        .build();
    Collection<RunResult> results = new Runner(options).run();

    System.out.printf(Locale.ROOT, "StreamReassembler throughput, 1 thread (JMH log: %s)%n", args[0]);
    System.out.printf(Locale.ROOT, "%-18s %-10s %9s %10s %18s %7s%n", "capture", "input", "segments", "payload_B",
        "segments/s", "ns/seg");
    for (RunResult r : results) {
      String capture = r.getParams().getParam("capture");
      String order = r.getParams().getParam("order");
      ReassemblyBenchmark.Feed feed = ReassemblyBenchmark.feed(ReassemblyBenchmark.pcap(capture),
          order.equals("reordered"));
      Result<?> score = r.getPrimaryResult();
      System.out.printf(Locale.ROOT, "%-18s %-10s %9d %10.1f %,12.0f ±%3.0f%% %7.1f%n", capture, order,
          feed.segments(), (double) feed.payloadBytes() / feed.segments(), score.getScore(),
          100 * score.getScoreError() / score.getScore(), 1e9 / score.getScore());
    }

    System.out.println();
    System.out.println("serialised state of an idle connection (ConnectionTracker.toBytes(); goal <= 512 bytes)");
    System.out.printf(Locale.ROOT, "%-44s %-9s %5s %7s %5s %6s %5s %11s%n", "capture", "protocol", "conns",
        "samples", "min", "median", "max", "reassembly");
    for (int i = 2; i < args.length; i++) {
      List<ConnectionStateSize.Sizes> sizes = ConnectionStateSize.measure(Path.of(args[i]));
      for (ConnectionStateSize.Sizes s : sizes) {
        System.out.printf(Locale.ROOT, "%-44s %-9s %5d %7d %5d %6d %5d %11d%n", s.capture(), s.protocol(),
            s.connections(), s.total().size(), s.min(), s.median(), s.max(), s.medianReassembly());
      }
    }
  }
}
