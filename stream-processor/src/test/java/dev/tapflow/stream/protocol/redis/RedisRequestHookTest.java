package dev.tapflow.stream.protocol.redis;

import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.protocol.testing.Chunk;
import dev.tapflow.stream.protocol.testing.RequestTiling;
import dev.tapflow.stream.protocol.testing.SessionFeeder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The request hook on every recorded Redis connection ({@link RequestTiling}). */
class RedisRequestHookTest {

  @ParameterizedTest
  @ValueSource(strings = {"benchmark", "benchmark-pipelined", "client-reply", "inline-quotes", "pubsub-resp2",
      "pubsub-resp3", "resp2-auth", "resp2-redis-cli", "resp3-push-attrib", "resp3-redis-cli"})
  void requestsTileTheClientStream(String fixture) throws Exception {
    for (Map.Entry<String, List<Chunk>> c : RespFixtures.load(fixture).entrySet()) {
      assertFalse(RequestTiling.check(SessionFeeder.of(new RedisProtocol(), SessionLimits.DEFAULTS),
          fixture + "/" + c.getKey(), c.getValue()).isEmpty());
    }
  }
}
