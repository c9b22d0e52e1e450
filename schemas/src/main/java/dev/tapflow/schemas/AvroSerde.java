package dev.tapflow.schemas;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.apache.avro.Schema;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;
import org.apache.avro.message.SchemaStore;
import org.apache.avro.specific.SpecificData;
import org.apache.avro.specific.SpecificRecordBase;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serializer;

/**
 * Kafka Serde for tapflow's Avro records in Avro single-object encoding (2-byte marker,
 * 8-byte schema fingerprint, binary datum). No registry: the schema store holds the
 * current schema and every older one listed for the type, so records written by an older
 * agent still decode after a backward-compatible change.
 */
public final class AvroSerde<T extends SpecificRecordBase> implements Serde<T> {

  static {
    TrustedPackages.allow();
  }

  private final BinaryMessageEncoder<T> encoder;
  private final BinaryMessageDecoder<T> decoder;

  private AvroSerde(Schema current, List<Schema> older) {
    SpecificData model = SpecificData.getForSchema(current);
    SchemaStore.Cache store = new SchemaStore.Cache();
    for (Schema s : older) {
      store.addSchema(s);
    }
    // writing goes through the generated classes' own encoders (customEncode: each field
    // written directly, not looked up through the schema): the same bytes, a fact in 1.2 us
    // instead of 1.8; reading keeps the schema-driven reader, which resolves older writers'
    // schemas
    SpecificData writing = new SpecificData(model.getClassLoader());
    writing.setCustomCoders(true);
    this.encoder = new BinaryMessageEncoder<>(writing, current);
    this.decoder = new BinaryMessageDecoder<>(model, current, store);
  }

  public static <T extends SpecificRecordBase> AvroSerde<T> of(Schema current) {
    return new AvroSerde<>(current, List.of());
  }

  public static AvroSerde<ConnectionKey> connectionKey() { return of(ConnectionKey.getClassSchema()); }
  public static AvroSerde<SegmentBatch> segmentBatch() {
    return new AvroSerde<>(SegmentBatch.getClassSchema(), older("SegmentBatch-1"));
  }
  public static AvroSerde<LatencyFact> latencyFact() {
    return new AvroSerde<>(LatencyFact.getClassSchema(), older("LatencyFact-1"));
  }
  public static AvroSerde<VantagePair> vantagePair() { return of(VantagePair.getClassSchema()); }
  public static AvroSerde<DecodeError> decodeError() { return of(DecodeError.getClassSchema()); }
  public static AvroSerde<LatencyWindow> latencyWindow() { return of(LatencyWindow.getClassSchema()); }
  public static AvroSerde<CaptureStats> captureStats() { return of(CaptureStats.getClassSchema()); }

  /**
   * Earlier versions of a schema, kept as written (resources {@code older/NAME.json}) so that
   * records an older agent or processor wrote still decode: the single-object fingerprint
   * names the writer's schema, and Avro resolves it to the current one (new fields take
   * their defaults).
   */
  private static List<Schema> older(String... names) {
    List<Schema> out = new java.util.ArrayList<>();
    for (String n : names) {
      try (java.io.InputStream in = AvroSerde.class.getResourceAsStream("older/" + n + ".json")) {
        if (in == null) {
          throw new IllegalStateException("schema resource older/" + n + ".json is missing");
        }
        out.add(new Schema.Parser().parse(in));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    return out;
  }

  public byte[] encode(T value) {
    try {
      ByteBuffer buf = encoder.encode(value);
      byte[] out = new byte[buf.remaining()];
      buf.get(out);
      return out;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public T decode(byte[] bytes) {
    try {
      return decoder.decode(bytes);
    } catch (IOException | RuntimeException e) {
      throw new SerializationException("not a tapflow Avro single-object record: " + e.getMessage(), e);
    }
  }

  @Override
  public Serializer<T> serializer() {
    return (topic, data) -> data == null ? null : encode(data);
  }

  @Override
  public Deserializer<T> deserializer() {
    return (topic, data) -> data == null ? null : decode(data);
  }
}
