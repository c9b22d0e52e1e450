package dev.tapflow.capture.live;

/**
 * Live capture could not start, for a reason the operator can fix: libpcap missing, no such
 * interface, a filter libpcap rejects, a missing capability. The message is one line that
 * says what and what to do; it is meant to be printed as is.
 */
public final class CaptureSetupException extends Exception {
  private static final long serialVersionUID = 1L;

  public CaptureSetupException(String message) {
    super(message);
  }

  public CaptureSetupException(String message, Throwable cause) {
    super(message, cause);
  }
}
