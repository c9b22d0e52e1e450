package dev.tapflow.schemas;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

class AvroSerdeTest {

  @Test
  void roundTripsAfterGeneratedClassesLoadedFirst() {
    // build a record before the Serde class is touched: Avro's package check must still pass
    ConnectionKey key = ConnectionKey.newBuilder().setAgent("h").setTransport(Transport.TCP)
        .setIpA(ByteBuffer.wrap(new byte[] {127, 0, 0, 1})).setPortA(1)
        .setIpB(ByteBuffer.wrap(new byte[] {127, 0, 0, 1})).setPortB(6379).build();
    AvroSerde<ConnectionKey> serde = AvroSerde.connectionKey();
    assertEquals(key, serde.decode(serde.encode(key)));
  }

  @Test
  void factWithOptionalFieldsRoundTrips() {
    LatencyFact f = LatencyFact.newBuilder().setId("x").setAgent("a").setProtocol("redis").setVantage("unknown")
        .setClientIp("::1").setClientPort(5).setServerIp("::1").setServerPort(6379).setCommand("GET")
        .setStatus(Status.TIMEOUT).setRequestFirstNs(1).setRequestLastNs(2).setRequestBytes(3).build();
    AvroSerde<LatencyFact> serde = AvroSerde.latencyFact();
    assertEquals(f, serde.decode(serde.encode(f)));
  }

  @Test
  void garbageIsASerializationException() {
    assertThrows(SerializationException.class, () -> AvroSerde.latencyFact().decode(new byte[] {1, 2, 3}));
    byte[] other = AvroSerde.connectionKey().encode(ConnectionKey.newBuilder().setAgent("h")
        .setTransport(Transport.UDP).setIpA(ByteBuffer.wrap(new byte[4])).setPortA(0)
        .setIpB(ByteBuffer.wrap(new byte[4])).setPortB(0).build());
    assertThrows(SerializationException.class, () -> AvroSerde.latencyFact().decode(other),
        "a record of another schema must not decode as a fact");
  }
}
