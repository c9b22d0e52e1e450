package dev.tapflow.stream.protocol.kafka;

import java.io.IOException;
import java.util.List;

/** {@link KafkaFixtures} for tests in other packages. */
public final class KafkaFixtureAccess {

  private KafkaFixtureAccess() {}

  /** See {@link KafkaFixtures#scramValues}. */
  public static List<String> scramValues(String name) throws IOException {
    return KafkaFixtures.scramValues(name);
  }
}
