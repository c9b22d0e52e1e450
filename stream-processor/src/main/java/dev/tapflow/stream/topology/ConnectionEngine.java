package dev.tapflow.stream.topology;

import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Transport;
import dev.tapflow.stream.flow.Flow;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.stream.tcp.ConnectionTracker;
import dev.tapflow.stream.udp.UdpFlowTracker;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * What happens to a connection's segments, free of Kafka types: the Kafka Streams
 * processor and {@code tapflow analyze} both run this, over a state store and over a map,
 * so both produce the same facts.
 *
 * <p>Per batch: restore the connection's tracker, feed it the segments in capture order,
 * store it back (or drop it when the connection ended). On stream time: expire requests
 * older than the window and evict idle connections. On an agent's end of capture: close
 * every connection of that agent.
 *
 * <p>UDP flows ({@link UdpFlowTracker}) live in the same store under their own keys and go
 * through the same three paths; a UDP flow is stored only once a protocol was recognised on
 * it (until then its datagrams are only counted, {@link #UDP_NOT_DECODED}), it never
 * "finishes", and it is dropped when quiet ({@link UdpFlowTracker#evictable}).
 */
public final class ConnectionEngine {

  /** The connections' state: a Kafka Streams key-value store or a plain map. */
  public interface Store {
    byte[] get(byte[] key);

    void put(byte[] key, byte[] value);

    void delete(byte[] key);

    /** Number of connections held (an estimate is enough: it enforces a bound). */
    long approximateSize();

    /** Every entry; the visitor must not modify the store. */
    void forEach(Visitor visitor);

    interface Visitor {
      void visit(byte[] key, byte[] value);
    }
  }

  /** Where facts and anomalies go. */
  public interface Output {
    void fact(byte[] key, LatencyFact fact);

    /**
     * Whether this output takes {@code fact}, asked before its id (the costliest field: a
     * SHA-256) is set: a fact declined here is counted by the engine but never finished nor
     * passed to {@link #fact}. {@code tapflow analyze --slower-than} declines the quick ones.
     */
    default boolean wants(LatencyFact factWithoutId) {
      return true;
    }

    void decodeError(byte[] key, DecodeError error);
  }

  /** Counter: a batch of a new connection (or UDP flow) was not tracked because the task holds {@code maxConnections}. */
  public static final String TOO_MANY_CONNECTIONS = "TCP_TOO_MANY_CONNECTIONS";
  /** Counter: a UDP datagram no protocol was recognised in (or of a flow given up on). */
  public static final String UDP_NOT_DECODED = "UDP_NOT_DECODED";

  private final ProcessorConfig config;
  private final ConnectionTracker.Settings settings;
  private final long windowNs;
  private final long idleNs;
  private final Map<String, LongAdder> anomalies = new ConcurrentHashMap<>();
  private final LongAdder facts = new LongAdder();
  private final LongAdder corruptStates = new LongAdder();

  public ConnectionEngine(ProcessorConfig config) {
    this.config = config;
    this.settings = config.trackerSettings();
    this.windowNs = config.window().toNanos();
    this.idleNs = config.idleEviction().toNanos();
  }

  public ProcessorConfig config() {
    return config;
  }

  /** Counts of anomalies by name since start. */
  public Map<String, Long> anomalyCounts() {
    Map<String, Long> out = new TreeMap<>();
    anomalies.forEach((k, v) -> out.put(k, v.sum()));
    if (corruptStates.sum() > 0) {
      out.put("STATE_UNREADABLE", corruptStates.sum());
    }
    return out;
  }

  public long factsEmitted() {
    return facts.sum();
  }

  /**
   * One batch of one connection.
   *
   * @param keyBytes the serialised connection key (the store key)
   */
  public void onBatch(byte[] keyBytes, ConnectionKey key, SegmentBatch batch, Store store, Output out) {
    if (batch.getEndOfCapture()) {
      endOfCapture(key.getAgent(), batch.getEndTsNs(), store, out);
      return;
    }
    if (key.getTransport() == Transport.UDP) {
      onUdpBatch(keyBytes, key, batch, store, out);
      return;
    }
    ConnectionTracker tracker = load(keyBytes, store);
    List<Segment> segments = batch.getSegments();
    if (tracker == null) {
      if (!opensConnection(segments)) {
        return; // a FIN/RST of a connection already closed and dropped: nothing to do
      }
      if (store.approximateSize() >= settings.reassemblyLimits().maxConnections()) {
        count(TOO_MANY_CONNECTIONS); // per batch of an untracked connection
        return;
      }
      tracker = new ConnectionTracker(key.getAgent(), bytes(key.getIpA()), key.getPortA(),
          bytes(key.getIpB()), key.getPortB());
    }
    tracker.agentHint(batch.getVantage().ordinal(), batch.getLocalEndpoints());
    TrackerOutput to = new TrackerOutput(keyBytes, out);
    for (int i = 0; i < segments.size(); i++) {
      Segment s = segments.get(i);
      tracker.segment(s.getAToB(), s.getTsNs(), s.getSeq(), s.getAck(), s.getFlags(), bytes(s.getPayload()),
          s.getPayloadLen(), windowNs, settings, to);
      if (tracker.finished()) {
        tracker.close(s.getTsNs(), settings, to);
        store.delete(keyBytes);
        if (i + 1 < segments.size()) {
          // the 4-tuple was reused within one batch: start again with what follows
          List<Segment> rest = new ArrayList<>(segments.subList(i + 1, segments.size()));
          onBatch(keyBytes, key, SegmentBatch.newBuilder(batch).setSegments(rest).build(), store, out);
        }
        return;
      }
    }
    store.put(keyBytes, tracker.toBytes());
  }

  private void onUdpBatch(byte[] keyBytes, ConnectionKey key, SegmentBatch batch, Store store, Output out) {
    byte[] state = store.get(keyBytes);
    UdpFlowTracker flow = state == null ? null : restoreUdp(state);
    if (flow == null) {
      if (state != null) {
        store.delete(keyBytes);
      } else if (store.approximateSize() >= settings.reassemblyLimits().maxConnections()) {
        count(TOO_MANY_CONNECTIONS);
        return;
      }
      flow = new UdpFlowTracker(key.getAgent(), bytes(key.getIpA()), key.getPortA(), bytes(key.getIpB()),
          key.getPortB());
    }
    flow.agentHint(batch.getVantage().ordinal(), batch.getLocalEndpoints());
    TrackerOutput to = new TrackerOutput(keyBytes, out);
    for (Segment s : batch.getSegments()) {
      if (!flow.datagram(s.getAToB(), s.getTsNs(), s.getPacketNo(), bytes(s.getPayload()), s.getPayloadLen(), windowNs,
          settings, to)) {
        count(UDP_NOT_DECODED);
      }
    }
    if (flow.tracked()) {
      store.put(keyBytes, flow.toBytes());
    }
  }

  /**
   * Stream time advanced to {@code nowNs}: requests older than the window become TIMEOUT
   * facts; connections idle longer than the eviction bound are closed and dropped.
   */
  public void onStreamTime(long nowNs, Store store, Output out) {
    List<byte[]> keys = new ArrayList<>();
    List<byte[]> values = new ArrayList<>();
    store.forEach((k, v) -> {
      if (UdpFlowTracker.isUdpState(v) ? UdpFlowTracker.needsSweep(v, nowNs, idleNs)
          : ConnectionTracker.needsSweep(v, nowNs, idleNs)) {
        keys.add(k);
        values.add(v);
      }
    });
    for (int i = 0; i < keys.size(); i++) {
      byte[] k = keys.get(i);
      if (UdpFlowTracker.isUdpState(values.get(i))) {
        sweepUdp(k, values.get(i), nowNs, store, out);
        continue;
      }
      ConnectionTracker t = restore(values.get(i));
      if (t == null) {
        store.delete(k);
        continue;
      }
      TrackerOutput to = new TrackerOutput(k, out);
      if (nowNs - t.lastSeenNs() > idleNs) {
        t.close(nowNs, settings, to);
        store.delete(k);
      } else {
        byte[] before = values.get(i);
        t.expire(nowNs, windowNs, settings, to);
        byte[] after = t.toBytes();
        if (!java.util.Arrays.equals(before, after)) {
          store.put(k, after);
        }
      }
    }
  }

  private void sweepUdp(byte[] key, byte[] before, long nowNs, Store store, Output out) {
    UdpFlowTracker flow = restoreUdp(before);
    if (flow == null) {
      store.delete(key);
      return;
    }
    TrackerOutput to = new TrackerOutput(key, out);
    flow.expire(nowNs, windowNs, to);
    if (flow.evictable(nowNs, idleNs)) {
      flow.close(nowNs, to);
      store.delete(key);
      return;
    }
    byte[] after = flow.toBytes();
    if (!java.util.Arrays.equals(before, after)) {
      store.put(key, after);
    }
  }

  /** The agent's capture ended: all its connections close, pending requests become facts. */
  public void endOfCapture(String agent, long endNs, Store store, Output out) {
    List<byte[]> keys = new ArrayList<>();
    List<byte[]> values = new ArrayList<>();
    store.forEach((k, v) -> {
      keys.add(k);
      values.add(v);
    });
    for (int i = 0; i < keys.size(); i++) {
      if (UdpFlowTracker.isUdpState(values.get(i))) {
        UdpFlowTracker flow = restoreUdp(values.get(i));
        if (flow == null) {
          store.delete(keys.get(i));
        } else if (flow.agent().equals(agent)) {
          flow.close(endNs, new TrackerOutput(keys.get(i), out));
          store.delete(keys.get(i));
        }
        continue;
      }
      ConnectionTracker t = restore(values.get(i));
      if (t == null) {
        store.delete(keys.get(i));
        continue;
      }
      if (t.agent().equals(agent)) {
        t.close(endNs, settings, new TrackerOutput(keys.get(i), out));
        store.delete(keys.get(i));
      }
    }
  }

  private ConnectionTracker load(byte[] keyBytes, Store store) {
    byte[] state = store.get(keyBytes);
    if (state == null) {
      return null;
    }
    ConnectionTracker t = restore(state);
    if (t == null) {
      store.delete(keyBytes);
    }
    return t;
  }

  private ConnectionTracker restore(byte[] state) {
    try {
      return ConnectionTracker.fromBytes(state, settings);
    } catch (IOException | RuntimeException e) {
      corruptStates.increment(); // an older format or a damaged record: start the connection afresh
      return null;
    }
  }

  private UdpFlowTracker restoreUdp(byte[] state) {
    try {
      return UdpFlowTracker.fromBytes(state, settings);
    } catch (IOException | RuntimeException e) {
      corruptStates.increment(); // an older format or a damaged record: start the flow afresh
      return null;
    }
  }

  private static boolean opensConnection(List<Segment> segments) {
    for (Segment s : segments) {
      if ((s.getFlags() & ConnectionTracker.SYN) != 0 || s.getPayload().remaining() > 0) {
        return true;
      }
    }
    return false;
  }

  private void count(String name) {
    anomalies.computeIfAbsent(name, n -> new LongAdder()).increment();
  }

  private static byte[] bytes(ByteBuffer buf) {
    if (buf.hasArray() && buf.arrayOffset() == 0 && buf.position() == 0 && buf.remaining() == buf.array().length) {
      return buf.array();
    }
    byte[] out = new byte[buf.remaining()];
    buf.duplicate().get(out);
    return out;
  }

  private final class TrackerOutput implements ConnectionTracker.Output {
    private final byte[] key;
    private final Output out;

    TrackerOutput(byte[] key, Output out) {
      this.key = key;
      this.out = out;
    }

    @Override
    public void exchange(Flow flow, Exchange exchange) {
      facts.increment();
      LatencyFact fact = FactMapper.toFactWithoutId(flow, exchange);
      if (out.wants(fact)) {
        fact.setId(FactMapper.factId(flow, exchange));
        out.fact(key, config.keyPolicy().apply(fact));
      }
    }

    @Override
    public void anomaly(Flow flow, String name, boolean clientSide, long offset, String detail) {
      count(name);
      out.decodeError(key, FactMapper.toDecodeError(flow, name, clientSide, offset, detail));
    }
  }
}
