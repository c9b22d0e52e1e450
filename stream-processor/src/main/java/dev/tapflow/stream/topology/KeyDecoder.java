package dev.tapflow.stream.topology;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import org.apache.kafka.common.errors.SerializationException;

/** Decodes record keys (null when undecodable, counted), remembering the last one (a connection's batches usually come together). */
public final class KeyDecoder {
  private final AvroSerde<ConnectionKey> serde = AvroSerde.connectionKey();
  private byte[] lastBytes;
  private ConnectionKey last;
  private long undecodable;

  public ConnectionKey decode(byte[] bytes) {
    if (lastBytes != null && java.util.Arrays.equals(lastBytes, bytes)) {
      return last;
    }
    try {
      last = serde.decode(bytes);
      lastBytes = bytes;
      return last;
    } catch (SerializationException e) {
      undecodable++;
      return null;
    }
  }

  public long undecodable() {
    return undecodable;
  }
}
