package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.tapflow.cli.WireTruth.Conn;
import dev.tapflow.cli.WireTruth.Wire;
import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Redis traffic recorded over an impaired link (loss, reordering, duplication, delay made
 * by {@code scripts/impair-forwarder.py}; see the fixtures' README), captured at both ends
 * at once. Truth is independent of tapflow: the server's {@code INFO commandstats}, and
 * tcpdump's reading of every packet ({@code packets.tsv}), from which the test computes
 * when each byte of each direction became readable by the receiver: the first capture of
 * that byte, or later if an earlier byte came later (the hole before it was filled).
 * Requests and replies are then placed on those bytes: requests by their offsets, replies by
 * tiling the server stream in request order (redis-benchmark gets no pushes).
 */
class ImpairedFixtureTruthTest {

  private static final Path FIXTURES =
      Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "redis-impaired");
  private static final long MASK = 0xffffffffL;

  private static final Map<String, Capture> CACHE = new ConcurrentHashMap<>();

  record Capture(String name, Analyzer.Result result, List<Wire> tsv, TcpPackets packets,
      Map<Conn, List<LatencyFact>> byConn) {}

  /** One direction of a connection as tcpdump saw it: when each byte became readable, and the bytes. */
  record Direction(long[] readableNs, byte[] bytes, int retransmitted, int outOfOrder) {
    int length() {
      return bytes.length;
    }
  }

  static Stream<String> impaired() throws IOException {
    return names().filter(n -> n.startsWith("impaired-"));
  }

  static Stream<String> midstream() throws IOException {
    return names().filter(n -> n.startsWith("midstream"));
  }

  private static Stream<String> names() throws IOException {
    try (Stream<Path> files = Files.list(FIXTURES)) {
      List<String> names = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".pcap"))
          .map(n -> n.substring(0, n.length() - 5)).sorted().toList();
      assertFalse(names.isEmpty(), "no fixtures in " + FIXTURES.toAbsolutePath());
      return names.stream();
    }
  }

  /** The link was really impaired: tcpdump saw retransmissions or out-of-order segments at this vantage. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("impaired")
  void theCaptureReallyHoldsRetransmissionsOrReordering(String name) throws IOException {
    Capture c = capture(name);
    int retransmitted = 0;
    int outOfOrder = 0;
    for (Conn conn : c.byConn().keySet()) {
      for (Direction d : List.of(direction(c, conn.client(), conn.server()), direction(c, conn.server(), conn.client()))) {
        retransmitted += d.retransmitted();
        outOfOrder += d.outOfOrder();
      }
    }
    assertTrue(retransmitted + outOfOrder > 0, name + ": no retransmission or reordering in the capture");
  }

  /** Every request on the wire is one fact: facts per command == the server's calls per command. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("impaired")
  void factsPerCommandAreTheServersCalls(String name) throws IOException {
    Capture c = capture(name);
    Map<String, Integer> ours = new TreeMap<>();
    for (LatencyFact x : c.result().facts()) {
      ours.merge(FixtureTruthTest.redisName(x), 1, Integer::sum);
    }
    String scenario = name.replaceFirst("-(client|server)$", "");
    assertEquals(commandstats(scenario), ours, name + ": commandstats calls vs facts per command");
  }

  /**
   * Per connection: the requests tile the client stream (every byte once, in order, the
   * commands the client's bytes hold), the replies tile the server stream in request order,
   * and every time on a fact is when its byte became readable; latency is their difference.
   * Nothing is lost, so nothing is flagged, and every pair is by order.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("impaired")
  void everyTimeIsWhenItsByteBecameReadable(String name) throws IOException {
    Capture c = capture(name);
    assertEquals(Map.of(), c.result().anomalies(), name + ": anomalies");
    assertEquals(List.of(), c.result().collector().errors().stream().map(DecodeError::getName).toList(), name);
    int checked = 0;
    for (Map.Entry<Conn, List<LatencyFact>> e : c.byConn().entrySet()) {
      Conn conn = e.getKey();
      List<LatencyFact> facts = e.getValue();
      Direction up = direction(c, conn.client(), conn.server());
      Direction down = direction(c, conn.server(), conn.client());
      List<String> sent = ClientRequests.parse(up.bytes()).stream().map(w -> w.get(0).toUpperCase(Locale.ROOT)).toList();
      assertEquals(sent, facts.stream().map(LatencyFact::getCommand).toList(), name + " " + conn + ": commands");
      long reqOff = 0;
      long respOff = 0;
      for (LatencyFact f : facts) {
        String id = name + " " + conn + " " + WireTruth.describe(f);
        assertEquals(Status.OK, f.getStatus(), id);
        assertEquals("order", f.getPairing(), id);
        assertFalse(f.getLoss(), id);
        assertEquals(reqOff, f.getRequestOffset(), id + ": requests tile the client stream");
        assertEquals(up.readableNs()[(int) reqOff], f.getRequestFirstNs(), id + ": request_first_ns");
        reqOff += f.getRequestBytes();
        assertEquals(up.readableNs()[(int) reqOff - 1], f.getRequestLastNs(), id + ": request_last_ns");
        assertEquals(down.readableNs()[(int) respOff], (long) f.getResponseFirstNs(), id + ": response_first_ns");
        respOff += f.getResponseBytes();
        assertEquals(down.readableNs()[(int) respOff - 1], (long) f.getResponseLastNs(), id + ": response_last_ns");
        assertEquals(f.getResponseFirstNs() - f.getRequestLastNs(), (long) f.getLatencyNs(), id + ": latency");
        checked++;
      }
      assertEquals(up.length(), reqOff, name + " " + conn + ": client stream length");
      assertEquals(down.length(), respOff, name + " " + conn + ": server stream length");
    }
    assertEquals(c.result().facts().size(), checked);
  }

  /**
   * A capture that starts while connections are busy: the replies to requests sent before it
   * are not paired, and from the first request whose start is in the capture, every request
   * is one fact, with its times the bytes' and its reply the first server bytes after it.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("midstream")
  void midStreamCapturesPairEverythingAfterTheFirstMessageStart(String name) throws IOException {
    Capture c = capture(name);
    int answered = 0;
    for (Map.Entry<Conn, List<LatencyFact>> e : c.byConn().entrySet()) {
      Conn conn = e.getKey();
      List<LatencyFact> facts = e.getValue();
      Direction up = direction(c, conn.client(), conn.server());
      int start = firstRequestStart(up.bytes());
      List<List<String>> sent = ClientRequests.parse(Arrays.copyOfRange(up.bytes(), start, up.length()));
      assertEquals(sent.stream().map(w -> w.get(0).toUpperCase(Locale.ROOT)).toList(),
          facts.stream().map(LatencyFact::getCommand).toList(),
          name + " " + conn + ": one fact per request from the first message start at byte " + start);
      long reqOff = start;
      List<Wire> downWires = WireTruth.data(c.tsv(), conn.server(), conn.client());
      for (int i = 0; i < facts.size(); i++) {
        LatencyFact f = facts.get(i);
        String id = name + " " + conn + " " + WireTruth.describe(f);
        assertEquals(reqOff, f.getRequestOffset(), id + ": requests tile the client stream");
        assertEquals(up.readableNs()[(int) reqOff], f.getRequestFirstNs(), id + ": request_first_ns");
        reqOff += f.getRequestBytes();
        assertEquals(up.readableNs()[(int) reqOff - 1], f.getRequestLastNs(), id + ": request_last_ns");
        if (f.getStatus() == Status.TIMEOUT) {
          // only the last requests can be unanswered: the capture stopped before their replies
          for (LatencyFact later : facts.subList(i, facts.size())) {
            assertEquals(Status.TIMEOUT, later.getStatus(), id + ": answered after an unanswered one");
          }
          break;
        }
        assertEquals(Status.OK, f.getStatus(), id);
        Wire next = firstAfter(downWires, f.getRequestLastNs());
        assertEquals(next.tsNs(), (long) f.getResponseFirstNs(), id + ": the first server packet after the request");
        assertEquals(f.getResponseFirstNs() - f.getRequestLastNs(), (long) f.getLatencyNs(), id);
        answered++;
      }
    }
    assertTrue(answered > 0, name + ": no pairs found");
  }

  // ---- truth from the packets ---------------------------------------------------------------

  /**
   * Byte by byte, when the receiver could read it: the capture time of the first packet
   * carrying it (tcpdump's reading), or the time an earlier byte became readable if later.
   * Offsets count from the byte after the SYN when the capture has it, else from the
   * lowest sequence number seen.
   */
  private static Direction direction(Capture c, String src, String dst) {
    List<Wire> rows = WireTruth.data(c.tsv(), src, dst);
    List<TcpPackets.Packet> pkts = c.packets().data(src, dst);
    long base = -1;
    for (TcpPackets.Packet p : c.packets().packets) {
      if (p.src().equals(src) && p.dst().equals(dst) && (p.flags() & TcpPackets.Packet.SYN) != 0) {
        base = (p.seq() + 1) & MASK;
      }
    }
    if (base < 0) {
      base = rows.get(0).seq();
      for (Wire w : rows) {
        if ((int) (w.seq() - base) < 0) {
          base = w.seq();
        }
      }
    }
    int length = 0;
    for (Wire w : rows) {
      length = Math.max(length, (int) ((w.seq() - base) & MASK) + w.len());
    }
    long[] first = new long[length];
    Arrays.fill(first, Long.MAX_VALUE);
    int retransmitted = 0;
    int outOfOrder = 0;
    int highest = 0;
    for (Wire w : rows) {
      int rel = (int) ((w.seq() - base) & MASK);
      if (rel + w.len() <= highest) {
        retransmitted++;
      } else if (rel > highest) {
        outOfOrder++;
      }
      highest = Math.max(highest, rel + w.len());
      for (int i = rel; i < rel + w.len(); i++) {
        if (first[i] == Long.MAX_VALUE) {
          first[i] = w.tsNs();
        }
      }
    }
    long[] readable = new long[length];
    long t = Long.MIN_VALUE;
    for (int i = 0; i < length; i++) {
      if (first[i] == Long.MAX_VALUE) {
        fail(c.name() + " " + src + " > " + dst + ": byte " + i + " is in no packet");
      }
      t = Math.max(t, first[i]);
      readable[i] = t;
    }
    byte[] bytes = new byte[length];
    boolean[] have = new boolean[length];
    for (TcpPackets.Packet p : pkts) {
      int rel = (int) ((p.seq() - base) & MASK);
      for (int i = 0; i < p.payload().length && rel + i < length; i++) {
        if (!have[rel + i]) {
          bytes[rel + i] = p.payload()[i];
          have[rel + i] = true;
        }
      }
    }
    return new Direction(readable, bytes, retransmitted, outOfOrder);
  }

  /** Offset of the first {@code *<n>\r\n$} at a line start (or at the first byte captured). */
  private static int firstRequestStart(byte[] s) {
    for (int i = 0; i < s.length - 4; i++) {
      if (s[i] == '*' && (i == 0 || s[i - 1] == '\n')) {
        int j = i + 1;
        while (j < s.length && Character.isDigit(s[j])) {
          j++;
        }
        if (j > i + 1 && j + 2 < s.length && s[j] == '\r' && s[j + 1] == '\n' && s[j + 2] == '$') {
          return i;
        }
      }
    }
    fail("no request start in the client stream");
    return -1;
  }

  private static Wire firstAfter(List<Wire> dir, long tsNs) {
    for (Wire w : dir) {
      if (w.tsNs() >= tsNs) {
        return w;
      }
    }
    fail("no server packet after " + tsNs);
    return null;
  }

  private static Map<String, Integer> commandstats(String scenario) throws IOException {
    return FixtureTruthTest.commandstats(FIXTURES.resolve(scenario + ".commandstats.json"));
  }

  private static Capture capture(String name) {
    return CACHE.computeIfAbsent(name, n -> {
      try {
        Path pcap = FIXTURES.resolve(n + ".pcap");
        Analyzer.Result r = new Analyzer(ProcessorConfig.defaults()).analyze(List.of(pcap), null);
        return new Capture(n, r, WireTruth.fromTsv(FIXTURES.resolve(n + ".packets.tsv")), TcpPackets.read(pcap),
            WireTruth.byConnection(r.facts()));
      } catch (Exception e) {
        throw new IllegalStateException(n, e);
      }
    });
  }
}
