package dev.tapflow.stream.topology;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/** {@link LatencyWindowAggregator.Store} in a sorted map (unsigned byte order), for jobs outside Kafka Streams. */
public final class InMemoryWindowStore implements LatencyWindowAggregator.Store {
  private final TreeMap<byte[], byte[]> map = new TreeMap<>(Arrays::compareUnsigned);

  @Override
  public byte[] get(byte[] key) {
    return map.get(key);
  }

  @Override
  public void put(byte[] key, byte[] value) {
    map.put(key.clone(), value);
  }

  @Override
  public void delete(byte[] key) {
    map.remove(key);
  }

  @Override
  public void range(byte[] from, byte[] to, ConnectionEngine.Store.Visitor visitor) {
    for (Map.Entry<byte[], byte[]> e : map.subMap(from, true, to, false).entrySet()) {
      visitor.visit(e.getKey(), e.getValue());
    }
  }

  public int size() {
    return map.size();
  }
}
