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

  /** Records written before the vantage fields existed (the schemas kept in older/) still decode, with the defaults. */
  @Test
  void recordsOfTheSchemasBeforeTheVantageFieldsDecode() throws Exception {
    org.apache.avro.Schema oldBatch = new org.apache.avro.Schema.Parser().parse(
        AvroSerde.class.getResourceAsStream("older/SegmentBatch-1.json"));
    org.apache.avro.generic.GenericRecord b = new org.apache.avro.generic.GenericData.Record(oldBatch);
    b.put("segments", java.util.List.of());
    b.put("end_of_capture", true);
    b.put("end_ts_ns", 42L);
    ByteBuffer written = new org.apache.avro.message.BinaryMessageEncoder<org.apache.avro.generic.GenericRecord>(
        org.apache.avro.generic.GenericData.get(), oldBatch).encode(b);
    SegmentBatch batch = AvroSerde.segmentBatch().decode(toBytes(written));
    assertEquals(42L, batch.getEndTsNs());
    assertEquals(VantageSetting.AUTO, batch.getVantage());
    assertEquals(0, batch.getLocalEndpoints());

    org.apache.avro.Schema oldFact = new org.apache.avro.Schema.Parser().parse(
        AvroSerde.class.getResourceAsStream("older/LatencyFact-1.json"));
    LatencyFact current = LatencyFact.newBuilder().setId("x").setAgent("a").setProtocol("redis").setVantage("client")
        .setClientIp("::1").setClientPort(5).setServerIp("::1").setServerPort(6379).setCommand("GET")
        .setStatus(Status.OK).setRequestFirstNs(1).setRequestLastNs(2).setRequestBytes(3).setRequestSeq(77L).build();
    // the same fact as an older processor wrote it: every field but request_seq
    org.apache.avro.generic.GenericRecord f = new org.apache.avro.generic.GenericData.Record(oldFact);
    for (org.apache.avro.Schema.Field field : oldFact.getFields()) {
      Object v = current.get(field.name());
      f.put(field.name(), v instanceof Status st
          ? new org.apache.avro.generic.GenericData.EnumSymbol(field.schema(), st.name()) : v);
    }
    ByteBuffer old = new org.apache.avro.message.BinaryMessageEncoder<org.apache.avro.generic.GenericRecord>(
        org.apache.avro.generic.GenericData.get(), oldFact).encode(f);
    LatencyFact read = AvroSerde.latencyFact().decode(toBytes(old));
    assertEquals(LatencyFact.newBuilder(current).setRequestSeq(null).build(), read);
  }

  private static byte[] toBytes(ByteBuffer b) {
    byte[] out = new byte[b.remaining()];
    b.get(out);
    return out;
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
