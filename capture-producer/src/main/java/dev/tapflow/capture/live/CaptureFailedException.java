package dev.tapflow.capture.live;

import dev.tapflow.schemas.CaptureStats;

/**
 * A live capture that had started could not go on (an interface disappeared, the kernel
 * failed a call). The capture was shut down in order first: its final report is here.
 */
public final class CaptureFailedException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient CaptureStats finalReport;

  public CaptureFailedException(String message, CaptureStats finalReport) {
    super(message);
    this.finalReport = finalReport;
  }

  /** The report made after the orderly shutdown. */
  public CaptureStats finalReport() {
    return finalReport;
  }
}
