package dev.tapflow.stream.topology;

import dev.tapflow.schemas.VantagePair;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches the clock offsets of the pairs going by, per agent pair (client agent, server
 * agent), and says when an agent's clock is skewed against its peer's: the estimate (see
 * {@link Recent#estimate()}) from the latest {@value #RECENT} pairs is beyond
 * {@link VantageJoinConfig#skewThreshold()} once {@link VantageJoinConfig#minPairs()} pairs were seen. One WARN line when an agent pair
 * becomes skewed (and one INFO line when it is back), counters in {@link VantageJoinCounters}.
 * Pairs pass through unchanged.
 *
 * <p>State in the store {@value VantageJoinConfig#SKEW_STORE}, per task: an agent pair's
 * pairs spread over the join's partitions, so each task judges from its share.
 */
final class VantageSkewMonitor implements FixedKeyProcessor<String, VantagePair, VantagePair> {
  private static final Logger LOG = LoggerFactory.getLogger(VantageSkewMonitor.class);
  /** Offsets kept per agent pair for the median. */
  static final int RECENT = 63;

  private final VantageJoinConfig config;
  private final VantageJoinCounters counters;
  private FixedKeyProcessorContext<String, VantagePair> context;
  private KeyValueStore<String, byte[]> store;

  VantageSkewMonitor(VantageJoinConfig config, VantageJoinCounters counters) {
    this.config = config;
    this.counters = counters;
  }

  @Override
  public void init(FixedKeyProcessorContext<String, VantagePair> context) {
    this.context = context;
    this.store = context.getStateStore(VantageJoinConfig.SKEW_STORE);
  }

  @Override
  public void process(FixedKeyRecord<String, VantagePair> record) {
    VantagePair p = record.value();
    String agents = p.getClientAgent() + " -> " + p.getServerAgent();
    Recent r = Recent.read(store.get(agents));
    r.add(p.getClockOffsetNs(), p.getNetworkNs());
    boolean violation = p.getServerRequestLastNs() < p.getClientRequestLastNs()
        || p.getServerResponseFirstNs() > p.getClientResponseFirstNs();
    if (violation) {
      r.violations++;
      counters.causalityViolations.increment();
    }
    if (r.count >= config.minPairs()) {
      long median = r.estimate();
      boolean skewed = Math.abs(median) > config.skewThreshold().toNanos();
      counters.medianOffsetNs.put(agents, median);
      counters.skewed.put(agents, skewed);
      if (skewed != r.skewed) {
        r.skewed = skewed;
        if (skewed) {
          LOG.warn("vantage: clock of agent {} is {} ms {} agent {}'s (estimated from the quickest quarter of the"
              + " last {} pairs; {} of {} pairs break causality on the raw clocks); threshold {} ms", p.getServerAgent(),
              String.format("%.3f", Math.abs(median) / 1e6), median > 0 ? "ahead of" : "behind",
              p.getClientAgent(), r.n, r.violations, r.count, config.skewThreshold().toNanos() / 1e6);
        } else {
          LOG.info("vantage: clocks of agents {} and {} agree again (median offset {} ms)", p.getClientAgent(),
              p.getServerAgent(), String.format("%.3f", median / 1e6));
        }
      }
    }
    store.put(agents, r.toBytes());
    counters.pairs.increment();
    context.forward(record);
  }

  /** An agent pair's recent offsets (a ring), pairs seen, causality violations, and the last judgement. */
  static final class Recent {
    long count;
    long violations;
    boolean skewed;
    int n;
    int next;
    final long[] offsets = new long[RECENT];
    final long[] network = new long[RECENT];

    static Recent read(byte[] bytes) {
      Recent r = new Recent();
      if (bytes == null || bytes.length < 25) {
        return r;
      }
      ByteBuffer b = ByteBuffer.wrap(bytes);
      r.count = b.getLong();
      r.violations = b.getLong();
      r.skewed = b.get() != 0;
      r.n = Math.min(b.getInt(), RECENT);
      r.next = Math.floorMod(b.getInt(), RECENT);
      for (int i = 0; i < r.n && b.remaining() >= 16; i++) {
        r.offsets[i] = b.getLong();
        r.network[i] = b.getLong();
      }
      return r;
    }

    byte[] toBytes() {
      ByteBuffer b = ByteBuffer.allocate(25 + 16 * n);
      b.putLong(count).putLong(violations).put((byte) (skewed ? 1 : 0)).putInt(n).putInt(next);
      for (int i = 0; i < n; i++) {
        b.putLong(offsets[i]).putLong(network[i]);
      }
      return b.array();
    }

    void add(long offset, long networkNs) {
      offsets[next] = offset;
      network[next] = networkNs;
      next = (next + 1) % RECENT;
      n = Math.min(n + 1, RECENT);
      count++;
    }

    /**
     * NTP's clock filter, simply: a pair's offset is off by at most half its network time
     * (the asymmetry between the ways), and retransmissions or queueing make that large; so
     * the median offset of the pairs whose network time is at most the lower quartile of the
     * recent ones.
     */
    long estimate() {
      long[] net = Arrays.copyOf(network, n);
      Arrays.sort(net);
      long quartile = net[(n - 1) / 4];
      long[] kept = new long[n];
      int k = 0;
      for (int i = 0; i < n; i++) {
        if (network[i] <= quartile) {
          kept[k++] = offsets[i];
        }
      }
      long[] s = Arrays.copyOf(kept, k);
      Arrays.sort(s);
      return k % 2 == 1 ? s[k / 2] : Math.floorDiv(s[k / 2 - 1] + s[k / 2], 2);
    }
  }
}
