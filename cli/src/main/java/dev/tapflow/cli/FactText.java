package dev.tapflow.cli;

import dev.tapflow.schemas.LatencyFact;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/** One fact per line, tcpkit style: time, client => server, latency, status, command line. */
final class FactText {
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSSSSS").withZone(ZoneOffset.UTC);

  private FactText() {}

  static String line(LatencyFact f) {
    long ns = f.getRequestFirstNs();
    String time = TIME.format(Instant.ofEpochSecond(Math.floorDiv(ns, 1_000_000_000L), Math.floorMod(ns, 1_000_000_000L)));
    String latency = f.getLatencyNs() == null ? "       -   " : String.format(Locale.ROOT, "%8.3f ms", f.getLatencyNs() / 1e6);
    StringBuilder cmd = new StringBuilder(f.getCommand());
    if (f.getResource() != null) {
      cmd.append(' ').append(f.getResource());
    }
    if (f.getArgs() != null) {
      cmd.append(' ').append(f.getArgs());
    }
    return String.format(Locale.ROOT, "%s %s:%d => %s:%d %s %-8s %s", time, f.getClientIp(), f.getClientPort(),
        f.getServerIp(), f.getServerPort(), latency, f.getStatus().name(), cmd)
        + (f.getError() != null ? "  (" + f.getError() + ")" : "")
        + lossNote(f);
  }

  /** Loss evidence, when there is some: {@code  [request_gap response_gap after_gap]}. */
  private static String lossNote(LatencyFact f) {
    boolean afterGap = "after_gap".equals(f.getPairing());
    if (!f.getRequestGap() && !f.getResponseGap() && !afterGap) {
      return "";
    }
    StringBuilder b = new StringBuilder();
    if (f.getRequestGap()) {
      b.append(" request_gap");
    }
    if (f.getResponseGap()) {
      b.append(" response_gap");
    }
    if (afterGap) {
      b.append(" after_gap");
    }
    return "  [" + b.substring(1) + "]";
  }
}
