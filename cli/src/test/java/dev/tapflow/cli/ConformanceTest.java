package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tapflow.cli.WireTruth.Conn;
import dev.tapflow.cli.WireTruth.Wire;
import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Redis rows of {@code ../shared/conformance/EXPECTED.md} (all but the loss rows), run
 * through {@code tapflow analyze}'s engine with default settings: no server port is
 * configured anywhere, since EXPECTED asks for detection by content on 6380, 10625 and 80.
 *
 * <p>Where the expected values come from: EXPECTED.md (counts, commands, statuses, error
 * texts, latencies in µs), Zeek's baselines beside it, and the capture itself read by
 * {@link TcpPackets} (packet times, payload bytes, the commands and passwords a client sent),
 * never from tapflow's own output. Skipped where {@code ../shared} is absent (users' clones).
 */
class ConformanceTest {

  private static final String SHARED = System.getProperty("tapflow.shared");
  private static final Path CONFORMANCE = SHARED == null ? null : Path.of(SHARED, "conformance");
  private static final Map<String, Analysis> CACHE = new ConcurrentHashMap<>();

  /** What one capture gave, with the tests' own reading of the capture beside it. */
  record Analysis(String file, Analyzer.Result result, TcpPackets packets, List<Wire> wires,
      Map<Conn, List<LatencyFact>> byConn) {

    /** All facts: connections in order of their first request, each in request order. */
    List<LatencyFact> ordered() {
      List<List<LatencyFact>> conns = new ArrayList<>(byConn.values());
      conns.sort(Comparator.comparingLong(l -> l.get(0).getRequestFirstNs()));
      List<LatencyFact> out = new ArrayList<>();
      conns.forEach(out::addAll);
      return out;
    }

    List<String> commands() {
      return ordered().stream().map(LatencyFact::getCommand).toList();
    }

    long anomalyTotal() {
      return result.anomalies().values().stream().mapToLong(Long::longValue).sum();
    }
  }

  /**
   * One EXPECTED row: the capture, the server port the row names (to tell client bytes from
   * server bytes in the tests' own reading), whether the server stream is replies only (no
   * pushes, orphans or garbage: then replies tile it byte by byte), and the row's own claims.
   */
  record Case(String file, int serverPort, boolean repliesOnly, Consumer<Analysis> expected) {
    @Override
    public String toString() {
      return file;
    }
  }

  /** Per test rather than @BeforeAll, so that surefire reports every test as skipped instead of nothing. */
  @BeforeEach
  void requireConformanceCaptures() {
    assumeTrue(CONFORMANCE != null && Files.isDirectory(CONFORMANCE),
        "no ../shared/conformance here (property tapflow.shared=" + SHARED + "): skipped");
  }

  static Stream<Arguments> rows() {
    return Stream.of(
        new Case("pb_redis_session.pcap", 6380, true, a -> {
          // EXPECTED: 11 facts; SET key3 me→OK 830 µs, GET key3→me 122 µs, LLEN key3→ERROR 11898 µs,
          // 3×LPUSH, LLEN, then LINDEX. The row's enumeration lists "3×LINDEX" (10 items) but
          // says 11, and the capture holds 4 LINDEX requests (tcpdump -A: test 2, 3, 1, 0), so
          // the count 11 is what is checked, and everything after the 7th fact is LINDEX.
          List<LatencyFact> f = a.ordered();
          assertEquals(11, f.size(), "facts");
          assertEquals(List.of("SET key3 me", "GET key3", "LLEN key3"),
              f.subList(0, 3).stream().map(WireTruth::line).toList());
          assertEquals(List.of("SET", "GET", "LLEN", "LPUSH", "LPUSH", "LPUSH", "LLEN",
              "LINDEX", "LINDEX", "LINDEX", "LINDEX"), a.commands());
          assertFact(a, f.get(0), Status.OK, null, 830);
          assertFact(a, f.get(1), Status.OK, null, 122);
          assertFact(a, f.get(2), Status.ERROR, "ERR Operation against a key holding the wrong kind of value", 11898);
          for (LatencyFact x : f.subList(3, 11)) {
            assertEquals(Status.OK, x.getStatus(), WireTruth.describe(x)); // incl. the nil LINDEX reply
            assertNull(x.getError(), WireTruth.describe(x));
          }
          assertEquals(6380, f.get(0).getServerPort(), "server found by content on 6380");
        }),
        new Case("pb_redis_one_transaction.pcap", 6380, true, a -> {
          assertEquals(1, a.ordered().size());
          LatencyFact f = a.ordered().get(0);
          assertEquals("LINDEX test 1", WireTruth.line(f));
          assertFact(a, f, Status.OK, null, 466);
        }),
        new Case("zeek_redis_set.pcap", 6379, true, a -> {
          assertEquals(List.of("SET", "SET", "SET"), a.commands());
          int[] us = {314, 236, 304};
          for (int i = 0; i < 3; i++) {
            assertFact(a, a.ordered().get(i), Status.OK, null, us[i]);
          }
          // Zeek's set__output: Key: test Value: hi / one:1 2 / two:2 three
          assertEquals(List.of("SET test hi", "SET one:1 2", "SET two:2 three"),
              a.ordered().stream().map(WireTruth::line).toList());
        }),
        new Case("zeek_redis_pipelining-example.pcap", 6379, true, a -> {
          List<LatencyFact> f = a.ordered();
          assertEquals(List.of("PING", "PING", "PING"), a.commands());
          allStatus(f, Status.OK);
          // the 3 requests share one segment, so do the 3 replies
          assertEquals(1, f.stream().map(LatencyFact::getRequestLastNs).distinct().count(), "one request segment");
          assertEquals(1, f.stream().map(LatencyFact::getResponseFirstNs).distinct().count(), "one reply segment");
        }),
        new Case("zeek_redis_pipeline-with-commands.pcap", 6379, true, a -> {
          assertEquals(List.of("PING", "PING", "SET HI 3", "GET HI"),
              a.ordered().stream().map(WireTruth::line).toList());
          allStatus(a.ordered(), Status.OK);
        }),
        new Case("zeek_redis_pipeline-quotes.pcap", 6379, true, a -> {
          // baseline: 6 SET ok, bad1 → ERR Protocol error: unbalanced quotes in request, bad2 never answered
          List<LatencyFact> f = a.ordered();
          assertEquals(8, f.size(), "facts");
          allStatus(f.subList(0, 6), Status.OK);
          assertEquals(Status.ERROR, f.get(6).getStatus(), WireTruth.describe(f.get(6)));
          assertEquals("ERR Protocol error: unbalanced quotes in request", f.get(6).getError());
          assertFalse(WireTruth.isAnswered(f.get(7)), "bad2 is never answered: " + WireTruth.describe(f.get(7)));
        }),
        new Case("zeek_redis_auth.pcap", 6379, true, a -> {
          List<LatencyFact> f = a.ordered();
          assertEquals(List.of("AUTH", "AUTH", "AUTH"), a.commands());
          // Zeek's auth__output: "Auth failed:, WRONGPASS invalid username-password pair or user is disabled."
          String wrongpass = "WRONGPASS invalid username-password pair or user is disabled.";
          assertFact(a, f.get(0), Status.ERROR, wrongpass, -1);
          assertFact(a, f.get(1), Status.OK, null, -1);
          assertFact(a, f.get(2), Status.ERROR, wrongpass, -1);
          // the passwords the tests' reader finds on the wire are Zeek's (auth__output)
          assertEquals(Set.of("notapassword", "defaultpassword", "password"), passwords(a));
        }),
        new Case("zeek_redis_reply-off-on.pcap", 6379, true, a -> {
          // EXPECTED / client-reply-off baseline: PING ok, CLIENT none, PING none, CLIENT ok,
          // PING ok, CLIENT none, PING none, PING ok
          assertEquals(List.of("PING", "CLIENT", "PING", "CLIENT", "PING", "CLIENT", "PING", "PING"), a.commands());
          assertEquals(List.of(true, false, false, true, true, false, false, true),
              a.ordered().stream().map(WireTruth::isAnswered).toList());
          noReplyIsNoReply(a);
        }),
        new Case("zeek_redis_client-skip-while-off.pcap", 6379, true, a -> {
          // SKIP while OFF does nothing (Redis: clientCommand ignores SKIP when OFF), so after
          // ON both PINGs are answered (baseline: PING T, CLIENT -, PING -, CLIENT -, CLIENT T, PING T, PING T)
          assertEquals(List.of(true, false, false, false, true, true, true),
              a.ordered().stream().map(WireTruth::isAnswered).toList());
          noReplyIsNoReply(a);
        }),
        new Case("zeek_redis_reply-off-on-2conn.pcap", 6379, true, a -> {
          assertEquals(2, a.byConn().size(), "connections");
          for (List<LatencyFact> c : a.byConn().values()) {
            assertEquals(List.of("PING", "CLIENT", "PING"), c.stream().map(LatencyFact::getCommand).toList());
            assertEquals(List.of(true, false, false), c.stream().map(WireTruth::isAnswered).toList());
          }
          noReplyIsNoReply(a);
        }),
        new Case("zeek_redis_stream.pcap", 6379, true, a -> {
          assertEquals(List.of("XADD", "XADD", "XADD", "XRANGE"), a.commands());
          allStatus(a.ordered(), Status.OK);
        }),
        new Case("zeek_redis_pubsub.pcap", 6379, false, a -> {
          // 7 commands on 4 connections; the 5 pushes answer nothing
          assertEquals(4, a.byConn().size(), "connections");
          assertEquals(Map.of("PUBLISH", 2, "SET", 1, "SUBSCRIBE", 1, "PSUBSCRIBE", 1, "RESET", 1, "GET", 1),
              counts(a.commands()));
          for (LatencyFact f : a.ordered()) {
            boolean sub = f.getCommand().endsWith("SUBSCRIBE");
            assertEquals(!sub, WireTruth.isAnswered(f), WireTruth.describe(f));
          }
          assertPushesAnswerNothing(a, 5);
        }),
        new Case("zeek_redis_pubsub-resp3.pcap", 6379, false, a -> {
          for (LatencyFact f : a.ordered()) {
            boolean sub = f.getCommand().endsWith("SUBSCRIBE");
            assertEquals(!sub, WireTruth.isAnswered(f), WireTruth.describe(f));
          }
          assertPushesAnswerNothing(a, 5);
        }),
        new Case("zeek_redis_attr.pcap", 6379, false, a -> {
          // 2 commands answered with a | attribute before (or inside) the reply; the attribute
          // is part of the reply. Not repliesOnly: the first reply (a hand-made server's) is
          // followed by a stray "\n" (tcpdump -X: ...3a 33 0d 0a 0a), which is no reply.
          assertEquals(List.of("FAKE", "FAKE2"), a.commands());
          allStatus(a.ordered(), Status.OK);
          // *3\r\n :1\r\n :2\r\n |1\r\n +ttl\r\n :3600\r\n :3\r\n = 4+4+4+4+6+7+4 bytes
          assertEquals(33, a.ordered().get(0).getResponseBytes(), "reply 1 incl. its attribute");
          // |1\r\n +key-popularity\r\n %2\r\n $1\r\na\r\n ,0.1923\r\n $1\r\nb\r\n ,0.0012\r\n
          // *2\r\n :2039123\r\n :9543892\r\n = 4+17+4+7+9+7+9+4+10+10; a stray "\n" ends this segment too
          assertEquals(81, a.ordered().get(1).getResponseBytes(), "reply 2 incl. its attribute");
          assertEquals(0, a.anomalyTotal(), "anomalies " + a.result().anomalies());
        }),
        new Case("zeek_redis_bulk-loading.pcap", 6379, true, a -> {
          // 1000 SET, all OK. The capture has one more request: redis-cli --pipe ends a mass
          // insert with ECHO <20 random bytes> to know when every reply is in (redis-cli.c,
          // pipeMode); EXPECTED and Zeek's bulk__output (a redis_set event script) count SETs only.
          allStatus(a.ordered(), Status.OK);
          assertEquals(Map.of("SET", 1000, "ECHO", 1), counts(a.commands()));
          assertEquals("ECHO", a.commands().get(a.commands().size() - 1), "the end marker comes last");
          List<LatencyFact> sets = a.ordered().stream().filter(f -> f.getCommand().equals("SET")).toList();
          // Zeek's bulk__output: SET: Key<i> Value<i> for i in 0..999
          Set<String> want = new TreeSet<>();
          for (int i = 0; i < 1000; i++) {
            want.add("SET Key" + i + " Value" + i);
          }
          assertEquals(want, new TreeSet<>(sets.stream().map(WireTruth::line).toList()));
        }),
        new Case("zeek_redis_django-cloud.pcapng", 10625, true, a -> {
          assertEquals(158, a.ordered().size());
          assertEquals(Map.of("SET", 152, "GET", 6), counts(a.commands()));
          allStatus(a.ordered(), Status.OK);
        }),
        new Case("zeek_redis_50-pings.pcap", 6379, true, a -> {
          List<String> want = new ArrayList<>(List.of("AUTH", "CLIENT", "CLIENT"));
          for (int i = 0; i < 50; i++) {
            want.add("PING");
          }
          want.add("QUIT");
          assertEquals(want, a.commands());
          for (LatencyFact f : a.ordered().subList(1, 3)) {
            assertTrue(WireTruth.line(f).toUpperCase().startsWith("CLIENT SETINFO "), WireTruth.line(f));
          }
          allStatus(a.ordered(), Status.OK);
        }),
        new Case("zeek_redis_large-requests-responses.pcap", 6379, true, a -> {
          assertEquals(List.of("COMMAND", "SET", "SET", "GET", "GET"), a.commands());
          allStatus(a.ordered(), Status.OK);
          // GET of 500 and 1000 bytes: $500\r\n<500>\r\n and $1000\r\n<1000>\r\n
          assertEquals(6 + 500 + 2, a.ordered().get(3).getResponseBytes());
          assertEquals(7 + 1000 + 2, a.ordered().get(4).getResponseBytes());
        }),
        new Case("zeek_redis_excessive-pipelining.pcap", 6379, true, a -> {
          assertEquals(12, a.ordered().size());
          assertTrue(a.commands().stream().allMatch("PING"::equals), a.commands().toString());
          allStatus(a.ordered(), Status.OK);
        }),
        new Case("zeek_redis_almost-resp.pcap", 6379, false, a -> {
          // 2 facts (AUTH, PING); what follows is not Redis: no facts, one anomaly
          assertEquals(List.of("AUTH", "PING"), a.commands());
          allStatus(a.ordered(), Status.OK);
          assertEquals(1, a.anomalyTotal(), "anomalies " + a.result().anomalies());
        }),
        new Case("zeek_redis_start-with-server.pcapng", 6379, false, a -> {
          // the capture starts with a reply whose request was not captured: an orphan, then 1 fact
          assertEquals(1, a.ordered().size());
          assertEquals("SET hello there", WireTruth.line(a.ordered().get(0)));
          assertEquals(Status.OK, a.ordered().get(0).getStatus());
          assertEquals(1, a.anomalyTotal(), "anomalies " + a.result().anomalies());
          assertTrue(a.result().anomalies().keySet().stream().anyMatch(k -> k.contains("ORPHAN")),
              "the orphan reply is counted as such: " + a.result().anomalies());
          // the orphan reply is the first 5 server bytes; SET's reply is the rest of the stream
          LatencyFact f = a.ordered().get(0);
          Conn c = WireTruth.conn(f);
          List<Wire> down = WireTruth.data(a.wires(), c.server(), c.client());
          assertEquals(WireTruth.streamLength(down) - 5, f.getResponseBytes());
        }),
        new Case("zeek_redis_array-element-object-exhaustion.pcap", 6379, true, a -> {
          // a 1000-element array reply: fine under default limits
          assertEquals(List.of("PING"), a.commands());
          allStatus(a.ordered(), Status.OK);
          assertEquals(0, a.anomalyTotal(), "anomalies " + a.result().anomalies());
        })
    ).map(c -> Arguments.of(c));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("rows")
  void expectedRow(Case c) throws Exception {
    Analysis a = analysis(c.file());
    assertAll(
        () -> c.expected().accept(a),
        () -> assertWireTruth(c, a),
        () -> assertNoPasswordLeaves(a));
  }

  /** Hostile input on port 80: no crash, no hang, and output bounded by the input. */
  @Test
  void ossFuzz473580107IsSurvived() throws Exception {
    Path file = CONFORMANCE.resolve("captures/zeek_redis_oss-fuzz-473580107.pcap");
    Analyzer.Result r = assertTimeoutPreemptively(Duration.ofSeconds(10),
        () -> new Analyzer(ProcessorConfig.defaults()).analyze(List.of(file), null));
    TcpPackets p = TcpPackets.read(file);
    long dataPackets = p.packets.stream().filter(TcpPackets.Packet::hasPayload).count();
    long payloadBytes = p.packets.stream().mapToLong(x -> x.payload().length).sum();
    assertTrue(r.facts().size() <= payloadBytes, "facts " + r.facts().size());
    long anomalies = r.anomalies().values().stream().mapToLong(Long::longValue).sum();
    assertTrue(anomalies <= dataPackets, "anomalies " + r.anomalies() + " for " + dataPackets + " data packets");
    assertTrue(r.collector().errors().size() <= dataPackets, "decode errors " + r.collector().errors().size());
    for (DecodeError e : r.collector().errors()) {
      assertTrue(e.getDetail() == null || e.getDetail().length() <= 1024, "bounded detail: " + e);
    }
    for (LatencyFact f : r.facts()) {
      assertTrue(f.toString().length() <= 8192, "bounded fact: " + WireTruth.describe(f));
    }
  }

  // ---- Zeek baselines -------------------------------------------------------------------

  static Stream<Arguments> baselines() {
    return Stream.of(
        Arguments.of("almost-redis__redis.log", "zeek_redis_almost-resp.pcap"),
        Arguments.of("attributes__redis.log", "zeek_redis_attr.pcap"),
        Arguments.of("client-reply-off-2conn__redis.log", "zeek_redis_reply-off-on-2conn.pcap"),
        Arguments.of("client-reply-off__redis.log", "zeek_redis_reply-off-on.pcap"),
        Arguments.of("client-skip-while-off__redis.log", "zeek_redis_client-skip-while-off.pcap"),
        Arguments.of("django-cloud__redis.log", "zeek_redis_django-cloud.pcapng"),
        Arguments.of("excessive-pipelining__redis.log", "zeek_redis_excessive-pipelining.pcap"),
        // redis-default: Zeek's default limits (the -smaller/-uncapped variants change only truncation)
        Arguments.of("large-requests-responses__redis-default.log", "zeek_redis_large-requests-responses.pcap"),
        Arguments.of("pipeline-with-quotes__redis.log", "zeek_redis_pipeline-quotes.pcap"),
        Arguments.of("pipelined-with-commands__redis.log", "zeek_redis_pipeline-with-commands.pcap"),
        Arguments.of("pipelined__redis.log", "zeek_redis_pipelining-example.pcap"),
        Arguments.of("pubsub__redis.log", "zeek_redis_pubsub.pcap"),
        Arguments.of("stream__redis.log", "zeek_redis_stream.pcap"));
  }

  /**
   * Per connection, Zeek's commands and ours agree in order, and so does "was it answered"
   * (Zeek: {@code success} set; us: OK or ERROR, against NO_REPLY or TIMEOUT).
   *
   * <p>Deliberate differences:
   * <ul>
   *   <li>excessive-pipelining: Zeek logs the 6th to 12th PING with {@code cmd.name} unset —
   *       its analyzer stops parsing requests beyond its pending-request limit and logs the
   *       replies alone. tapflow's pending limit is larger and names every command, so only
   *       the rows Zeek names are compared by name; count and answered-ness for all.</li>
   *   <li>pubsub: Zeek logs SUBSCRIBE and PSUBSCRIBE unanswered, because their confirmations
   *       are pushes, and so does tapflow (NO_REPLY): no difference.</li>
   * </ul>
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("baselines")
  void agreesWithZeekBaseline(String baseline, String capture) throws Exception {
    ZeekLog log = ZeekLog.read(CONFORMANCE.resolve(
        "zeek-baselines/Baseline__scripts.base.protocols.redis." + baseline));
    Analysis a = analysis(capture);
    Map<String, List<LatencyFact>> ours = new LinkedHashMap<>();
    a.byConn().forEach((conn, facts) -> ours.put(conn.client(), facts));
    Map<String, List<ZeekLog.Row>> theirs = log.byClient();
    assertEquals(new TreeSet<>(theirs.keySet()), new TreeSet<>(ours.keySet()), "client endpoints");
    for (Map.Entry<String, List<ZeekLog.Row>> e : theirs.entrySet()) {
      List<ZeekLog.Row> z = e.getValue();
      List<LatencyFact> f = ours.get(e.getKey());
      List<String> zNames = z.stream().map(r -> r.isSet("cmd.name") ? r.get("cmd.name").toUpperCase() : "?").toList();
      List<String> fNames = new ArrayList<>();
      for (int i = 0; i < f.size(); i++) {
        fNames.add(i < z.size() && !z.get(i).isSet("cmd.name") ? "?" : f.get(i).getCommand());
      }
      assertEquals(zNames, fNames, e.getKey() + ": commands (Zeek vs tapflow)");
      assertEquals(z.stream().map(r -> r.isSet("success")).toList(),
          f.stream().map(WireTruth::isAnswered).toList(), e.getKey() + ": answered (Zeek vs tapflow)");
      for (int i = 0; i < z.size(); i++) {
        ZeekLog.Row r = z.get(i);
        if (r.isSet("success") && r.get("success").equals("F")) {
          assertEquals(Status.ERROR, f.get(i).getStatus(), WireTruth.describe(f.get(i)));
          assertEquals(r.get("reply.value"), f.get(i).getError(), WireTruth.describe(f.get(i)));
        } else if (r.isSet("success")) {
          assertEquals(Status.OK, f.get(i).getStatus(), WireTruth.describe(f.get(i)));
        }
      }
    }
  }

  // ---- checks shared by every row ------------------------------------------------------

  /**
   * The capture read by the tests' own reader: every connection with client bytes to the
   * server port has facts and vice versa; per connection, our commands are the commands the
   * client sent; every fact time is a packet's time; requests' bytes lie in the packets
   * whose times the facts give; where the server only replied, replies tile its stream.
   */
  private static void assertWireTruth(Case c, Analysis a) {
    Set<Conn> wireConns = new LinkedHashSet<>();
    for (TcpPackets.Packet p : a.packets().packets) {
      if (p.hasPayload() && p.dst().endsWith(":" + c.serverPort())) {
        wireConns.add(new Conn(p.src(), p.dst()));
      }
    }
    assertEquals(new TreeSet<>(wireConns.stream().map(Conn::toString).toList()),
        new TreeSet<>(a.byConn().keySet().stream().map(Conn::toString).toList()),
        "connections with client data vs connections with facts");
    for (Map.Entry<Conn, List<LatencyFact>> e : a.byConn().entrySet()) {
      Conn conn = e.getKey();
      List<LatencyFact> facts = e.getValue();
      byte[] up = ClientRequests.stream(a.packets().data(conn.client(), conn.server()));
      assertEquals(ClientRequests.commands(up), facts.stream().map(LatencyFact::getCommand).toList(),
          c.file() + " " + conn + ": commands in request order vs the client's bytes");
      for (LatencyFact f : facts) {
        assertEquals("redis", f.getProtocol());
        assertEquals(c.serverPort(), f.getServerPort(), "server side: " + WireTruth.describe(f));
        if (a.packets().microsecondResolution && f.getLatencyNs() != null) {
          assertEquals(0, f.getLatencyNs() % 1000, "µs capture, µs latency");
        }
      }
      WireTruth.assertTimesArePackets(c.file(), conn, facts, a.wires());
      WireTruth.assertRequestBytes(c.file(), conn, facts, a.wires());
      if (c.repliesOnly()) {
        WireTruth.assertResponseBytes(c.file(), conn, facts, a.wires());
      }
    }
  }

  /**
   * No password a client sent (AUTH, HELLO ... AUTH) appears in any field of any fact or
   * anomaly that carries the client's words (command, resource, args, anomaly detail).
   * The agent (here the file name) and the server's error text are the server's or the
   * operator's words, not the client's: they are checked only where the password does not
   * occur in them for an innocent reason (Zeek's password "password" is part of Redis'
   * "WRONGPASS invalid username-password pair"; "zeek" is part of the file name).
   */
  private static void assertNoPasswordLeaves(Analysis a) {
    for (String pw : passwords(a)) {
      for (LatencyFact f : a.result().facts()) {
        String id = "password " + pw + " in fact " + WireTruth.describe(f);
        assertFalse(contains(f.getCommand(), pw), id + ": command");
        assertFalse(contains(f.getResource(), pw), id + ": resource");
        assertFalse(contains(f.getArgs(), pw), id + ": args");
        assertFalse(contains(f.getId(), pw), id + ": id");
        if (!serverSent(a, pw)) {
          assertFalse(contains(f.getError(), pw), id + ": error");
        }
      }
      for (DecodeError e : a.result().collector().errors()) {
        assertFalse(contains(e.getDetail(), pw), "password " + pw + " in anomaly " + e.getName());
        assertFalse(contains(e.getName(), pw), "password " + pw + " in anomaly " + e.getName());
      }
    }
  }

  private static boolean contains(CharSequence field, String pw) {
    return field != null && field.toString().contains(pw);
  }

  private static boolean serverSent(Analysis a, String text) {
    for (Conn c : a.byConn().keySet()) {
      byte[] down = ClientRequests.stream(a.packets().data(c.server(), c.client()));
      if (new String(down, java.nio.charset.StandardCharsets.ISO_8859_1).contains(text)) {
        return true;
      }
    }
    return false;
  }

  private static Set<String> passwords(Analysis a) {
    Set<String> out = new TreeSet<>();
    for (Conn c : a.byConn().keySet()) {
      out.addAll(ClientRequests.passwords(ClientRequests.stream(a.packets().data(c.client(), c.server()))));
    }
    return out;
  }

  /**
   * The pushes in the server's packets (RESP3 {@code >}, or a RESP2 pub/sub array) number
   * {@code expected} (EXPECTED's count), and no reply begins in a packet that begins with a push.
   */
  private static void assertPushesAnswerNothing(Analysis a, int expected) {
    List<TcpPackets.Packet> pushPackets = new ArrayList<>();
    int pushes = 0;
    for (TcpPackets.Packet p : a.packets().packets) {
      if (!p.hasPayload() || !p.src().endsWith(":6379")) {
        continue;
      }
      Matcher m = WireTruth.PUSH_HEAD.matcher(p.payloadText());
      boolean first = true;
      while (m.find()) {
        pushes++;
        if (first && m.start() == 0) {
          pushPackets.add(p);
        }
        first = false;
      }
    }
    assertEquals(expected, pushes, "pushes in the capture");
    for (TcpPackets.Packet p : pushPackets) {
      for (LatencyFact f : a.ordered()) {
        if (WireTruth.isAnswered(f) && WireTruth.conn(f).server().equals(p.src())
            && WireTruth.conn(f).client().equals(p.dst())) {
          assertFalse(f.getResponseFirstNs() == p.tsNs(), "a push taken as the reply of " + WireTruth.describe(f)
              + ": " + p.payloadText().replace("\r\n", " "));
        }
      }
    }
  }

  /** Requests sent while replies are off (and CLIENT REPLY OFF/SKIP themselves) get NO_REPLY, never TIMEOUT. */
  private static void noReplyIsNoReply(Analysis a) {
    for (LatencyFact f : a.ordered()) {
      if (!WireTruth.isAnswered(f)) {
        assertEquals(Status.NO_REPLY, f.getStatus(), WireTruth.describe(f));
        assertNull(f.getLatencyNs());
      }
    }
  }

  /**
   * Status, error text, and latency in µs as EXPECTED writes it (-1: not given). The
   * captures with µs latencies in EXPECTED have µs timestamps (checked here), so the latency
   * in ns is exactly µs × 1000: no question of rounding or truncation.
   */
  private static void assertFact(Analysis a, LatencyFact f, Status status, String error, long micros) {
    String id = WireTruth.describe(f);
    assertEquals(status, f.getStatus(), id);
    assertEquals(error, f.getError(), id);
    if (micros >= 0) {
      assertTrue(a.packets().microsecondResolution, a.file() + " has µs timestamps");
      assertNotNull(f.getLatencyNs(), id);
      assertEquals(micros * 1000, (long) f.getLatencyNs(), id + ": latency ns");
    }
  }

  private static void allStatus(List<LatencyFact> facts, Status s) {
    for (LatencyFact f : facts) {
      assertEquals(s, f.getStatus(), WireTruth.describe(f));
    }
  }

  private static Map<String, Integer> counts(List<String> names) {
    Map<String, Integer> out = new TreeMap<>();
    names.forEach(n -> out.merge(n, 1, Integer::sum));
    return out;
  }

  private static Analysis analysis(String file) {
    return CACHE.computeIfAbsent(file, f -> {
      try {
        Path path = CONFORMANCE.resolve("captures").resolve(f);
        // values kept: the rows compare arguments with the reference implementations' (credentials stay redacted)
        Analyzer.Result r = new Analyzer(ProcessorConfig.defaults().withKeepValues(true)).analyze(List.of(path), null);
        TcpPackets packets = TcpPackets.read(path);
        return new Analysis(f, r, packets, WireTruth.fromPackets(packets), WireTruth.byConnection(r.facts()));
      } catch (Exception e) {
        throw new IllegalStateException(f, e);
      }
    });
  }
}
