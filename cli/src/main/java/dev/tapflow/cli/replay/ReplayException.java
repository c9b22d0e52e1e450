package dev.tapflow.cli.replay;

/**
 * The replay cannot go on: the target is unreachable, refused the password, closed a
 * connection, or did not answer in time. One line for the user; {@code tapflow replay} exits
 * with {@link #TARGET_FAILED}.
 */
public final class ReplayException extends RuntimeException {

  /** Exit code of {@code tapflow replay} when the target failed (2 is a usage error, 1 a bug). */
  public static final int TARGET_FAILED = 3;

  public ReplayException(String message) {
    super(message);
  }

  public ReplayException(String message, Throwable cause) {
    super(message, cause);
  }
}
