package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Redis fixtures recorded from real traffic ({@code stream-processor/src/test/resources/
 * pcap/redis/}, see its README) against the truths recorded with them: the server's own
 * {@code INFO commandstats} calls per command, and tcpdump's reading of every packet
 * ({@code packets.tsv}: capture time, endpoints, sequence number, length). Nothing expected
 * here comes from tapflow's output. The commands a client sent and which of them Redis
 * answers are read from the capture by the tests' own reader ({@link ClientRequests}).
 */
class FixtureTruthTest {

  /** From the cli module's directory, where surefire runs. */
  private static final Path FIXTURES =
      Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "redis");

  /**
   * Redis 7.0 commands with subcommands, which INFO commandstats reports as {@code parent|sub}
   * (each is a container command in Redis 7's command table). DEBUG, HELLO and the rest are
   * reported under their own name, whatever their arguments.
   */
  private static final Set<String> CONTAINERS = Set.of("ACL", "CLIENT", "CLUSTER", "COMMAND",
      "CONFIG", "FUNCTION", "LATENCY", "MEMORY", "MODULE", "OBJECT", "PUBSUB", "SCRIPT",
      "SLOWLOG", "XGROUP", "XINFO");

  /** Pub/sub commands whose confirmations are pushes, so they get no reply of their own. */
  private static final Set<String> PUSH_ANSWERED = Set.of("SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE",
      "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE");

  /**
   * The errors each scenario provokes on purpose, per the fixtures' README: redis-cli-session
   * has LLEN on a string (WRONGTYPE), {@code AUTH default wrong-password} (WRONGPASS) and a
   * WRONGTYPE on the RESP3 connection; the others none. Error prefix → count.
   */
  private static final Map<String, Map<String, Integer>> EXPECTED_ERRORS = Map.of(
      "redis-cli-session", Map.of("WRONGTYPE", 2, "WRONGPASS", 1),
      "benchmark-plain", Map.of(),
      "benchmark-pipelined", Map.of(),
      "pubsub", Map.of());

  /** The fake password the README says is on the wire on purpose. */
  private static final String FIXTURE_PASSWORD = "tapflow-fixture-password";

  private static final Map<String, Fixture> CACHE = new ConcurrentHashMap<>();

  record Fixture(String name, Analyzer.Result result, List<Wire> tsv, TcpPackets packets,
      Map<Conn, List<LatencyFact>> byConn) {}

  static Stream<String> fixtures() throws IOException {
    try (Stream<Path> files = Files.list(FIXTURES)) {
      List<String> names = files.map(p -> p.getFileName().toString())
          .filter(n -> n.endsWith(".pcap")).map(n -> n.substring(0, n.length() - 5)).sorted().toList();
      assertFalse(names.isEmpty(), "no fixtures in " + FIXTURES.toAbsolutePath());
      return names.stream();
    }
  }

  @Test
  void everyFixtureHasItsTruthAndAnErrorExpectation() throws IOException {
    for (String name : fixtures().toList()) {
      assertTrue(Files.isRegularFile(FIXTURES.resolve(name + ".commandstats.json")), name);
      assertTrue(Files.isRegularFile(FIXTURES.resolve(name + ".packets.tsv")), name);
      assertTrue(EXPECTED_ERRORS.containsKey(name), name + ": say which errors it provokes (README)");
    }
  }

  /** Facts per command (Redis' naming) == the server's calls per command, exactly. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void factsPerCommandAreTheServersCalls(String name) throws IOException {
    Fixture f = fixture(name);
    Map<String, Integer> ours = new TreeMap<>();
    for (LatencyFact x : f.result().facts()) {
      ours.merge(redisName(x), 1, Integer::sum);
    }
    assertEquals(commandstats(name), ours, name + ": commandstats calls vs facts per command");
  }

  /**
   * Every time on every fact is the time tcpdump gave a packet of that connection, in the
   * right direction; requests' first and last bytes lie in the packets the facts name; on
   * connections without pushes the replies tile the server stream byte for byte, so every
   * response_first_ns and response_last_ns is fixed by tcpdump's packets.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void timesAreTcpdumpsPacketTimes(String name) throws IOException {
    Fixture f = fixture(name);
    for (Map.Entry<Conn, List<LatencyFact>> e : f.byConn().entrySet()) {
      Conn c = e.getKey();
      List<LatencyFact> facts = e.getValue();
      WireTruth.assertTimesArePackets(name, c, facts, f.tsv());
      WireTruth.assertRequestBytes(name, c, facts, f.tsv());
      if (!hasPushes(f, c)) {
        WireTruth.assertResponseBytes(name, c, facts, f.tsv());
      }
      assertFirstServerPacketAnswers(name, c, facts, f.tsv(), hasPushes(f, c));
    }
  }

  /**
   * benchmark-plain: no pipelining in the 5 tests, so each of their requests is one client
   * packet and its reply starts in the next server packet on that connection: latency =
   * ts(that server packet) - ts(request packet), both from tcpdump. (redis-benchmark's extra
   * connection writes its two CONFIG GETs in one packet; the byte checks cover those.)
   */
  @Test
  void benchmarkPlainLatencyIsNextServerPacketMinusRequestPacket() throws IOException {
    Fixture f = fixture("benchmark-plain");
    int checked = 0;
    for (Map.Entry<Conn, List<LatencyFact>> e : f.byConn().entrySet()) {
      Conn c = e.getKey();
      List<Wire> up = WireTruth.data(f.tsv(), c.client(), c.server());
      long base = up.get(0).seq();
      for (LatencyFact x : e.getValue()) {
        int req = indexOfByte(f.tsv(), c.client(), c.server(), base, x.getRequestOffset());
        Wire reqPacket = f.tsv().get(req);
        if (x.getCommand().equals("CONFIG")) {
          continue;
        }
        String id = c + " " + WireTruth.describe(x);
        assertEquals(reqPacket.len(), x.getRequestBytes(), id + ": the request is its packet");
        Wire reply = nextFrom(f.tsv(), req, c.server(), c.client());
        assertEquals(reply.tsNs() - reqPacket.tsNs(), (long) x.getLatencyNs(), id + ": latency");
        assertEquals(reqPacket.tsNs(), x.getRequestLastNs(), id);
        checked++;
      }
    }
    assertEquals(5 * 512, checked, "5 tests x 512 requests (README)");
  }

  /**
   * Per connection, the commands are the ones the client sent (tests' own reading of the
   * pcap), in order, and each is answered exactly when Redis answers it: not after CLIENT
   * REPLY OFF (until ON) nor right after SKIP, not for the subscribe family (pushes answer
   * those). No TIMEOUT: every client read its last reply (README).
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void statusesAreWhatRedisDoes(String name) throws IOException {
    Fixture f = fixture(name);
    for (Map.Entry<Conn, List<LatencyFact>> e : f.byConn().entrySet()) {
      Conn c = e.getKey();
      List<List<String>> sent = ClientRequests.parse(ClientRequests.stream(f.packets().data(c.client(), c.server())));
      List<LatencyFact> facts = e.getValue();
      assertEquals(sent.stream().map(w -> w.get(0).toUpperCase(Locale.ROOT)).toList(),
          facts.stream().map(LatencyFact::getCommand).toList(), name + " " + c + ": commands vs the client's bytes");
      List<Boolean> answered = redisAnswers(sent);
      for (int i = 0; i < facts.size(); i++) {
        LatencyFact x = facts.get(i);
        String id = name + " " + c + " " + WireTruth.describe(x);
        assertNotEquals(Status.TIMEOUT, x.getStatus(), id);
        assertEquals(answered.get(i), WireTruth.isAnswered(x), id + ": answered?");
      }
    }
    Map<String, Integer> errors = new TreeMap<>();
    for (LatencyFact x : f.result().facts()) {
      if (x.getStatus() == Status.ERROR) {
        errors.merge(x.getError().split(" ", 2)[0], 1, Integer::sum);
      }
    }
    assertEquals(new TreeMap<>(EXPECTED_ERRORS.get(name)), errors, name + ": errors by code");
  }

  /** No anomalies on clean traffic, and the fixture password never leaves. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void noAnomaliesAndNoPassword(String name) throws IOException {
    Fixture f = fixture(name);
    assertAll(
        () -> assertEquals(Map.of(), f.result().anomalies(), name + ": anomalies"),
        () -> assertEquals(List.of(), f.result().collector().errors().stream().map(DecodeError::getName).toList(),
            name + ": decode errors"),
        () -> {
          Set<String> passwords = new java.util.TreeSet<>();
          for (Conn c : f.byConn().keySet()) {
            passwords.addAll(ClientRequests.passwords(ClientRequests.stream(f.packets().data(c.client(), c.server()))));
          }
          if (name.equals("redis-cli-session")) {
            assertTrue(passwords.contains(FIXTURE_PASSWORD), "the README's password is on the wire: " + passwords);
          }
          for (String pw : passwords) {
            for (LatencyFact x : f.result().facts()) {
              assertFalse(x.toString().contains(pw), "password in " + WireTruth.describe(x));
            }
            for (DecodeError d : f.result().collector().errors()) {
              assertFalse(d.toString().contains(pw), "password in anomaly " + d.getName());
            }
          }
        });
  }

  // ---- helpers ---------------------------------------------------------------------------

  /**
   * Where the client waited for every earlier reply (each earlier answered request's reply
   * ended at or before this request's last packet), this request's reply starts in the first
   * server packet after its last packet in tcpdump's order. On connections with pushes the
   * reply is at or after that packet (a push may come first).
   */
  private static void assertFirstServerPacketAnswers(String name, Conn c, List<LatencyFact> facts, List<Wire> tsv,
      boolean pushes) {
    List<Wire> up = WireTruth.data(tsv, c.client(), c.server());
    long base = up.get(0).seq();
    long lastReplyEnd = Long.MIN_VALUE;
    for (LatencyFact x : facts) {
      if (!WireTruth.isAnswered(x)) {
        continue;
      }
      int req = indexOfByte(tsv, c.client(), c.server(), base, x.getRequestOffset() + x.getRequestBytes() - 1);
      Wire next = nextFrom(tsv, req, c.server(), c.client());
      String id = name + " " + c + " " + WireTruth.describe(x);
      if (pushes) {
        assertTrue(x.getResponseFirstNs() >= next.tsNs(), id + ": reply before the first server packet after it");
      } else if (lastReplyEnd <= x.getRequestLastNs()) {
        assertEquals(next.tsNs(), (long) x.getResponseFirstNs(), id + ": first server packet after the request");
      }
      lastReplyEnd = Math.max(lastReplyEnd, x.getResponseLastNs());
    }
  }

  /**
   * Which requests Redis answers, by its reply-mode rules (networking.c clientCommand and
   * server.c call): CLIENT REPLY OFF and SKIP get no reply; while OFF nothing is answered but
   * CLIENT REPLY ON; SKIP while OFF does nothing; after SKIP the next command is not answered.
   * Subscribe-family commands are answered by pushes only.
   */
  static List<Boolean> redisAnswers(List<List<String>> sent) {
    List<Boolean> out = new ArrayList<>();
    boolean off = false;
    boolean skipNext = false;
    for (List<String> w : sent) {
      String cmd = w.get(0).toUpperCase(Locale.ROOT);
      String mode = cmd.equals("CLIENT") && w.size() >= 3 && w.get(1).equalsIgnoreCase("REPLY")
          ? w.get(2).toUpperCase(Locale.ROOT) : null;
      boolean skipThis = skipNext;
      skipNext = false;
      boolean answered;
      if ("ON".equals(mode)) {
        off = false;
        answered = !skipThis;
      } else if ("OFF".equals(mode)) {
        off = true;
        answered = false;
      } else if ("SKIP".equals(mode)) {
        skipNext = !off;
        answered = false;
      } else {
        answered = !off && !skipThis && !PUSH_ANSWERED.contains(cmd);
      }
      out.add(answered);
    }
    return out;
  }

  /** A fact's command as Redis' commandstats names it: lower case, {@code parent|sub} for containers. */
  static String redisName(LatencyFact x) {
    String cmd = x.getCommand().toLowerCase(Locale.ROOT);
    if (!CONTAINERS.contains(x.getCommand().toUpperCase(Locale.ROOT))) {
      return cmd;
    }
    String rest = (x.getResource() == null ? "" : x.getResource() + " ") + (x.getArgs() == null ? "" : x.getArgs());
    rest = rest.trim();
    return rest.isEmpty() ? cmd : cmd + "|" + rest.split(" ")[0].toLowerCase(Locale.ROOT);
  }

  private static final Pattern JSON_ENTRY = Pattern.compile("\"([^\"]+)\"\\s*:\\s*(\\d+)");

  /** The flat {@code {"command": calls}} object of {@code <name>.commandstats.json}. */
  static Map<String, Integer> commandstats(String name) throws IOException {
    return commandstats(FIXTURES.resolve(name + ".commandstats.json"));
  }

  /** A flat {@code {"command": calls}} commandstats file. */
  static Map<String, Integer> commandstats(Path file) throws IOException {
    String name = file.getFileName().toString();
    String json = Files.readString(file);
    Map<String, Integer> out = new TreeMap<>();
    Matcher m = JSON_ENTRY.matcher(json);
    while (m.find()) {
      out.put(m.group(1), Integer.parseInt(m.group(2)));
    }
    assertFalse(out.isEmpty(), name + " is empty");
    return out;
  }

  private static boolean hasPushes(Fixture f, Conn c) {
    for (TcpPackets.Packet p : f.packets().data(c.server(), c.client())) {
      if (WireTruth.PUSH_HEAD.matcher(p.payloadText()).find()) {
        return true;
      }
    }
    return false;
  }

  /** Index in {@code tsv} of the first packet src→dst holding stream byte {@code offset}. */
  private static int indexOfByte(List<Wire> tsv, String src, String dst, long base, long offset) {
    for (int i = 0; i < tsv.size(); i++) {
      Wire w = tsv.get(i);
      if (w.src().equals(src) && w.dst().equals(dst)) {
        long rel = (w.seq() - base) & 0xffffffffL;
        if (rel <= offset && offset < rel + w.len()) {
          return i;
        }
      }
    }
    fail(src + " > " + dst + ": no packet holds byte " + offset);
    return -1;
  }

  private static Wire nextFrom(List<Wire> tsv, int after, String src, String dst) {
    for (int i = after + 1; i < tsv.size(); i++) {
      Wire w = tsv.get(i);
      if (w.src().equals(src) && w.dst().equals(dst) && w.len() > 0) {
        return w;
      }
    }
    fail(src + " > " + dst + ": no packet after #" + after);
    return null;
  }

  private static Fixture fixture(String name) {
    return CACHE.computeIfAbsent(name, n -> {
      try {
        Path pcap = FIXTURES.resolve(n + ".pcap");
        Analyzer.Result r = new Analyzer(ProcessorConfig.defaults()).analyze(List.of(pcap), null);
        return new Fixture(n, r, WireTruth.fromTsv(FIXTURES.resolve(n + ".packets.tsv")), TcpPackets.read(pcap),
            WireTruth.byConnection(r.facts()));
      } catch (Exception e) {
        throw new IllegalStateException(n, e);
      }
    });
  }
}
