package dev.tapflow.stream.topology;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import java.util.ArrayList;
import java.util.List;

/** Keeps what an engine emits, for {@code tapflow analyze} and tests. */
public final class FactCollector implements ConnectionEngine.Output {
  private final List<LatencyFact> facts = new ArrayList<>();
  private final List<DecodeError> errors = new ArrayList<>();

  @Override
  public void fact(byte[] key, LatencyFact fact) {
    facts.add(fact);
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
