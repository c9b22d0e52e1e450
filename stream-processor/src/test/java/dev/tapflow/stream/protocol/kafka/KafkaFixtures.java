package dev.tapflow.stream.protocol.kafka;

import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.protocol.testing.Chunk;
import dev.tapflow.stream.protocol.testing.PcapPayloads;
import dev.tapflow.stream.protocol.testing.SessionFeeder;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Kafka fixtures recorded by {@code scripts/capture-kafka.sh} ({@code src/test/resources/pcap/kafka},
 * see its README): connections' payloads, and the truth recorded beside each capture.
 */
final class KafkaFixtures {

  static final Path DIR = Path.of("src/test/resources/pcap/kafka");
  static final List<String> NAMES = List.of("admin", "producer", "consumer-classic", "consumer-kip848", "transactions",
      "sasl-plain", "sasl-scram");
  static final Set<Integer> SERVER_PORTS = Set.of(KafkaFixtureRecorder.PLAINTEXT_PORT, KafkaFixtureRecorder.SASL_PORT);

  /** Frames a SASL authentication puts on the wire that the broker's request metrics do not count: ApiVersions, SaslHandshake, SaslAuthenticate. */
  static final List<String> AUTHENTICATION_APIS = List.of("ApiVersions", "SaslHandshake", "SaslAuthenticate");

  private KafkaFixtures() {}

  static SessionFeeder.Sessions sessions(SessionLimits limits) {
    return sessions(limits, KafkaDecoder.DEFAULT_MAX_DECODED_FRAME);
  }

  static SessionFeeder.Sessions sessions(SessionLimits limits, int maxDecodedFrame) {
    return new SessionFeeder.Sessions() {
      @Override
      public KafkaSession create() {
        return new KafkaSession(limits, maxDecodedFrame);
      }

      @Override
      public KafkaSession read(DataInputStream in) throws IOException {
        return KafkaSession.readFrom(in, limits, maxDecodedFrame);
      }
    };
  }

  /** Each connection's payload chunks, keyed "client-server". */
  static Map<String, List<Chunk>> load(String name) throws IOException {
    return PcapPayloads.read(DIR.resolve(name + ".pcap"), SERVER_PORTS);
  }

  /** One section of {@code <name>.truth.json}: a flat object of counts. */
  static Map<String, Long> truth(String name, String section) throws IOException {
    String json = Files.readString(DIR.resolve(name + ".truth.json"));
    Matcher m = Pattern.compile("\"" + Pattern.quote(section) + "\": \\{([^}]*)}").matcher(json);
    if (!m.find()) {
      throw new IllegalArgumentException(name + ".truth.json has no " + section);
    }
    Map<String, Long> out = new TreeMap<>();
    Matcher e = Pattern.compile("\"([^\"]+)\": (\\d+)").matcher(m.group(1));
    while (e.find()) {
      out.put(e.group(1), Long.parseLong(e.group(2)));
    }
    return out;
  }

  /**
   * SaslAuthenticate round trips per authentication: PLAIN sends its one message; SCRAM
   * (RFC 5802) client-first then client-final, whether the proof holds or not.
   */
  static long saslAuthenticateFrames(String name) {
    return name.equals("sasl-scram") ? 2 : 1;
  }

  /**
   * Requests per api the capture must hold, from the broker's own counts: its RequestsPerSec,
   * less the requests on the CONTROLLER listener (not captured), plus the frames of each SASL
   * authentication (ApiVersions, SaslHandshake, and one SaslAuthenticate for PLAIN, two for
   * SCRAM: handled by the broker's authenticator, which the request metrics do not see).
   */
  static Map<String, Long> expectedPerApi(String name) throws IOException {
    Map<String, Long> out = new TreeMap<>(truth(name, "broker_requests"));
    truth(name, "controller_listener_requests").forEach((api, n) -> out.merge(api, -n, Long::sum));
    long auths = truth(name, "sasl_authentications").values().stream().mapToLong(Long::longValue).sum();
    if (auths > 0) {
      AUTHENTICATION_APIS.forEach(api -> out.merge(api, api.equals("SaslAuthenticate")
          ? auths * saslAuthenticateFrames(name) : auths, Long::sum));
    }
    out.values().removeIf(n -> n == 0);
    return out;
  }

  /** SCRAM attributes of a client's or server's message (RFC 5802 §5.1): nonce, salt, proof, signature. */
  private static final Pattern SCRAM_VALUE = Pattern.compile("(?<![A-Za-z0-9])([rspv])=([A-Za-z0-9+/=]{16,})");

  /**
   * What a SCRAM exchange puts on the wire instead of the password, read from the capture's
   * bytes: every nonce, salt, client proof and server signature (at least 16 characters).
   */
  static List<String> scramValues(String name) throws IOException {
    String wire = new String(Files.readAllBytes(DIR.resolve(name + ".pcap")), java.nio.charset.StandardCharsets.ISO_8859_1);
    List<String> out = new ArrayList<>();
    Matcher m = SCRAM_VALUE.matcher(wire);
    while (m.find()) {
      if (!out.contains(m.group(2))) {
        out.add(m.group(2));
      }
    }
    return out;
  }

  /** One row of {@code <name>.requests.tsv}: a request the broker's request log shows on a captured listener. */
  record LoggedRequest(String listener, String client, int apiKey, String api, int version, int correlationId,
      String clientId) {}

  static List<LoggedRequest> requests(String name) throws IOException {
    List<String> lines = Files.readAllLines(DIR.resolve(name + ".requests.tsv"));
    assertFalse(lines.isEmpty());
    List<LoggedRequest> out = new ArrayList<>();
    for (String line : lines.subList(1, lines.size())) {
      String[] c = line.split("\t", -1);
      out.add(new LoggedRequest(c[0], c[1], Integer.parseInt(c[2]), c[3], Integer.parseInt(c[4]),
          Integer.parseInt(c[5]), c[6]));
    }
    return out;
  }
}
