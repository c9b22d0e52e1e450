package dev.tapflow.cli.replay;

import dev.tapflow.sink.TextTable;
import java.util.Locale;
import java.util.Map;

/** The text {@code tapflow replay} prints at the end. */
public final class ReplayReport {
  private ReplayReport() {}

  /**
   * @param target where the requests went (or would go)
   * @param speed  the pacing as the user gave it ({@code 1.0}, {@code max})
   */
  public static String text(ReplayResult r, ReplayTarget target, String speed) {
    StringBuilder out = new StringBuilder();
    out.append(r.dryRun() ? "Dry run: would replay " : "Replayed ").append(r.sent()).append(" requests of ")
        .append(r.connections()).append(" captured connection(s) to ").append(target).append(" at speed ")
        .append(speed);
    if (!r.dryRun()) {
      out.append(" over ").append(r.targetConnections()).append(" connection(s)");
      r.ownCommands().forEach((c, n) -> out.append(", ").append(c).append(" x").append(n).append(" by the replayer"));
    }
    out.append('\n');
    out.append(String.format(Locale.ROOT, "  original %.3f s (first request to last), %s %.3f s", r.originalNs() / 1e9,
        r.dryRun() ? "replay about" : "replay", r.replayNs() / 1e9));
    if (r.originalNs() > 0 && r.replayNs() > 0) {
      out.append(String.format(Locale.ROOT, " (%.1f%%)", 100.0 * r.replayNs() / r.originalNs()));
    }
    if (!r.dryRun()) {
      out.append(String.format(Locale.ROOT, ", %.0f requests/s", r.ratePerSecond()));
    }
    if (r.lagMaxNs() >= 0) {
      out.append(String.format(Locale.ROOT, "; sent late against the schedule by p99 %.3f ms, max %.3f ms",
          r.lagP99Ns() / 1e6, r.lagMaxNs() / 1e6));
    }
    out.append('\n');
    TextTable table = r.dryRun() ? new TextTable("COMMAND", ">COUNT", ">ORIG P50 ms", ">ORIG P99 ms")
        : new TextTable("COMMAND", ">COUNT", ">ORIG P50 ms", ">ORIG P99 ms", ">REPLAY P50 ms", ">REPLAY P99 ms",
            ">DIFFERENT");
    for (Map.Entry<String, CommandStats> e : r.commands().entrySet()) {
      CommandStats s = e.getValue();
      if (r.dryRun()) {
        table.row(e.getKey(), Long.toString(s.count()), ms(s.originalNs(50)), ms(s.originalNs(99)));
      } else {
        long different = s.differences().values().stream().mapToLong(Long::longValue).sum();
        table.row(e.getKey(), Long.toString(s.count()), ms(s.originalNs(50)), ms(s.originalNs(99)),
            ms(s.replayNs(50)), ms(s.replayNs(99)), Long.toString(different));
      }
    }
    table.appendTo(out);
    if (!r.skipped().isEmpty()) {
      out.append("Not replayed (").append(r.skippedTotal()).append(")\n");
      TextTable skipped = new TextTable("COMMAND", "REASON", ">COUNT");
      r.skipped().forEach((c, reasons) -> reasons.forEach((reason, n) -> skipped.row(c, reason, Long.toString(n))));
      skipped.appendTo(out);
    }
    boolean header = false;
    for (Map.Entry<String, CommandStats> e : r.commands().entrySet()) {
      if (e.getValue().differences().isEmpty()) {
        continue;
      }
      if (!header) {
        out.append("Outcomes that differ from the capture (captured->replayed)\n");
        header = true;
      }
      out.append("  ").append(e.getKey()).append(": ").append(e.getValue().differences());
      if (e.getValue().firstDifferentError() != null) {
        out.append(", first error: ").append(TextTable.printable(e.getValue().firstDifferentError(), 120));
      }
      out.append('\n');
    }
    if (!r.anomalies().isEmpty()) {
      out.append("Decode anomalies on the target's replies: ").append(r.anomalies()).append('\n');
    }
    return out.toString();
  }

  private static String ms(long ns) {
    return ns < 0 ? "-" : String.format(Locale.ROOT, "%.3f", ns / 1e6);
  }
}
