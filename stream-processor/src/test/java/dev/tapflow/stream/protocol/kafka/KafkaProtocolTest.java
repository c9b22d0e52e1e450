package dev.tapflow.stream.protocol.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tapflow.protocol.api.Protocol.Probe;
import dev.tapflow.stream.protocol.Protocols;
import dev.tapflow.stream.protocol.testing.Chunk;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The content probe, the resource summary, and the registration. */
class KafkaProtocolTest {

  private static final KafkaProtocol KAFKA = new KafkaProtocol();

  private static Probe probe(byte[] b) {
    return KAFKA.probe(b, 0, b.length);
  }

  @Test
  void everyFixtureConnectionIsRecognisedFromEitherSidesFirstBytes() throws IOException {
    for (String name : KafkaFixtures.NAMES) {
      for (Map.Entry<String, List<Chunk>> e : KafkaFixtures.load(name).entrySet()) {
        Chunk firstClient = e.getValue().stream().filter(Chunk::client).findFirst().orElseThrow();
        Chunk firstServer = e.getValue().stream().filter(c -> !c.client()).findFirst().orElseThrow();
        assertEquals(Probe.REQUEST, probe(firstClient.bytes()), name + " " + e.getKey());
        assertEquals(Probe.RESPONSE, probe(firstServer.bytes()), name + " " + e.getKey());
      }
    }
  }

  @Test
  void otherProtocolsAndNoiseAreNotKafka() {
    for (String text : List.of("*1\r\n$4\r\nPING\r\n", "+OK\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "get foo\r\n", "VALUE foo 0 3\r\nbar\r\nEND\r\n", "SSH-2.0-OpenSSH_9.2\r\n")) {
      assertEquals(Probe.NO, probe(text.getBytes(StandardCharsets.ISO_8859_1)), text);
    }
    assertEquals(Probe.NO, probe(new byte[64]), "zeros");
    assertEquals(Probe.NO, probe(KafkaWire.bytes(0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03)), "TLS");
    assertEquals(Probe.NO, probe(KafkaWire.bytes(0x80, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0)), "memcached binary");
    // a request needs a client id, unless it is one that opens connections (else it may be a response)
    assertEquals(Probe.RESPONSE, probe(KafkaWire.rawRequest(0, 9, 5, "", new byte[20])));
    assertEquals(Probe.REQUEST, probe(KafkaWire.rawRequest(0, 9, 5, "c", new byte[20])));
    assertEquals(Probe.REQUEST, probe(KafkaWire.rawRequest(18, 3, 0, "", new byte[] {0})));
    // a response must be whole, and followed by nothing or a plausible size
    byte[] r = KafkaSessionTest.apiVersionsResponse(3);
    assertEquals(Probe.NO, KAFKA.probe(r, 0, r.length - 1));
    assertEquals(Probe.RESPONSE, probe(KafkaWire.concat(r, r)));
  }

  @Test
  void registeredBuiltIn() {
    Protocols p = Protocols.installed(Map.of());
    assertEquals(KafkaProtocol.NAME, p.forPort(9092).name());
    assertEquals(KAFKA.name(), p.byName("kafka").name());
  }

  @Test
  void resourceSummaries() {
    assertEquals(null, new KafkaResource().summary());
    assertEquals("orders-3", summary("orders", 3));
    assertEquals("orders-0,orders-1", summary("orders", 0, 1));
    assertEquals("orders[0..11]", summary("orders", 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
    assertEquals("orders[0..3,7,9,10]", summary("orders", 0, 1, 2, 3, 7, 9, 10));
    KafkaResource two = new KafkaResource();
    two.partition("orders", 0);
    two.partition("orders", 1);
    two.partition("orders", 2);
    two.topic("events");
    assertEquals("orders[0..2],events", two.summary());
    KafkaResource many = new KafkaResource();
    for (String t : List.of("a", "b", "c", "d", "e")) {
      many.partition(t, 0);
    }
    assertEquals("5 topics", many.summary());
    KafkaResource wide = new KafkaResource();
    for (int i = 0; i < 400; i += 2) {
      wide.partition("orders", i);
    }
    assertEquals("orders[200 partitions]", wide.summary(), "bounded");
    KafkaResource odd = new KafkaResource();
    odd.topic("bad\nname");
    assertEquals("bad?name", odd.summary(), "nothing from the wire breaks a line");
  }

  private static String summary(String topic, int... partitions) {
    KafkaResource r = new KafkaResource();
    for (int p : partitions) {
      r.partition(topic, p);
    }
    return r.summary();
  }
}
