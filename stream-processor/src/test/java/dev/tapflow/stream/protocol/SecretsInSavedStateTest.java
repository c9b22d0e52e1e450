package dev.tapflow.stream.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.protocol.kafka.KafkaProtocol;
import dev.tapflow.stream.protocol.memcached.MemcachedProtocol;
import dev.tapflow.stream.protocol.redis.RedisProtocol;
import dev.tapflow.stream.protocol.testing.Chunk;
import dev.tapflow.stream.protocol.testing.PcapPayloads;
import dev.tapflow.stream.protocol.testing.SessionFeeder;
import dev.tapflow.stream.protocol.testing.SessionRecording;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A connection's saved state goes to the processor's changelog topic, and between two
 * segments it holds the request in progress. Real sessions that send known passwords
 * (Redis AUTH, HELLO AUTH, CONFIG SET requirepass/masterauth, ACL SETUSER, MIGRATE AUTH/AUTH2,
 * memcached SASL, Kafka SASL PLAIN and SCRAM; whole, and split across segments by the
 * client) are fed one byte at a time with the state saved after every byte: no saved state
 * holds any 6-byte piece of a secret that occurs nowhere else in the connection, and the
 * facts are the same as without the saves (masked bytes were going to be redacted anyway).
 */
class SecretsInSavedStateTest {

  private static final Path PCAP = Path.of("src/test/resources/pcap");
  /** Shorter pieces of a secret are not checked: they occur elsewhere ("tapflow-", "secret"). */
  private static final int PIECE = 6;
  private static final SessionLimits LIMITS = SessionLimits.DEFAULTS;

  @Test
  void redisAndMemcachedCredentials() throws IOException {
    List<String> secrets = Files.readAllLines(PCAP.resolve("secrets/secrets.txt"));
    check(PCAP.resolve("secrets/secrets.pcap"), Map.of(6379, new RedisProtocol(), 6380, new RedisProtocol(),
        11211, new MemcachedProtocol()), secrets);
  }

  /** {@code scripts/capture-split-secrets.sh}: every password in two or three segments, 30 ms apart. */
  @Test
  void passwordsSplitAcrossSegments() throws IOException {
    List<String> secrets = Files.readAllLines(PCAP.resolve("secrets/split.txt")).stream()
        .map(line -> line.replace(" ", "")).toList();
    check(PCAP.resolve("secrets/split.pcap"), Map.of(6379, new RedisProtocol(), 11211, new MemcachedProtocol()),
        secrets);
  }

  @Test
  void kafkaSaslPlain() throws IOException {
    check(PCAP.resolve("kafka/sasl-plain.pcap"), Map.of(9092, new KafkaProtocol(), 29092, new KafkaProtocol()),
        List.of("tapflow-kafka-fixture-password", "tapflow-kafka-wrong-password"));
  }

  /** SCRAM-SHA-256 and -512: the exchange's nonces, salt, proofs and signatures (read from the capture). */
  @Test
  void kafkaSaslScram() throws IOException {
    List<String> values = dev.tapflow.stream.protocol.kafka.KafkaFixtureAccess.scramValues("sasl-scram");
    assertTrue(values.size() >= 4, values.toString());
    check(PCAP.resolve("kafka/sasl-scram.pcap"), Map.of(9092, new KafkaProtocol(), 29092, new KafkaProtocol()), values);
  }

  /**
   * Feeds every connection of the capture byte by byte, saving the state after each byte, and
   * searches every saved state for pieces of the secrets.
   */
  static void check(Path pcap, Map<Integer, Protocol> byPort, List<String> secrets) throws IOException {
    Map<String, List<Chunk>> connections = PcapPayloads.read(pcap, byPort.keySet());
    List<String> found = new ArrayList<>();
    int checked = 0;
    for (Map.Entry<String, List<Chunk>> c : connections.entrySet()) {
      int port = Integer.parseInt(c.getKey().substring(c.getKey().lastIndexOf(':') + 1));
      Protocol protocol = byPort.get(port);
      List<Chunk> chunks = c.getValue();
      List<byte[]> pieces = distinctivePieces(chunks, secrets);
      if (pieces.isEmpty()) {
        continue;
      }
      checked++;
      SessionFeeder.Sessions sessions = SessionFeeder.of(protocol, LIMITS);
      SessionRecording whole = SessionFeeder.run(sessions, chunks);
      SessionRecording saved = new SessionRecording();
      List<byte[]> states = new ArrayList<>();
      SessionFeeder.feed(new Saving(sessions, states), chunks, SessionFeeder.EVERY_BYTE, true, saved);
      assertEquals(whole.exchanges, saved.exchanges, c.getKey() + ": the same facts with the state saved after every byte");
      for (byte[] state : states) {
        for (byte[] piece : pieces) {
          if (indexOf(state, piece) >= 0) {
            found.add(c.getKey() + ": \"" + new String(piece, StandardCharsets.ISO_8859_1) + "\"");
          }
        }
      }
    }
    assertTrue(checked > 0, "no connection of " + pcap + " carries a secret");
    assertEquals(List.of(), found.stream().distinct().toList(), "pieces of secrets in saved states");
  }

  /**
   * The {@value #PIECE}-byte pieces of the secrets this connection carries that occur nowhere
   * in it but inside a secret (the connection's bytes, with every secret blanked out, do not
   * hold them).
   */
  static List<byte[]> distinctivePieces(List<Chunk> chunks, List<String> secrets) {
    byte[][] sides = {concat(chunks, true), concat(chunks, false)};
    List<byte[]> out = new ArrayList<>();
    byte[][] blanked = {sides[0].clone(), sides[1].clone()};
    List<byte[]> carried = new ArrayList<>();
    for (String s : secrets) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      boolean in = false;
      for (byte[] side : blanked) {
        for (int i = indexOf(side, b); i >= 0; i = indexOf(side, b)) {
          java.util.Arrays.fill(side, i, i + b.length, (byte) 0);
          in = true;
        }
      }
      if (in) {
        carried.add(b);
      }
    }
    for (byte[] b : carried) {
      for (int i = 0; i + PIECE <= b.length; i++) {
        byte[] piece = java.util.Arrays.copyOfRange(b, i, i + PIECE);
        if (indexOf(blanked[0], piece) < 0 && indexOf(blanked[1], piece) < 0) {
          out.add(piece);
        }
      }
    }
    return out;
  }

  private static byte[] concat(List<Chunk> chunks, boolean client) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    chunks.stream().filter(c -> c.client() == client).forEach(c -> out.writeBytes(c.bytes()));
    return out.toByteArray();
  }

  static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }

  /** Sessions whose every read-back state is kept (the feeder writes, then reads back). */
  private record Saving(SessionFeeder.Sessions sessions, List<byte[]> states) implements SessionFeeder.Sessions {
    @Override
    public ProtocolSession create() {
      return sessions.create();
    }

    @Override
    public ProtocolSession read(DataInputStream in) throws IOException {
      byte[] state = in.readAllBytes();
      states.add(state);
      ProtocolSession s = sessions.read(new DataInputStream(new java.io.ByteArrayInputStream(state)));
      ByteArrayOutputStream again = new ByteArrayOutputStream();
      s.writeTo(new DataOutputStream(again));
      assertArrayEquals(state, again.toByteArray(), "state reads back as written");
      return s;
    }
  }
}
