package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.cli.WireTruth.Conn;
import dev.tapflow.cli.WireTruth.Wire;
import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Kafka fixtures ({@code stream-processor/src/test/resources/pcap/kafka/}, see its README)
 * through the whole engine {@code tapflow analyze} runs: capture file reader, reassembly,
 * protocol detection (port 9092; the SASL listener on 29092 by content), the Kafka session.
 * Checked against truths tapflow did not make: the broker's request counts and request log,
 * and tcpdump's reading of every packet ({@code packets.tsv}).
 */
class KafkaFixtureTruthTest {

  private static final Path FIXTURES = Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "kafka");
  /** The fake passwords the README says are on the wire on purpose. */
  private static final List<String> PASSWORDS = List.of("tapflow-kafka-fixture-password", "tapflow-kafka-wrong-password");
  private static final List<String> AUTHENTICATION_APIS = List.of("ApiVersions", "SaslHandshake", "SaslAuthenticate");
  private static final Map<String, Fixture> CACHE = new ConcurrentHashMap<>();

  record Fixture(Analyzer.Result result, List<Wire> tsv, Map<Conn, List<LatencyFact>> byConn) {}

  static Stream<String> fixtures() throws IOException {
    try (Stream<Path> files = Files.list(FIXTURES)) {
      List<String> names = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".pcap"))
          .map(n -> n.substring(0, n.length() - 5)).sorted().toList();
      assertFalse(names.isEmpty(), "no fixtures in " + FIXTURES.toAbsolutePath());
      return names.stream();
    }
  }

  private static Fixture fixture(String name) {
    return CACHE.computeIfAbsent(name, n -> {
      try {
        Analyzer.Result r = new Analyzer(ProcessorConfig.defaults()).analyze(List.of(FIXTURES.resolve(n + ".pcap")), null);
        return new Fixture(r, WireTruth.fromTsv(FIXTURES.resolve(n + ".packets.tsv")), WireTruth.byConnection(r.facts()));
      } catch (Exception e) {
        throw new IllegalStateException(n, e);
      }
    });
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void noAnomaliesAndFactsPerApiAreTheBrokersCount(String name) throws IOException {
    Fixture f = fixture(name);
    assertEquals(Map.of(), f.result().anomalies(), name);
    assertEquals(List.of(), f.result().collector().errors().stream().map(DecodeError::getName).toList(), name);
    Map<String, Long> perApi = new TreeMap<>();
    for (LatencyFact x : f.result().facts()) {
      assertEquals("kafka", x.getProtocol(), WireTruth.describe(x));
      perApi.merge(x.getCommand(), 1L, Long::sum);
    }
    // the broker's RequestsPerSec, less its CONTROLLER listener (not captured), plus the frames
    // of each SASL authentication, which its authenticator handles unseen by the metrics:
    // ApiVersions, SaslHandshake, and one SaslAuthenticate for PLAIN, two for SCRAM (RFC 5802)
    Map<String, Long> expected = new TreeMap<>(section(name, "broker_requests"));
    section(name, "controller_listener_requests").forEach((api, n) -> expected.merge(api, -n, Long::sum));
    long auths = section(name, "sasl_authentications").values().stream().mapToLong(Long::longValue).sum();
    long authenticateFrames = name.equals("sasl-scram") ? 2 : 1;
    AUTHENTICATION_APIS.forEach(api -> expected.merge(api, api.equals("SaslAuthenticate") ? auths * authenticateFrames
        : auths, Long::sum));
    expected.values().removeIf(n -> n == 0);
    assertEquals(expected, perApi, name + ": facts per api vs the broker's counts");
  }

  /** Every request in the broker's request log has its fact: same client endpoint, correlation id and api. */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void everyLoggedRequestHasItsFact(String name) throws IOException {
    Map<String, LatencyFact> byKey = new HashMap<>();
    for (LatencyFact x : fixture(name).result().facts()) {
      byKey.put(x.getClientIp() + ":" + x.getClientPort() + "/" + x.getDetail().get("correlation_id"), x);
    }
    List<String> rows = Files.readAllLines(FIXTURES.resolve(name + ".requests.tsv"));
    for (String row : rows.subList(1, rows.size())) {
      String[] c = row.split("\t", -1);
      LatencyFact x = byKey.get(c[1] + "/" + c[5]);
      assertNotNull(x, name + ": no fact for logged request " + row);
      assertEquals(c[3], x.getCommand(), row);
      assertTrue(x.getStatus() == Status.OK || x.getStatus() == Status.ERROR || x.getStatus() == Status.NO_REPLY, row);
    }
  }

  /**
   * Every time on every fact is a tcpdump packet time of its connection; requests and
   * responses sit in the packets tcpdump says hold their bytes (the server streams are
   * responses only, so they tile them); latency = response's first packet − request's last.
   */
  @ParameterizedTest(name = "{0}")
  @MethodSource("fixtures")
  void latenciesAreTcpdumpsPacketTimes(String name) {
    Fixture f = fixture(name);
    int answered = 0;
    for (Map.Entry<Conn, List<LatencyFact>> e : f.byConn().entrySet()) {
      WireTruth.assertTimesArePackets(name, e.getKey(), e.getValue(), f.tsv());
      WireTruth.assertRequestBytes(name, e.getKey(), e.getValue(), f.tsv());
      WireTruth.assertResponseBytes(name, e.getKey(), e.getValue(), f.tsv());
      answered += (int) e.getValue().stream().filter(WireTruth::isAnswered).count();
    }
    assertTrue(answered > 0);
  }

  @Test
  void saslListenerFoundByContentAndPasswordsNeverLeave() throws IOException {
    Fixture f = fixture("sasl-plain");
    String wire = new String(Files.readAllBytes(FIXTURES.resolve("sasl-plain.pcap")), StandardCharsets.ISO_8859_1);
    assertTrue(f.result().facts().stream().allMatch(x -> x.getServerPort() == 29092), "not a default port: probed");
    for (String pw : PASSWORDS) {
      assertTrue(wire.contains(pw), "the capture holds " + pw);
      for (LatencyFact x : f.result().facts()) {
        assertFalse(x.toString().contains(pw), "password in " + WireTruth.describe(x));
      }
      for (DecodeError d : f.result().collector().errors()) {
        assertFalse(d.toString().contains(pw), "password in anomaly " + d.getName());
      }
    }
  }

  @Test
  void acksZeroProduceIsNoReplyAndLongPollFetchesAreSlow() throws IOException {
    long noReply = fixture("producer").result().facts().stream()
        .filter(x -> x.getCommand().equals("Produce") && x.getStatus() == Status.NO_REPLY).count();
    long sent = Files.readAllLines(FIXTURES.resolve("producer.requests.tsv")).stream()
        .filter(l -> l.contains("\tProduce\t") && l.endsWith("\ttapflow-producer-acks0")).count();
    assertTrue(sent > 0);
    assertEquals(sent, noReply, "every Produce of the acks=0 producer (the broker's request log)");
    long slowFetches = fixture("consumer-classic").result().facts().stream()
        .filter(x -> x.getCommand().equals("Fetch") && x.getLatencyNs() != null && x.getLatencyNs() > 400_000_000L).count();
    assertTrue(slowFetches >= 1, "empty Fetches wait for fetch.max.wait.ms (500 ms)");
  }

  private static final Pattern ENTRY = Pattern.compile("\"([^\"]+)\": (\\d+)");

  /** One section of {@code <name>.truth.json}: a flat object of counts. */
  private static Map<String, Long> section(String name, String section) throws IOException {
    String json = Files.readString(FIXTURES.resolve(name + ".truth.json"));
    Matcher m = Pattern.compile("\"" + section + "\": \\{([^}]*)}").matcher(json);
    assertTrue(m.find(), name + " " + section);
    Map<String, Long> out = new TreeMap<>();
    Matcher e = ENTRY.matcher(m.group(1));
    while (e.find()) {
      out.put(e.group(1), Long.parseLong(e.group(2)));
    }
    return out;
  }
}
