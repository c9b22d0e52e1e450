package dev.tapflow.stream.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.LatencyWindow;
import dev.tapflow.schemas.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The aggregator keeps what was closed (windows before a stream time, an agent's end) in memory
 * as well as in its store: a new aggregator over the same store (a restarted or moved task)
 * reads it back, so a fact for a window that was already emitted is late there too.
 */
class LatencyWindowAggregatorRestartTest {

  private static final long S = 1_000_000_000L;

  private static LatencyFact fact(String agent, long firstNs) {
    LatencyFact f = new LatencyFact();
    f.setId("x");
    f.setAgent(agent);
    f.setProtocol("redis");
    f.setVantage("client");
    f.setClientIp("10.0.0.1");
    f.setClientPort(40000);
    f.setServerIp("10.0.0.2");
    f.setServerPort(6379);
    f.setCommand("GET");
    f.setStatus(Status.OK);
    f.setRequestFirstNs(firstNs);
    f.setRequestLastNs(firstNs);
    f.setRequestBytes(10L);
    f.setResponseBytes(5L);
    f.setRequestOffset(0L);
    f.setLoss(false);
    f.setRequestGap(false);
    f.setResponseGap(false);
    f.setPairing("order");
    f.setDetail(new HashMap<>());
    f.setRequestSeq(0L);
    f.setResponseFirstNs(firstNs + 1000);
    f.setResponseLastNs(firstNs + 1000);
    f.setLatencyNs(1000L);
    return f;
  }

  private static final class Collected implements LatencyWindowAggregator.Output {
    final List<LatencyWindow> windows = new ArrayList<>();
    final List<DecodeError> anomalies = new ArrayList<>();

    @Override
    public void window(byte[] key, LatencyWindow window, long timestampMs) {
      windows.add(window);
    }

    @Override
    public void anomaly(byte[] key, DecodeError error, long timestampMs) {
      anomalies.add(error);
    }
  }

  @Test
  void aNewAggregatorOverTheSameStoreKnowsWhatWasClosed() {
    LatencyWindowConfig config = LatencyWindowConfig.defaults().withSize(Duration.ofSeconds(10)).withGrace(Duration.ZERO);
    ProcessorConfig processor = ProcessorConfig.defaults();
    InMemoryWindowStore store = new InMemoryWindowStore();
    LatencyWindowCounters counters = new LatencyWindowCounters();
    Collected out = new Collected();

    LatencyWindowAggregator first = new LatencyWindowAggregator(config, processor, counters, store, 0, out);
    first.add(fact("a", 100 * S));
    first.add(fact("b", 100 * S));
    // stream time far past the window [100 s, 110 s) and the TIMEOUT window: it closes
    first.onTick((110 * S + processor.window().toNanos()) / 1_000_000 + 1_000);
    assertEquals(2, out.windows.size(), "both agents' windows emitted");
    first.onAgentEnd("b", 500 * S);

    LatencyWindowAggregator second = new LatencyWindowAggregator(config, processor, counters, store, 0, out);
    second.add(fact("a", 105 * S)); // its window was emitted by the first: late
    second.add(fact("b", 300 * S)); // before agent b's end: late
    second.add(fact("a", 300 * S)); // open
    assertEquals(2, counters.lateFactsDropped.get(), "late facts seen by the new aggregator");
    assertEquals(3, counters.factsCounted.get(), "two counted by the first, one by the second");
    second.onAgentEnd("a", 600 * S);
    assertEquals(3, out.windows.size(), "agent a's open window emitted at its end");
  }
}
