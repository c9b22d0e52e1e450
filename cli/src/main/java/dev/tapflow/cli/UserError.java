package dev.tapflow.cli;

import dev.tapflow.capture.CaptureFileException;

/** A failure the user can act on: printed as one line, exit code 2 (or the one given). */
final class UserError extends RuntimeException {
  private final int exitCode;

  UserError(String message) {
    this(message, null, 2);
  }

  UserError(String message, Throwable cause) {
    this(message, cause, 2);
  }

  UserError(String message, Throwable cause, int exitCode) {
    super(message, cause);
    this.exitCode = exitCode;
  }

  int exitCode() {
    return exitCode;
  }

  /** The most useful one-line message of an exception chain. */
  static String message(Throwable ex) {
    if (ex instanceof UserError || ex instanceof CaptureFileException) {
      return ex.getMessage();
    }
    Throwable root = ex;
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
    }
    String m = ex.getMessage();
    String r = root.getMessage();
    if (root == ex || r == null) {
      return ex.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }
    return (m == null ? ex.getClass().getSimpleName() : m) + " (" + root.getClass().getSimpleName() + ": " + r + ")";
  }
}
