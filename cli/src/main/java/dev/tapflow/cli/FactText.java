package dev.tapflow.cli;

import dev.tapflow.schemas.LatencyFact;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/** One fact per line, tcpkit style: time, client => server, latency, status, command line. */
final class FactText {
  private static final DateTimeFormatter TIME =
      DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss").withZone(ZoneOffset.UTC);

  private FactText() {}

  static String line(LatencyFact f) {
    return line(f, new StringBuilder(160), new Clock()).toString();
  }

  /**
   * Appends {@code f}'s line to {@code b} (no line break), reusing {@code clock}'s text of the
   * last second: the same characters as {@code String.format("%s %s:%d => %s:%d %8.3f ms %-8s %s")}
   * with a {@code yyyy-MM-dd HH:mm:ss.SSSSSS} time, without a formatter per line (those made
   * printing every fact of a million-packet capture five times slower than finding them).
   */
  static StringBuilder line(LatencyFact f, StringBuilder b, Clock clock) {
    long ns = f.getRequestFirstNs();
    clock.append(b, Math.floorDiv(ns, 1_000_000_000L), Math.floorMod(ns, 1_000_000_000L));
    b.append(' ').append(f.getClientIp()).append(':').append(f.getClientPort())
        .append(" => ").append(f.getServerIp()).append(':').append(f.getServerPort()).append(' ');
    if (f.getLatencyNs() == null) {
      b.append("       -   ");
    } else {
      millis(b, f.getLatencyNs());
      b.append(" ms");
    }
    b.append(' ');
    String status = f.getStatus().name();
    b.append(status);
    for (int i = status.length(); i < 8; i++) {
      b.append(' ');
    }
    b.append(' ').append(f.getCommand());
    if (f.getResource() != null) {
      b.append(' ').append(f.getResource());
    }
    if (f.getArgs() != null) {
      b.append(' ').append(f.getArgs());
    }
    if (f.getError() != null) {
      b.append("  (").append(f.getError()).append(')');
    }
    return b.append(lossNote(f));
  }

  /** {@code ns} as {@code %8.3f} of milliseconds: rounded half up (away from zero), right-aligned in 8. */
  static void millis(StringBuilder b, long ns) {
    boolean negative = ns < 0;
    long abs = negative ? -ns : ns; // a latency, far from Long.MIN_VALUE
    long micros = abs / 1000 + (abs % 1000 >= 500 ? 1 : 0);
    String whole = Long.toString(micros / 1000);
    long frac = micros % 1000;
    int width = (negative ? 1 : 0) + whole.length() + 4;
    for (int i = width; i < 8; i++) {
      b.append(' ');
    }
    if (negative) {
      b.append('-'); // as String.format, also for a negative value that rounds to -0.000
    }
    b.append(whole).append('.');
    if (frac < 100) {
      b.append('0');
    }
    if (frac < 10) {
      b.append('0');
    }
    b.append(frac);
  }

  /** The text of the last second printed, {@code yyyy-MM-dd HH:mm:ss} (UTC): most lines share it. */
  static final class Clock {
    private long second = Long.MIN_VALUE;
    private String text;

    void append(StringBuilder b, long epochSecond, long nanos) {
      if (epochSecond != second) {
        second = epochSecond;
        text = TIME.format(Instant.ofEpochSecond(epochSecond));
      }
      b.append(text).append('.');
      long micros = nanos / 1000;
      for (long d = 100_000; d > 1 && micros < d; d /= 10) {
        b.append('0');
      }
      b.append(micros);
    }
  }

  /** Loss evidence, when there is some: {@code  [request_gap response_gap after_gap]}. */
  static String lossNote(LatencyFact f) {
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
