package dev.tapflow.stream.protocol.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.protocol.testing.Chunk;
import dev.tapflow.stream.protocol.testing.SessionFeeder;
import dev.tapflow.stream.protocol.testing.SessionRecording;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Kafka fixtures (a real broker and real clients, recorded by scripts/capture-kafka.sh;
 * see pcap/kafka/README.md) against the truth recorded with them: the broker's request
 * metrics and request log, the clients' own request counts. Nothing expected here comes
 * from tapflow. Latencies against tcpdump's packet times are checked end to end in the cli
 * module ({@code KafkaFixtureTruthTest}).
 */
class KafkaFixtureTest {

  private static final SessionFeeder.Sessions SESSIONS = KafkaFixtures.sessions(SessionLimits.DEFAULTS);
  private static final Map<String, Map<String, SessionRecording>> CACHE = new ConcurrentHashMap<>();

  static Stream<String> fixtures() {
    return KafkaFixtures.NAMES.stream();
  }

  /** Each connection of a fixture, decoded whole. */
  private static Map<String, SessionRecording> decoded(String name) {
    return CACHE.computeIfAbsent(name, n -> {
      try {
        Map<String, SessionRecording> out = new TreeMap<>();
        KafkaFixtures.load(n).forEach((conn, chunks) -> out.put(conn, SessionFeeder.run(SESSIONS, chunks)));
        return out;
      } catch (IOException e) {
        throw new IllegalStateException(n, e);
      }
    });
  }

  private static List<Exchange> facts(String name) {
    List<Exchange> all = new ArrayList<>();
    decoded(name).values().forEach(r -> all.addAll(r.exchanges));
    return all;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void noAnomaliesAndFactsPerApiAreTheBrokersCount(String name) throws IOException {
    Map<String, Long> perApi = new TreeMap<>();
    for (Map.Entry<String, SessionRecording> e : decoded(name).entrySet()) {
      assertEquals(List.of(), e.getValue().anomalies, name + " " + e.getKey());
      e.getValue().exchanges.forEach(x -> perApi.merge(x.command(), 1L, Long::sum));
    }
    assertEquals(KafkaFixtures.expectedPerApi(name), perApi, name + ": facts per api vs the broker's counts");
  }

  /** Every request the broker logged on a captured listener is a fact of its connection: same api, version, correlation id. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void everyLoggedRequestHasItsFact(String name) throws IOException {
    Map<String, Exchange> byKey = new HashMap<>();
    for (Map.Entry<String, SessionRecording> e : decoded(name).entrySet()) {
      String client = e.getKey().substring(0, e.getKey().indexOf('-'));
      for (Exchange x : e.getValue().exchanges) {
        assertEquals(null, byKey.put(client + "/" + x.detail().get("correlation_id"), x), "one fact per request");
      }
    }
    List<KafkaFixtures.LoggedRequest> logged = KafkaFixtures.requests(name);
    for (KafkaFixtures.LoggedRequest r : logged) {
      Exchange x = byKey.get(r.client() + "/" + r.correlationId());
      assertNotNull(x, name + ": no fact for " + r);
      assertEquals(r.api(), x.command(), r.toString());
      assertEquals(Integer.toString(r.version()), x.detail().get("api_version"), r.toString());
      assertEquals(r.clientId(), x.detail().get("client_id"), r.toString());
      assertEquals("true", x.detail().get("body_decoded"), r.toString());
    }
    long authentication = byKey.values().stream().filter(KafkaFixtureTest::authenticationFrame).count();
    assertEquals(logged.size(), byKey.size() - authentication, name + ": facts besides SASL authentication vs logged requests");
  }

  /** Facts per client id (SASL authentication frames aside) == each client's own request-total. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void factsPerClientAreTheClientsOwnCount(String name) throws IOException {
    Map<String, Long> truth = KafkaFixtures.truth(name, "client_request_total");
    Map<String, Long> ours = new TreeMap<>();
    truth.keySet().forEach(c -> ours.put(c, 0L));
    for (Exchange x : facts(name)) {
      String client = x.detail().get("client_id");
      if (truth.containsKey(client) && !authenticationFrame(x)) {
        ours.merge(client, 1L, Long::sum);
      }
    }
    assertEquals(truth, ours, name + ": facts per client vs the clients' request-total");
  }

  /** The SASL authenticator's frames: correlation ids from 2147483640 (SaslClientAuthenticator's reserved range). */
  private static boolean authenticationFrame(Exchange x) {
    return KafkaFixtures.AUTHENTICATION_APIS.contains(x.command())
        && Long.parseLong(x.detail().get("correlation_id")) >= Integer.MAX_VALUE - 7;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void sameFactsWholeByteByByteAndRoundTripped(String name) throws IOException {
    for (Map.Entry<String, List<Chunk>> e : KafkaFixtures.load(name).entrySet()) {
      SessionRecording whole = decoded(name).get(e.getKey());
      SessionRecording bytewise = SessionFeeder.run(SESSIONS, e.getValue(), SessionFeeder.EVERY_BYTE, false);
      assertEquals(whole.exchanges, bytewise.exchanges, name + " " + e.getKey() + " byte by byte");
      assertEquals(whole.anomalies, bytewise.anomalies);
      SessionRecording restored = SessionFeeder.run(SESSIONS, e.getValue(), SessionFeeder.EVERY_BYTE, true);
      assertEquals(whole.exchanges, restored.exchanges, name + " " + e.getKey() + " state restored after every byte");
      assertEquals(whole.anomalies, restored.anomalies);
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void sameFactsSplitAtEveryOffset(String name) throws IOException {
    for (Map.Entry<String, List<Chunk>> e : KafkaFixtures.load(name).entrySet()) {
      List<Chunk> conn = e.getValue();
      long size = SessionFeeder.bytes(conn, true) + SessionFeeder.bytes(conn, false);
      // every offset of small connections; a spread of offsets of the large ones (quadratic otherwise)
      int stride = size <= 20_000 ? 1 : (int) (size / 1500) | 1;
      SessionFeeder.assertSameAtEverySplit(SESSIONS, conn, decoded(name).get(e.getKey()), k -> k % stride == 0 || k < 64);
    }
  }

  /** Frames over the decode bound are streamed through: the same facts from their headers, body_decoded=false. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void framesStreamedThroughKeepEveryFact(String name) throws IOException {
    SessionFeeder.Sessions small = KafkaFixtures.sessions(SessionLimits.DEFAULTS, 64);
    for (Map.Entry<String, List<Chunk>> e : KafkaFixtures.load(name).entrySet()) {
      SessionRecording r = SessionFeeder.run(small, e.getValue(), SessionFeeder.NONE, false);
      List<Exchange> whole = decoded(name).get(e.getKey()).exchanges;
      assertEquals(List.of(), r.anomalies);
      assertEquals(whole.size(), r.exchanges.size());
      for (int i = 0; i < whole.size(); i++) {
        Exchange a = whole.get(i);
        Exchange b = r.exchanges.get(i);
        assertEquals(a.command(), b.command());
        assertEquals(a.requestOffset(), b.requestOffset());
        assertEquals(a.responseFirstNs(), b.responseFirstNs());
        assertEquals(a.detail().get("correlation_id"), b.detail().get("correlation_id"));
        assertEquals(a.detail().get("client_id"), b.detail().get("client_id"));
        // a Produce's acks are read in place, so acks=0 requests stay NO_REPLY
        assertEquals(a.status() == FactStatus.NO_REPLY, b.status() == FactStatus.NO_REPLY);
      }
    }
  }

  @Test
  void producerRecordsAndAcksZero() {
    long acked = 0;
    long unacked = 0;
    for (Exchange x : facts("producer")) {
      if (!x.command().equals("Produce")) {
        continue;
      }
      long records = Long.parseLong(x.detail().get("records"));
      if (x.detail().get("client_id").equals("tapflow-producer-acks0")) {
        assertEquals(FactStatus.NO_REPLY, x.status(), x.toString());
        assertEquals("acks=0", x.args());
        assertFalse(x.hasResponse());
        unacked += records;
      } else {
        assertEquals(FactStatus.OK, x.status(), x.toString());
        assertEquals("acks=-1", x.args());
        acked += records;
      }
    }
    assertEquals(KafkaFixtureRecorder.ORDERS_RECORDS, acked);
    assertEquals(KafkaFixtureRecorder.EVENTS_RECORDS, unacked);
  }

  /** Both consumers read every record of both topics (README), and say so in their Fetch facts. */
  @Test
  void consumersFetchEveryRecord() {
    for (String name : List.of("consumer-classic", "consumer-kip848")) {
      long records = facts(name).stream().filter(x -> x.command().equals("Fetch"))
          .mapToLong(x -> Long.parseLong(x.detail().get("records"))).sum();
      assertEquals(KafkaFixtureRecorder.ORDERS_RECORDS + KafkaFixtureRecorder.EVENTS_RECORDS, records, name);
    }
    assertTrue(facts("consumer-classic").stream().anyMatch(x -> x.command().equals("Fetch")
        && "orders[0..11],events[0..2]".equals(x.resource()) || "events[0..2],orders[0..11]".equals(x.resource())),
        "topic names and partitions summarised");
  }

  /** The errors each scenario provokes on purpose (README) are ERROR facts with the error's name. */
  @Test
  void provokedErrors() {
    assertTrue(errors("admin").contains("CreateTopics TOPIC_ALREADY_EXISTS"), errors("admin").toString());
    assertTrue(errors("admin").contains("DescribeTopicPartitions UNKNOWN_TOPIC_OR_PARTITION"), errors("admin").toString());
    assertTrue(errors("sasl-plain").contains("SaslAuthenticate SASL_AUTHENTICATION_FAILED"), errors("sasl-plain").toString());
    assertTrue(errors("sasl-scram").contains("SaslAuthenticate SASL_AUTHENTICATION_FAILED"), errors("sasl-scram").toString());
  }

  private static List<String> errors(String name) {
    return facts(name).stream().filter(x -> x.status() == FactStatus.ERROR).map(x -> x.command() + " " + x.error()).toList();
  }

  /** The fake passwords are on the wire (PLAIN sends them in clear) and in no fact or anomaly. */
  @Test
  void saslPasswordsNeverLeave() throws IOException {
    byte[] pcap = Files.readAllBytes(KafkaFixtures.DIR.resolve("sasl-plain.pcap"));
    String wire = new String(pcap, StandardCharsets.ISO_8859_1);
    for (String secret : List.of(KafkaFixtureRecorder.FIXTURE_PASSWORD, KafkaFixtureRecorder.WRONG_PASSWORD)) {
      assertTrue(wire.contains(secret), "the capture holds " + secret);
      for (SessionRecording r : decoded("sasl-plain").values()) {
        for (Exchange x : r.exchanges) {
          assertFalse(x.toString().contains(secret), "in " + x);
          assertFalse(x.toString().contains(secret.substring(0, 12)), "a part of it in " + x);
        }
        r.anomalies.forEach(a -> assertFalse(String.valueOf(a).contains(secret)));
      }
    }
    long authenticate = facts("sasl-plain").stream().filter(x -> x.command().equals("SaslAuthenticate"))
        .peek(x -> assertEquals(null, x.args())).count();
    Map<String, Long> auths = KafkaFixtures.truth("sasl-plain", "sasl_authentications");
    assertEquals(auths.get("successful") + auths.get("failed"), authenticate, "one per authentication (truth)");
    assertEquals(1, auths.get("failed"), "the wrong password's (README)");
  }

  /**
   * SCRAM never sends the password; its nonces, salt, client proofs and server signatures
   * (read from the capture's bytes) are in no fact or anomaly. Two SaslAuthenticate facts per
   * authentication, without args; the handshakes name both mechanisms.
   */
  @Test
  void scramExchangeNeverLeaves() throws IOException {
    String wire = new String(Files.readAllBytes(KafkaFixtures.DIR.resolve("sasl-scram.pcap")), StandardCharsets.ISO_8859_1);
    for (String password : List.of(KafkaFixtureRecorder.SCRAM_PASSWORD, KafkaFixtureRecorder.SCRAM_WRONG_PASSWORD)) {
      assertFalse(wire.contains(password), "SCRAM sends no password");
    }
    List<String> values = KafkaFixtures.scramValues("sasl-scram");
    Map<String, Long> auths = KafkaFixtures.truth("sasl-scram", "sasl_authentications");
    long authentications = auths.get("successful") + auths.get("failed");
    // per authentication a client nonce, the server's (longer) nonce and salt, a proof; a signature per success
    assertTrue(values.size() >= 4 * authentications, values.toString());
    for (SessionRecording r : decoded("sasl-scram").values()) {
      for (Exchange x : r.exchanges) {
        for (String v : values) {
          assertFalse(x.toString().contains(v), v + " in " + x);
          assertFalse(x.toString().contains(v.substring(0, 12)), "a part of " + v + " in " + x);
        }
      }
      r.anomalies.forEach(a -> values.forEach(v -> assertFalse(String.valueOf(a).contains(v))));
    }
    long authenticate = facts("sasl-scram").stream().filter(x -> x.command().equals("SaslAuthenticate"))
        .peek(x -> assertEquals(null, x.args())).count();
    assertEquals(2 * authentications, authenticate, "client-first and client-final per authentication (truth)");
    assertEquals(1, auths.get("failed"), "the wrong password's (README)");
    assertEquals(List.of("mechanism=SCRAM-SHA-256", "mechanism=SCRAM-SHA-512"), facts("sasl-scram").stream()
        .filter(x -> x.command().equals("SaslHandshake")).map(Exchange::args).distinct().sorted().toList());
  }
}
