package dev.tapflow.cli;

import dev.tapflow.capture.live.CaptureFailedException;
import dev.tapflow.capture.live.CaptureSetupException;
import dev.tapflow.capture.live.LiveCapture;
import dev.tapflow.capture.live.LivePublisher;
import dev.tapflow.schemas.CaptureStats;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Timer;
import java.util.TimerTask;

/**
 * Runs a live capture in the foreground for {@code tapflow capture} and {@code tapflow local
 * -i}: opens it (setup errors become one-line {@link UserError}s, exit 2), stops it on
 * SIGTERM/SIGINT or after --duration, prints a line of counters every stats interval and the
 * final one, and turns a capture that failed while running into exit code 3.
 */
final class LiveAgent {
  /** Exit code of a capture that failed after it had started (an interface disappeared). */
  static final int EXIT_CAPTURE_FAILED = 3;

  private LiveAgent() {}

  /**
   * Captures until a signal or {@code duration}; returns the final report.
   *
   * @param publisher closed by the capture
   */
  static CaptureStats run(LiveCapture.Settings settings, LivePublisher publisher, Duration duration, PrintWriter err) {
    LiveCapture capture;
    try {
      capture = LiveCapture.open(settings, publisher);
    } catch (CaptureSetupException e) {
      publisher.close();
      throw new UserError(e.getMessage(), e);
    }
    Timer timer = null;
    try (capture; StopSignals signals = StopSignals.install(capture::stop)) {
      if (duration != null) {
        timer = new Timer("tapflow-capture-duration", true);
        timer.schedule(new TimerTask() {
          @Override
          public void run() {
            capture.stop();
          }
        }, Math.max(1, duration.toMillis()));
      }
      err.printf("tapflow: capturing on %s as agent %s, filter '%s'%s%n", String.join(", ", capture.describeInterfaces()),
          settings.agent(), settings.filter(), duration == null ? "; SIGTERM or Ctrl-C stops" : "; for " + duration);
      err.flush();
      CaptureStats last = capture.run(r -> {
        err.println("tapflow: capture " + LiveOptions.line(r));
        err.flush();
      });
      return last;
    } catch (CaptureFailedException e) {
      throw new UserError("capture failed: " + e.getMessage(), e, EXIT_CAPTURE_FAILED);
    } finally {
      if (timer != null) {
        timer.cancel();
      }
    }
  }
}
