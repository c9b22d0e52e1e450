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

  /** Keeps the facts {@code keep} accepts (e.g. only slow ones; it sees each fact before its id is set), counts all. */
  public FactCollector(Predicate<LatencyFact> keep) {
    this.keep = keep;
  }

  /** Counts every fact and takes those {@code keep} accepts: the others never get their id. */
  @Override
  public boolean wants(LatencyFact factWithoutId) {
    factCount++;
    return keep.test(factWithoutId);
  }

  @Override
  public void fact(byte[] key, LatencyFact fact) {
    facts.add(fact);
  }

  /** Takes in what {@code other} collected (facts, errors and the count), e.g. of engines run side by side. */
  public void addAll(FactCollector other) {
    facts.addAll(other.facts);
    errors.addAll(other.errors);
    factCount += other.factCount;
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
