package dev.tapflow.bench;

import dev.tapflow.bench.RecordedConnections.Connection;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.Segment;
import dev.tapflow.stream.flow.Flow;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.stream.protocol.Protocols;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.tcp.ConnectionTracker;
import dev.tapflow.stream.tcp.ReassemblyLimits;
import dev.tapflow.stream.tcp.StreamReassembler;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The serialised state of an idle connection: what the processor keeps per connection in its
 * state store ({@link ConnectionTracker#toBytes}). Each connection of a capture is replayed
 * segment by segment as the processor does it; after every segment that leaves the
 * connection idle (at least one request answered, none pending, nothing buffered for
 * reordering, not finished), the state's size is a sample. Two stand-alone reassemblers fed
 * the same segments give the share of the two directions' reassembly state.
 */
final class ConnectionStateSize {

  private static final long WINDOW_NS = 60_000_000_000L;
  private static final ConnectionTracker.Settings SETTINGS = new ConnectionTracker.Settings(
      Protocols.installed(Map.of()), SessionLimits.DEFAULTS, ReassemblyLimits.DEFAULTS);

  private ConnectionStateSize() {}

  /** Idle-state sizes of one capture's connections of one protocol. */
  record Sizes(String capture, String protocol, int connections, List<Integer> total, List<Integer> reassembly) {
    int min() {
      return total.get(0);
    }

    int median() {
      return total.get(total.size() / 2);
    }

    int max() {
      return total.get(total.size() - 1);
    }

    int medianReassembly() {
      return reassembly.get(reassembly.size() / 2);
    }
  }

  static List<Sizes> measure(Path pcap) throws Exception {
    List<Sizes> out = new ArrayList<>();
    String capture = pcap.getFileName().toString();
    for (Connection c : RecordedConnections.read(pcap)) {
      Sizes s = replay(capture, c);
      if (s == null) {
        continue;
      }
      Sizes merged = out.stream().filter(o -> o.protocol.equals(s.protocol)).findFirst().orElse(null);
      if (merged == null) {
        out.add(s);
      } else {
        out.set(out.indexOf(merged), new Sizes(capture, s.protocol, merged.connections + 1,
            concat(merged.total, s.total), concat(merged.reassembly, s.reassembly)));
      }
    }
    for (Sizes s : out) {
      Collections.sort(s.total);
      Collections.sort(s.reassembly);
    }
    return out;
  }

  /** The idle samples of one connection, or null when it never was idle after an answer. */
  private static Sizes replay(String capture, Connection c) {
    ConnectionKey k = c.key();
    ConnectionTracker tracker = new ConnectionTracker(k.getAgent(), RecordedConnections.bytes(k.getIpA()),
        k.getPortA(), RecordedConnections.bytes(k.getIpB()), k.getPortB());
    StreamReassembler fromA = new StreamReassembler();
    StreamReassembler fromB = new StreamReassembler();
    StreamReassembler.Receiver ignore = new StreamReassembler.Receiver() {
      @Override
      public void bytes(byte[] buf, int off, int len, long streamOffset, long tsNs) {}

      @Override
      public void gap(long streamOffset, long length, long tsNs, StreamReassembler.GapCause cause) {}
    };
    int[] answered = {0};
    ConnectionTracker.Output counter = new ConnectionTracker.Output() {
      @Override
      public void exchange(Flow conn, Exchange exchange) {
        answered[0]++;
      }

      @Override
      public void anomaly(Flow conn, String name, boolean clientSide, long streamOffset, String detail) {}
    };
    List<Integer> total = new ArrayList<>();
    List<Integer> reassembly = new ArrayList<>();
    for (Segment s : c.segments()) {
      byte[] payload = RecordedConnections.bytes(s.getPayload());
      tracker.segment(s.getAToB(), s.getTsNs(), s.getSeq(), s.getAck(), s.getFlags(), payload, s.getPayloadLen(),
          WINDOW_NS, SETTINGS, counter);
      // the same calls the tracker makes on its two reassemblers
      if ((s.getFlags() & ConnectionTracker.ACK) != 0) {
        (s.getAToB() ? fromB : fromA).acked(s.getAck(), s.getTsNs(), ignore);
      }
      (s.getAToB() ? fromA : fromB).segment(s.getSeq(), (s.getFlags() & ConnectionTracker.SYN) != 0,
          (s.getFlags() & ConnectionTracker.FIN) != 0, payload, s.getPayloadLen(), s.getTsNs(),
          ReassemblyLimits.DEFAULTS, ignore);
      if (tracker.finished()) {
        break; // the processor drops a finished connection's state
      }
      byte[] state = tracker.toBytes();
      boolean idle = answered[0] > 0 && tracker.pendingRequests() == 0
          && !ConnectionTracker.needsSweep(state, tracker.lastSeenNs(), Long.MAX_VALUE);
      if (idle) {
        total.add(state.length);
        reassembly.add(size(fromA) + size(fromB));
      }
    }
    return total.isEmpty() ? null : new Sizes(capture, tracker.protocol(), 1, total, reassembly);
  }

  private static int size(StreamReassembler r) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      r.writeTo(new DataOutputStream(bytes));
      return bytes.size();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static List<Integer> concat(List<Integer> a, List<Integer> b) {
    List<Integer> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }
}
