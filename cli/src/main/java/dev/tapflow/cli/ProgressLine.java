package dev.tapflow.cli;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * A progress line on stderr: redrawn in place on a terminal, one line per update otherwise
 * (a log keeps every line), and nothing at all when disabled.
 */
final class ProgressLine {
  private final PrintWriter err;
  private final boolean enabled;
  private final boolean inPlace;
  private boolean drawn;

  ProgressLine(PrintWriter err, boolean enabled, boolean inPlace) {
    this.err = err;
    this.enabled = enabled;
    this.inPlace = inPlace;
  }

  /** Whether stderr is (most likely) a terminal: the JVM has a console. */
  static boolean terminal() {
    return System.console() != null;
  }

  void update(String text) {
    if (!enabled) {
      return;
    }
    if (inPlace) {
      err.print("\r" + text + "\u001b[K");
      drawn = true;
    } else {
      err.println(text);
    }
    err.flush();
  }

  /** Clears an in-place line so that what follows starts on a clean line. */
  void clear() {
    if (drawn) {
      err.print("\r\u001b[K");
      err.flush();
      drawn = false;
    }
  }

  /** {@code [#####.....]} of {@code width} cells. */
  static String bar(double fraction, int width) {
    int full = (int) Math.round(Math.max(0, Math.min(1, fraction)) * width);
    return "[" + "#".repeat(full) + ".".repeat(width - full) + "]";
  }

  /** 1234567 -> "1,234,567". */
  static String count(long n) {
    return String.format(Locale.ROOT, "%,d", n);
  }

  /** A rate per second, rounded to what a person reads: "12,345/s". */
  static String rate(double perSecond) {
    return String.format(Locale.ROOT, "%,.0f/s", perSecond);
  }

  /** Bytes as "12.3 MB" (decimal units). */
  static String bytes(long n) {
    if (n < 10_000) {
      return n + " B";
    }
    if (n < 10_000_000) {
      return String.format(Locale.ROOT, "%.1f kB", n / 1e3);
    }
    if (n < 10_000_000_000L) {
      return String.format(Locale.ROOT, "%.1f MB", n / 1e6);
    }
    return String.format(Locale.ROOT, "%.1f GB", n / 1e9);
  }

  /** Seconds as "42s", "3m05s", "1h02m". */
  static String duration(double seconds) {
    long s = Math.max(0, Math.round(seconds));
    if (s < 60) {
      return s + "s";
    }
    if (s < 3600) {
      return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
    }
    return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
  }
}
