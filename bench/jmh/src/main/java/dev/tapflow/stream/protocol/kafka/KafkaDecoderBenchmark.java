package dev.tapflow.stream.protocol.kafka;

import dev.tapflow.bench.RecordedConnections;
import dev.tapflow.schemas.Segment;
import dev.tapflow.protocol.api.DecoderListener;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import dev.tapflow.stream.tcp.ConnectionTracker;
import dev.tapflow.stream.tcp.ReassemblyLimits;
import dev.tapflow.stream.tcp.StreamReassembler;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Kafka decoding throughput, one thread, on the recorded Kafka fixtures (a real broker and
 * real clients: {@code stream-processor/src/test/resources/pcap/kafka}, or
 * {@code -Dtapflow.bench.kafka.pcaps}). One operation is one pass over every connection of a
 * capture, each direction's bytes fed in capture order as the connection tracker hands them
 * over (reassembled before measuring: retransmissions trimmed). In the package of the decoder, whose framing class is
 * package-private.
 *
 * <ul>
 *   <li>{@code framing}: a {@link KafkaDecoder} per direction, frames only (their heads
 *       checked; bodies of up to 1 MiB copied whole, as in the session);
 *   <li>{@code session}: the {@link KafkaSession} the processor runs: framing, parsing every
 *       request and response with kafka-clients, pairing, the facts' resource and detail.
 * </ul>
 *
 * Captures: {@code all} (the six fixtures), {@code producer} (Produce requests of 40 records),
 * {@code consumer-classic} (Fetch responses carrying 300 records, long polls).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 2)
public class KafkaDecoderBenchmark {

  static final String DEFAULT_PCAPS = "stream-processor/src/test/resources/pcap/kafka";
  static final List<String> ALL = List.of("admin", "producer", "consumer-classic", "consumer-kip848", "transactions",
      "sasl-plain");
  private static final List<Integer> SERVER_PORTS = List.of(9092, 29092);

  @Param({"all", "producer", "consumer-classic"})
  public String capture;

  @Param({"framing", "session"})
  public String mode;

  /** One connection's payload-carrying segments in capture order. */
  record Conn(boolean[] client, byte[][] payload, long[] tsNs) {}

  /** A capture's connections, with what one pass over them decodes. */
  record Feed(List<Conn> conns, long bytes, long frames, long exchanges) {}

  private Feed feed;

  @Setup
  public void read() throws Exception {
    feed = feed(capture);
  }

  @Benchmark
  public void pass(Blackhole bh) {
    if (mode.equals("framing")) {
      bh.consume(frame(feed.conns()));
    } else {
      bh.consume(session(feed.conns(), new Counting()));
    }
  }

  static Path pcaps() {
    return Path.of(System.getProperty("tapflow.bench.kafka.pcaps", DEFAULT_PCAPS));
  }

  static Feed feed(String capture) throws Exception {
    List<Conn> conns = new ArrayList<>();
    long bytes = 0;
    for (String name : capture.equals("all") ? ALL : List.of(capture)) {
      for (RecordedConnections.Connection c : RecordedConnections.read(pcaps().resolve(name + ".pcap"))) {
        Conn conn = reassembled(c);
        for (byte[] p : conn.payload()) {
          bytes += p.length;
        }
        conns.add(conn);
      }
    }
    Counting out = new Counting();
    long frames = frame(conns);
    session(conns, out);
    if (out.anomalies > 0) {
      throw new IllegalStateException(capture + ": " + out.anomalies + " anomalies (first: " + out.first
          + "); the benchmark wants clean input");
    }
    return new Feed(conns, bytes, frames, out.exchanges);
  }

  /**
   * Each direction's bytes as the connection tracker hands them to a session: through a
   * {@link StreamReassembler} (retransmitted bytes trimmed), in capture order.
   */
  private static Conn reassembled(RecordedConnections.Connection c) {
    boolean bIsServer = SERVER_PORTS.contains(c.key().getPortB());
    List<Boolean> client = new ArrayList<>();
    List<byte[]> payload = new ArrayList<>();
    List<Long> ts = new ArrayList<>();
    StreamReassembler fromA = new StreamReassembler();
    StreamReassembler fromB = new StreamReassembler();
    for (Segment s : c.segments()) {
      boolean clientSide = s.getAToB() == bIsServer;
      StreamReassembler.Receiver into = new StreamReassembler.Receiver() {
        @Override
        public void bytes(byte[] buf, int off, int len, long streamOffset, long tsNs) {
          client.add(clientSide);
          payload.add(java.util.Arrays.copyOfRange(buf, off, off + len));
          ts.add(tsNs);
        }

        @Override
        public void gap(long streamOffset, long length, long tsNs, StreamReassembler.GapCause cause) {
          throw new IllegalStateException("the fixtures have no capture loss");
        }
      };
      (s.getAToB() ? fromA : fromB).segment(s.getSeq(), (s.getFlags() & ConnectionTracker.SYN) != 0,
          (s.getFlags() & ConnectionTracker.FIN) != 0, RecordedConnections.bytes(s.getPayload()), s.getTsNs(),
          ReassemblyLimits.DEFAULTS, into);
    }
    Conn conn = new Conn(new boolean[client.size()], new byte[client.size()][], new long[client.size()]);
    for (int i = 0; i < client.size(); i++) {
      conn.client()[i] = client.get(i);
      conn.payload()[i] = payload.get(i);
      conn.tsNs()[i] = ts.get(i);
    }
    return conn;
  }

  /** Frames only: requests checked as the session checks them, responses by shape. Returns the frames found. */
  static long frame(List<Conn> conns) {
    long[] frames = {0};
    DecoderListener<KafkaFrame> count = new DecoderListener<>() {
      @Override
      public void message(KafkaFrame f) {
        frames[0]++;
      }

      @Override
      public void anomaly(String name, long streamOffset, String detail) {
        throw new IllegalStateException(name + " at " + streamOffset + ": " + detail);
      }
    };
    for (Conn c : conns) {
      KafkaDecoder requests = new KafkaDecoder(SessionLimits.DEFAULTS, REQUESTS);
      KafkaDecoder responses = new KafkaDecoder(SessionLimits.DEFAULTS, RESPONSES);
      long[] offset = new long[2];
      for (int i = 0; i < c.payload().length; i++) {
        int d = c.client()[i] ? 0 : 1;
        byte[] b = c.payload()[i];
        (c.client()[i] ? requests : responses).decode(b, 0, b.length, offset[d], c.tsNs()[i], count);
        offset[d] += b.length;
      }
    }
    return frames[0];
  }

  /** The whole session. Returns the exchanges reported. */
  static long session(List<Conn> conns, Counting out) {
    for (Conn c : conns) {
      KafkaSession s = new KafkaSession(SessionLimits.DEFAULTS);
      long[] offset = new long[2];
      for (int i = 0; i < c.payload().length; i++) {
        int d = c.client()[i] ? 0 : 1;
        byte[] b = c.payload()[i];
        if (c.client()[i]) {
          s.clientData(b, 0, b.length, offset[d], c.tsNs()[i], out);
        } else {
          s.serverData(b, 0, b.length, offset[d], c.tsNs()[i], out);
        }
        offset[d] += b.length;
      }
      s.close(c.tsNs()[c.tsNs().length - 1], out);
    }
    return out.exchanges;
  }

  private static final KafkaDecoder.FrameCheck REQUESTS = new KafkaDecoder.FrameCheck() {
    @Override
    public int needed(byte[] head, int len, int size) {
      return 4 + KafkaHeaders.requestNeeded(head, 4, len - 4);
    }

    @Override
    public boolean plausible(byte[] head, int len, int size, KafkaDecoder.Position position) {
      return KafkaHeaders.plausibleRequest(head, 4, len - 4, size, position != KafkaDecoder.Position.TRUSTED);
    }
  };

  private static final KafkaDecoder.FrameCheck RESPONSES = new KafkaDecoder.FrameCheck() {
    @Override
    public int needed(byte[] head, int len, int size) {
      return 4 + KafkaHeaders.MIN_RESPONSE;
    }

    @Override
    public boolean plausible(byte[] head, int len, int size, KafkaDecoder.Position position) {
      return KafkaHeaders.plausibleResponse(head, 4, len - 4, size, false, id -> true);
    }
  };

  /** Counts what a session reports. */
  static final class Counting implements SessionOutput {
    long exchanges;
    long anomalies;
    String first;

    @Override
    public void exchange(Exchange exchange) {
      exchanges++;
    }

    @Override
    public void anomaly(String name, boolean clientSide, long streamOffset, String detail) {
      if (anomalies++ == 0) {
        first = name + " " + (clientSide ? "client" : "server") + " @" + streamOffset + ": " + detail;
      }
    }
  }
}
