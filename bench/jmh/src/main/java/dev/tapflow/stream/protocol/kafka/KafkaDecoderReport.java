package dev.tapflow.stream.protocol.kafka;

import java.util.Collection;
import java.util.Locale;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Runs {@link KafkaDecoderBenchmark} and prints MB/s and messages/s (JMH's own output goes
 * to a log file). Run by {@code bench/decoders.sh}.
 *
 * <pre>KafkaDecoderReport JMH_LOG PCAP_DIR</pre>
 */
public final class KafkaDecoderReport {

  private KafkaDecoderReport() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: KafkaDecoderReport JMH_LOG PCAP_DIR");
      System.exit(2);
    }
    String pcaps = java.nio.file.Path.of(args[1]).toAbsolutePath().toString();
    System.setProperty("tapflow.bench.kafka.pcaps", pcaps);
    Options options = new OptionsBuilder()
        .include(KafkaDecoderBenchmark.class.getName())
        .jvmArgsAppend("-Dtapflow.bench.kafka.pcaps=" + pcaps)
        .output(args[0])
        .build();
    Collection<RunResult> results = new Runner(options).run();
    System.out.printf(Locale.ROOT, "Kafka decoder throughput, 1 thread (JMH log: %s)%n", args[0]);
    System.out.printf(Locale.ROOT, "%-17s %-8s %6s %9s %7s %9s %10s %12s %9s%n", "capture", "mode", "conns", "bytes",
        "frames", "facts", "MB/s", "messages/s", "ns/msg");
    for (RunResult r : results) {
      String capture = r.getParams().getParam("capture");
      String mode = r.getParams().getParam("mode");
      KafkaDecoderBenchmark.Feed feed = KafkaDecoderBenchmark.feed(capture);
      Result<?> score = r.getPrimaryResult();
      double passes = score.getScore();
      double messages = passes * feed.frames();
      System.out.printf(Locale.ROOT, "%-17s %-8s %6d %9d %7d %9d %10.1f %,12.0f %9.0f  (±%.0f%%)%n", capture, mode,
          feed.conns().size(), feed.bytes(), feed.frames(), feed.exchanges(), passes * feed.bytes() / 1e6, messages,
          1e9 / messages, 100 * score.getScoreError() / passes);
    }
    System.out.println("frames: requests and responses; messages/s counts frames; facts: what one pass reports.");
  }
}
