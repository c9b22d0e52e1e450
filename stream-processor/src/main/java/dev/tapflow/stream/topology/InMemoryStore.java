package dev.tapflow.stream.topology;

import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@link ConnectionEngine.Store} in a map, for {@code tapflow analyze} and tests. */
public final class InMemoryStore implements ConnectionEngine.Store {
  private final Map<ByteBuffer, byte[]> map = new LinkedHashMap<>();

  @Override
  public byte[] get(byte[] key) {
    return map.get(ByteBuffer.wrap(key));
  }

  @Override
  public void put(byte[] key, byte[] value) {
    map.put(ByteBuffer.wrap(key.clone()), value);
  }

  @Override
  public void delete(byte[] key) {
    map.remove(ByteBuffer.wrap(key));
  }

  @Override
  public void forEach(Visitor visitor) {
    for (Map.Entry<ByteBuffer, byte[]> e : map.entrySet()) {
      visitor.visit(e.getKey().array(), e.getValue());
    }
  }

  public int size() {
    return map.size();
  }

  @Override
  public long approximateSize() {
    return map.size();
  }
}
