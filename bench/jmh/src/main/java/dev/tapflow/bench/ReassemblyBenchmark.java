package dev.tapflow.bench;

import dev.tapflow.bench.RecordedConnections.Connection;
import dev.tapflow.schemas.Segment;
import dev.tapflow.stream.tcp.ConnectionTracker;
import dev.tapflow.stream.tcp.ReassemblyLimits;
import dev.tapflow.stream.tcp.StreamReassembler;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
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
 * Reassembly throughput, one thread, in segments per second: every direction of a real
 * capture fed segment by segment into a {@link StreamReassembler}, one direction after
 * another (a fresh reassembler per direction, flushed when its last segment is in). One
 * benchmark operation is one segment. The captures are the Redis fixtures (directory
 * {@code -Dtapflow.bench.pcaps}, default {@value #DEFAULT_PCAPS} from the repository root):
 * {@code benchmark-plain} (redis-benchmark, 4 clients, no pipelining: small segments) and
 * {@code redis-cli-session} (a 100 KB value and 270 KB of replies in full-size segments).
 *
 * <ul>
 *   <li>{@code in-order}: the capture's own order (what a clean capture gives).
 *   <li>{@code reordered}: per direction, 5% of the data segments swapped with their next
 *       neighbour and 1% sent again one to three segments later (fixed seed), so the reorder
 *       buffer and the retransmit trimming are exercised.
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class ReassemblyBenchmark {

  /** Where the captures are when {@code -Dtapflow.bench.pcaps} is not set (relative to the repository root). */
  static final String DEFAULT_PCAPS = "stream-processor/src/test/resources/pcap/redis";

  @Param({"benchmark-plain", "redis-cli-session"})
  public String capture;

  @Param({"in-order", "reordered"})
  public String order;

  /** The segments of all directions, one after another, as arrays. */
  record Feed(long[] seq, boolean[] syn, boolean[] fin, byte[][] payload, long[] tsNs, boolean[] firstOfDirection) {
    int segments() {
      return seq.length;
    }

    long payloadBytes() {
      long sum = 0;
      for (byte[] p : payload) {
        sum += p.length;
      }
      return sum;
    }
  }

  private Feed feed;
  private int next;
  private StreamReassembler reassembler;
  private StreamReassembler.Receiver sink;

  @Setup
  public void read(Blackhole bh) throws Exception {
    feed = feed(pcap(capture), order.equals("reordered"));
    sink = new StreamReassembler.Receiver() {
      @Override
      public void bytes(byte[] buf, int off, int len, long streamOffset, long ts) {
        bh.consume(buf[off]);
        bh.consume(streamOffset + len);
      }

      @Override
      public void gap(long streamOffset, long length, long ts, StreamReassembler.GapCause cause) {
        bh.consume(length);
      }
    };
    reassembler = new StreamReassembler();
    next = 0;
  }

  /** One segment. */
  @Benchmark
  public void segment() {
    Feed f = feed;
    int i = next;
    if (f.firstOfDirection[i]) {
      reassembler.flush(f.tsNs[i], sink);
      reassembler = new StreamReassembler();
    }
    reassembler.segment(f.seq[i], f.syn[i], f.fin[i], f.payload[i], f.tsNs[i], ReassemblyLimits.DEFAULTS, sink);
    next = i + 1 == f.seq.length ? 0 : i + 1;
  }

  static Path pcap(String capture) {
    return Path.of(System.getProperty("tapflow.bench.pcaps", DEFAULT_PCAPS), capture + ".pcap");
  }

  /** Every direction of the capture's connections, each in capture order or {@link #reorder reordered}. */
  static Feed feed(Path pcap, boolean reordered) throws Exception {
    List<Segment> segments = new ArrayList<>();
    List<Boolean> starts = new ArrayList<>();
    Random random = new Random(42);
    for (Connection c : RecordedConnections.read(pcap)) {
      for (boolean aToB : new boolean[] {true, false}) {
        List<Segment> direction = new ArrayList<>();
        for (Segment s : c.segments()) {
          if (s.getAToB() == aToB) {
            direction.add(s);
          }
        }
        if (reordered) {
          direction = reorder(direction, random);
        }
        for (int i = 0; i < direction.size(); i++) {
          segments.add(direction.get(i));
          starts.add(i == 0);
        }
      }
    }
    int n = segments.size();
    Feed f = new Feed(new long[n], new boolean[n], new boolean[n], new byte[n][], new long[n], new boolean[n]);
    for (int i = 0; i < n; i++) {
      Segment s = segments.get(i);
      f.seq[i] = s.getSeq();
      f.syn[i] = (s.getFlags() & ConnectionTracker.SYN) != 0;
      f.fin[i] = (s.getFlags() & ConnectionTracker.FIN) != 0;
      f.payload[i] = RecordedConnections.bytes(s.getPayload());
      f.tsNs[i] = s.getTsNs();
      f.firstOfDirection[i] = starts.get(i);
    }
    return f;
  }

  /** 5% of data segments swapped with the next one, 1% sent again 1 to 3 segments later. */
  static List<Segment> reorder(List<Segment> direction, Random random) {
    List<Segment> out = new ArrayList<>(direction);
    for (int i = 1; i + 1 < out.size(); i++) { // never the SYN
      if (out.get(i).getPayload().remaining() > 0 && random.nextInt(100) < 5) {
        Segment s = out.get(i);
        out.set(i, out.get(i + 1));
        out.set(i + 1, s);
        i++;
      }
    }
    for (int i = out.size() - 1; i >= 1; i--) {
      if (out.get(i).getPayload().remaining() > 0 && random.nextInt(100) < 1) {
        out.add(Math.min(out.size(), i + 1 + random.nextInt(3)), out.get(i));
      }
    }
    return out;
  }}
