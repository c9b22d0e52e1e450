package dev.tapflow.cli.replay;

import dev.tapflow.capture.BatchListener;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Transport;
import dev.tapflow.stream.flow.Flow;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.stream.tcp.ConnectionTracker;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;

/**
 * Rebuilds the client side of each captured connection from its segments, through the
 * processor's own {@link ConnectionTracker} (reassembly, protocol detection, decoders,
 * pairing), and hands each request of the target's protocol to a {@link Sink} in its
 * connection's wire order, with its exact bytes, its capture time and how it ended.
 *
 * <p>Bytes are cut out of the client stream as the session reports each decoded request
 * ({@code FlowOutput.request}); only the bytes of the request being decoded are held. A
 * request is handed on once its exchange is known (answered, NO_REPLY, or TIMEOUT at the end),
 * so per connection the requests waiting are those the capture had not yet answered.
 * Trackers live in a map, not serialised; a connection ends at FIN/RST, when idle for the
 * processor's idle bound (capture time), at its agent's end of capture, or at {@link #finish}.
 */
public final class CapturedRequests implements BatchListener {

  /** Where requests go. Called on the reading thread; {@link #request} may block (backpressure). */
  public interface Sink {
    void request(CapturedRequest request);

    /** The captured connection ended: none of its requests follow. */
    void connectionEnded(long connection);

    /** A request of the target's protocol that is not sent, and why ({@link ReplayPolicy}'s reasons). */
    void skipped(String command, String reason);
  }

  /** One request's bytes held at most: a longer one is not replayed ({@link ReplayPolicy#REQUEST_GAP}). */
  static final int MAX_REQUEST_BYTES = 64 * 1024 * 1024;

  private final ProcessorConfig config;
  private final ConnectionTracker.Settings settings;
  private final String protocol;
  private final byte[] sourceIp;
  private final int sourcePort;
  private final String agent;
  private final ReplayPolicy policy;
  private final Sink sink;
  private final Map<ConnectionKey, Connection> connections = new HashMap<>();
  private long nextConnection = 1;
  private long nextSweepNs = Long.MIN_VALUE;
  private long anomalies;
  private long untracked;

  /**
   * @param protocol the target's protocol: connections of other protocols are ignored
   * @param source   {@code HOST:PORT} of the captured server to replay, or null for all
   * @param agent    only this agent's captures, or null for all
   */
  public CapturedRequests(ProcessorConfig config, String protocol, String source, String agent, ReplayPolicy policy,
      Sink sink) {
    this.config = config;
    this.settings = config.trackerSettings();
    this.protocol = protocol;
    this.agent = agent;
    this.policy = policy;
    this.sink = sink;
    if (source == null) {
      sourceIp = null;
      sourcePort = -1;
    } else {
      int colon = source.lastIndexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("--source wants SERVER:PORT, got '" + source + "'");
      }
      try {
        sourceIp = InetAddress.getByName(source.substring(0, colon).replace("[", "").replace("]", "")).getAddress();
        sourcePort = Integer.parseInt(source.substring(colon + 1));
      } catch (UnknownHostException | NumberFormatException e) {
        throw new IllegalArgumentException("--source wants SERVER:PORT, got '" + source + "'");
      }
    }
  }

  /** Anomalies the decoders raised on the captured connections (gaps, orphans …). */
  public long anomalies() {
    return anomalies;
  }

  /** Batches of connections not tracked because the processor's bound on open connections was reached. */
  public long untracked() {
    return untracked;
  }

  /** Connections of the target's protocol seen so far. */
  public long connections() {
    return nextConnection - 1;
  }

  @Override
  public void onBatch(ConnectionKey key, SegmentBatch batch) {
    if (batch.getEndOfCapture()) {
      onEndOfCapture(key.getAgent(), batch.getEndTsNs());
      return;
    }
    if (key.getTransport() != Transport.TCP || agent != null && !agent.equals(key.getAgent())) {
      return;
    }
    List<Segment> segments = batch.getSegments();
    Connection c = connections.get(key);
    for (int i = 0; i < segments.size(); i++) {
      Segment s = segments.get(i);
      if (c == null) {
        if ((s.getFlags() & ConnectionTracker.SYN) == 0 && s.getPayload().remaining() == 0) {
          continue; // the FIN/RST of a connection already closed
        }
        if (connections.size() >= settings.reassemblyLimits().maxConnections()) {
          untracked++; // the processor's bound on connections tracked at once
          return;
        }
        c = new Connection(new ConnectionTracker(key.getAgent(), bytes(key.getIpA()), key.getPortA(),
            bytes(key.getIpB()), key.getPortB()));
        connections.put(key, c);
      }
      c.tracker.segment(s.getAToB(), s.getTsNs(), s.getSeq(), s.getAck(), s.getFlags(), bytes(s.getPayload()),
          s.getPayloadLen(), config.window().toNanos(), settings, c);
      if (c.tracker.finished()) {
        c.close(s.getTsNs());
        connections.remove(key);
        c = null; // the 4-tuple may be reused by what follows
      }
    }
    sweep(segments.get(segments.size() - 1).getTsNs());
  }

  /** Every punctuation interval of capture time, connections idle past the processor's bound are closed. */
  private void sweep(long nowNs) {
    if (nextSweepNs == Long.MIN_VALUE) {
      nextSweepNs = nowNs + config.punctuateInterval().toNanos();
    }
    if (nowNs < nextSweepNs) {
      return;
    }
    nextSweepNs = nowNs + config.punctuateInterval().toNanos();
    long idleNs = config.idleEviction().toNanos();
    for (Iterator<Connection> it = connections.values().iterator(); it.hasNext(); ) {
      Connection c = it.next();
      if (nowNs - c.tracker.lastSeenNs() > idleNs) {
        it.remove();
        c.close(nowNs);
      }
    }
  }

  @Override
  public void onEndOfCapture(String agentName, long lastTsNs) {
    for (Iterator<Connection> it = connections.values().iterator(); it.hasNext(); ) {
      Connection c = it.next();
      if (c.tracker.agent().equals(agentName)) {
        it.remove();
        c.close(lastTsNs);
      }
    }
  }

  /** The source is exhausted (end of files, or the end of the time range): every connection closes. */
  public void finish() {
    List<Connection> all = new ArrayList<>(connections.values());
    connections.clear();
    for (Connection c : all) {
      c.close(c.tracker.lastSeenNs());
    }
  }

  private static byte[] bytes(ByteBuffer buf) {
    byte[] out = new byte[buf.remaining()];
    buf.duplicate().get(out);
    return out;
  }

  /** A request decoded on a captured connection, waiting for its exchange. */
  private static final class Decoded {
    final long offset;
    final long firstNs;
    final byte[] bytes;
    Exchange exchange;

    Decoded(long offset, long firstNs, byte[] bytes) {
      this.offset = offset;
      this.firstNs = firstNs;
      this.bytes = bytes;
    }
  }

  /** One captured connection: its tracker, the client bytes of the request being decoded, and requests awaiting their exchange. */
  private final class Connection implements ConnectionTracker.Output {
    final ConnectionTracker tracker;
    long id;
    /** 0 undecided, 1 replayed (the target's protocol and server), 2 ignored */
    byte eligible;
    /** client stream bytes [base, base + length) */
    byte[] buf = new byte[256];
    int length;
    long base = -1;
    final ArrayDeque<Decoded> decoded = new ArrayDeque<>();
    /** capture times at which earlier replayed requests were answered, not yet counted by a later request */
    final PriorityQueue<Long> answers = new PriorityQueue<>();
    long answered;

    Connection(ConnectionTracker tracker) {
      this.tracker = tracker;
    }

    @Override
    public void clientBytes(Flow flow, byte[] b, int off, int len, long streamOffset) {
      if (base < 0 || streamOffset != base + length || length + len > MAX_REQUEST_BYTES) {
        base = streamOffset; // a gap, or a request too large to hold: start afresh here
        length = 0;
      }
      if (length + len > MAX_REQUEST_BYTES) {
        base = streamOffset + len;
        return;
      }
      if (length + len > buf.length) {
        buf = java.util.Arrays.copyOf(buf, Math.max(length + len, buf.length * 2));
      }
      System.arraycopy(b, off, buf, length, len);
      length += len;
    }

    @Override
    public void request(Flow flow, long streamOffset, long len, long firstNs, long lastNs) {
      byte[] bytes = null;
      long end = streamOffset + len;
      if (streamOffset >= base && end <= base + length) {
        int from = (int) (streamOffset - base);
        bytes = java.util.Arrays.copyOfRange(buf, from, from + (int) len);
      }
      if (end > base && end <= base + length) {
        int drop = (int) (end - base);
        System.arraycopy(buf, drop, buf, 0, length - drop);
        length -= drop;
        base = end;
        if (buf.length > 65536 && length < 4096) {
          buf = java.util.Arrays.copyOf(buf, 4096); // give back the room a large request took
        }
      }
      decoded.addLast(new Decoded(streamOffset, firstNs, bytes));
    }

    @Override
    public void exchange(Flow flow, Exchange exchange) {
      for (Decoded d : decoded) {
        if (d.offset == exchange.requestOffset()) {
          d.exchange = exchange;
          break;
        }
      }
      while (!decoded.isEmpty() && decoded.peekFirst().exchange != null) {
        release(decoded.pollFirst());
      }
    }

    @Override
    public void anomaly(Flow flow, String name, boolean clientSide, long offset, String detail) {
      anomalies++;
    }

    private boolean eligible() {
      if (eligible == 0) {
        boolean match = protocol.equals(tracker.protocol())
            && (sourceIp == null || java.util.Arrays.equals(sourceIp, tracker.serverIp()) && sourcePort == tracker.serverPort());
        eligible = (byte) (match ? 1 : 2);
        if (match) {
          id = nextConnection++;
        }
      }
      return eligible == 1;
    }

    private void release(Decoded d) {
      if (!eligible()) {
        return;
      }
      Exchange ex = d.exchange;
      String reason = policy.skipReason(protocol, ex.command(), ex.resource(), ex.args());
      if (reason == null && (d.bytes == null || ex.requestGap())) {
        reason = ReplayPolicy.REQUEST_GAP;
      }
      if (reason != null) {
        sink.skipped(ex.command(), reason);
        return;
      }
      while (!answers.isEmpty() && answers.peek() <= d.firstNs) {
        answers.poll();
        answered++;
      }
      if (ex.status() == FactStatus.NO_REPLY) {
        answers.add(d.firstNs);
      } else if (ex.hasResponse()) {
        answers.add(ex.responseLastNs());
      }
      long latency = ex.hasResponse() ? ex.responseFirstNs() - ex.requestLastNs() : -1;
      sink.request(new CapturedRequest(id, ex.command(), d.bytes, d.firstNs, ex.status(), ex.error(), latency, answered));
    }

    void close(long tsNs) {
      tracker.close(tsNs, settings, this);
      while (!decoded.isEmpty()) { // requests whose exchange never came (a gap): not replayable
        Decoded d = decoded.pollFirst();
        if (d.exchange != null) {
          release(d);
        } else if (eligible()) {
          sink.skipped("?", ReplayPolicy.REQUEST_GAP);
        }
      }
      if (eligible == 1) {
        sink.connectionEnded(id);
      }
    }
  }
}
