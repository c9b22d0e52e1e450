package dev.tapflow.cli;

import dev.tapflow.capture.CaptureFileException;

/** A failure the user can act on: printed as one line, exit code 2. */
final class UserError extends RuntimeException {
  UserError(String message) {
    super(message);
  }

  UserError(String message, Throwable cause) {
    super(message, cause);
  }

  int exitCode() {
    return 2;
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
