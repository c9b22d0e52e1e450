package dev.tapflow.stream.testing;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Test-only: checks a property on many generated cases, JUnit 5 style (an assertion failure
 * is a counterexample). A property is a generator of cases from a seeded random source, a
 * check, and a shrinker that proposes smaller cases; a failure is shrunk greedily and
 * reported with the seed that regenerates it.
 *
 * <p>Each run draws a fresh base seed, so repeated runs explore new cases. To replay a
 * failure, run with {@code -Dtapflow.seed=<seed from the message>}: every property then
 * checks exactly the case that seed generates.
 *
 * <p>Why not jqwik: from 1.10 on it carries an anti-AI usage clause (use with coding agents
 * is strongly discouraged by its maintainers, and its engine writes text addressed to AI
 * agents into the test output). This project is developed with coding agents, so it keeps
 * its own small harness instead.
 */
public final class PropertyCheck {

  /** System property that replays one case. */
  public static final String SEED_PROPERTY = "tapflow.seed";
  /** Upper bound on shrink attempts (each one runs the check once). */
  private static final int MAX_SHRINK_STEPS = 500;

  private PropertyCheck() {}

  /**
   * Runs {@code check} on {@code tries} cases from {@code generate}; on the first failure,
   * shrinks it and throws an {@link AssertionError} naming the seed, the case as first found,
   * the smallest failing case, and (as the cause) that case's failure.
   *
   * @param shrink smaller variants of a case, most promising first (may be empty)
   */
  public static <T> void forAll(int tries, Function<SplittableRandom, T> generate,
      Function<T, List<T>> shrink, Consumer<T> check) {
    Long replay = Long.getLong(SEED_PROPERTY);
    long base = replay != null ? replay : new SplittableRandom().nextLong();
    int n = replay != null ? 1 : tries;
    for (int i = 0; i < n; i++) {
      long seed = replay != null ? replay : new SplittableRandom(base + i).nextLong();
      T found = generate.apply(new SplittableRandom(seed));
      Throwable failure = failureOf(check, found);
      if (failure == null) {
        continue;
      }
      T smallest = found;
      int steps = 0;
      boolean progress = true;
      while (progress && steps < MAX_SHRINK_STEPS) {
        progress = false;
        for (T candidate : shrink.apply(smallest)) {
          if (++steps > MAX_SHRINK_STEPS) {
            break;
          }
          Throwable f = failureOf(check, candidate);
          if (f != null) {
            smallest = candidate;
            failure = f;
            progress = true;
            break;
          }
        }
      }
      throw new AssertionError("property failed on try " + (i + 1) + " of " + n
          + " (replay with -D" + SEED_PROPERTY + "=" + seed + ")\n  found:    " + found
          + "\n  smallest: " + smallest + "\n  because:  " + failure, failure);
    }
  }

  private static <T> Throwable failureOf(Consumer<T> check, T value) {
    try {
      check.accept(value);
      return null;
    } catch (AssertionError | RuntimeException e) {
      return e;
    }
  }
}
