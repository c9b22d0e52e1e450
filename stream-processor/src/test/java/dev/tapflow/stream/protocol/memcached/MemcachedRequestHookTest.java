package dev.tapflow.stream.protocol.memcached;

import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.protocol.testing.Chunk;
import dev.tapflow.stream.protocol.testing.RequestTiling;
import dev.tapflow.stream.protocol.testing.SessionFeeder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The request hook on every recorded memcached connection, text and binary ({@link RequestTiling}). */
class MemcachedRequestHookTest {

  @ParameterizedTest
  @ValueSource(strings = {"text", "binary"})
  void requestsTileTheClientStream(String fixture) throws Exception {
    for (Map.Entry<String, List<Chunk>> c : MemcachedFixtures.load(fixture).entrySet()) {
      assertFalse(RequestTiling.check(SessionFeeder.of(new MemcachedProtocol(), SessionLimits.DEFAULTS),
          fixture + "/" + c.getKey(), c.getValue()).isEmpty());
    }
  }
}
