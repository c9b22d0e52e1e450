package dev.tapflow.stream.topology;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

/** Keeps what an engine emits, for {@code tapflow analyze} and tests. */
public final class FactCollector implements ConnectionEngine.Output {
  private final List<LatencyFact> facts = new ArrayList<>();
  private final List<DecodeError> errors = new ArrayList<>();
  private final Predicate<LatencyFact> keep;
  private long factCount;

  /** Keeps every fact. */
  public FactCollector() {
    this(f -> true);
  }

  /** Keeps the facts {@code keep} accepts (e.g. only slow ones), counts all. */
  public FactCollector(Predicate<LatencyFact> keep) {
    this.keep = keep;
  }

  @Override
  public void fact(byte[] key, LatencyFact fact) {
    factCount++;
    if (keep.test(fact)) {
      facts.add(fact);
    }
  }

  /** Facts emitted, kept or not. */
  public long factCount() {
    return factCount;
  }

  @Override
  public void decodeError(byte[] key, DecodeError error) {
    errors.add(error);
  }

  public List<LatencyFact> facts() {
    return facts;
  }

  public List<DecodeError> errors() {
    return errors;
  }
}
