package dev.tapflow.cli;

import java.util.concurrent.atomic.AtomicInteger;
import sun.misc.Signal;

/**
 * SIGTERM and SIGINT for a long-running command: the first one asks it to stop in order (the
 * command then exits with its own code, 0 after a clean stop); a second one exits at once
 * with 128 + the signal number. Handled with {@code sun.misc.Signal} rather than a shutdown
 * hook because a hook cannot choose the exit code (the JVM exits 143 after SIGTERM whatever
 * the hook does) and runs while the JVM is already tearing down.
 */
final class StopSignals implements AutoCloseable {
  private static final String[] NAMES = {"TERM", "INT"};

  private final sun.misc.SignalHandler[] previous = new sun.misc.SignalHandler[NAMES.length];
  private final AtomicInteger received = new AtomicInteger();

  private StopSignals(Runnable stop) {
    for (int i = 0; i < NAMES.length; i++) {
      previous[i] = Signal.handle(new Signal(NAMES[i]), sig -> {
        if (received.getAndIncrement() == 0) {
          stop.run();
        } else {
          Runtime.getRuntime().halt(128 + sig.getNumber());
        }
      });
    }
  }

  /** Routes SIGTERM and SIGINT to {@code stop} until closed. */
  static StopSignals install(Runnable stop) {
    return new StopSignals(stop);
  }

  /** Whether a signal arrived. */
  boolean received() {
    return received.get() > 0;
  }

  @Override
  public void close() {
    for (int i = 0; i < NAMES.length; i++) {
      Signal.handle(new Signal(NAMES[i]), previous[i]);
    }
  }
}
