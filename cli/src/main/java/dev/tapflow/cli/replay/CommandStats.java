package dev.tapflow.cli.replay;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import java.util.Map;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;

/**
 * One command's replay: how many were sent, the captured and the replayed latency
 * distributions, and the outcomes that differ from the capture ({@code OK->ERROR} …).
 * Captured latency is the fact's (response's first byte − request's last byte, at the
 * capture point); replayed latency is the replayer's own (send → reply fully read).
 */
public final class CommandStats {

  private static final long MAX_NS = java.util.concurrent.TimeUnit.MINUTES.toNanos(10);

  long count;
  // in µs, 3 significant digits, sized by the largest value recorded (a few KB for fast commands)
  final Histogram original = new Histogram(3);
  final Histogram replay = new Histogram(3);
  /** "OK->ERROR" -> count */
  final Map<String, Long> differences = new TreeMap<>();
  /** the first replay error text that differs from the capture's */
  String firstDifferentError;

  /** A request counted with its captured latency (a dry run counts only this). */
  void recordOriginal(CapturedRequest r) {
    count++;
    if (r.originalLatencyNs() >= 0) {
      original.recordValue(Math.min(r.originalLatencyNs(), MAX_NS) / 1000);
    }
  }

  /** A request sent, and how the target answered it. */
  void record(CapturedRequest r, Exchange ex) {
    recordOriginal(r);
    if (ex.hasResponse()) {
      replay.recordValue(Math.max(0, Math.min(ex.responseLastNs() - ex.requestFirstNs(), MAX_NS)) / 1000);
    }
    FactStatus was = r.originalStatus();
    if (was != ex.status()) {
      differences.merge(was + "->" + ex.status(), 1L, Long::sum);
      if (ex.status() == FactStatus.ERROR && firstDifferentError == null) {
        firstDifferentError = ex.error();
      }
    } else if (was == FactStatus.ERROR && ex.error() != null && r.originalError() != null
        && !errorKind(ex.error()).equals(errorKind(r.originalError()))) {
      differences.merge("ERROR->other ERROR", 1L, Long::sum);
      if (firstDifferentError == null) {
        firstDifferentError = ex.error();
      }
    }
  }

  /** An error's first word (WRONGTYPE, ERR, NOT_FOUND): the kind, not the message. */
  private static String errorKind(String error) {
    int sp = error.indexOf(' ');
    return sp < 0 ? error : error.substring(0, sp);
  }

  public long count() {
    return count;
  }

  /** Captured latency at a percentile, ns (µs precision); -1 without a captured response. */
  public long originalNs(double percentile) {
    return original.getTotalCount() == 0 ? -1 : original.getValueAtPercentile(percentile) * 1000;
  }

  /** Replayed latency at a percentile, ns (µs precision); -1 without a reply. */
  public long replayNs(double percentile) {
    return replay.getTotalCount() == 0 ? -1 : replay.getValueAtPercentile(percentile) * 1000;
  }

  /** Outcomes that differ from the capture: {@code "OK->ERROR" -> count}. */
  public Map<String, Long> differences() {
    return differences;
  }

  public String firstDifferentError() {
    return firstDifferentError;
  }
}
