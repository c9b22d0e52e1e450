package dev.tapflow.stream.topology;

import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;

/** The engines' stores over a Kafka Streams key-value store (the connections', the latency windows'). */
final class StreamsStore implements ConnectionEngine.Store, LatencyWindowAggregator.Store {
  private final KeyValueStore<Bytes, byte[]> kv;

  StreamsStore(KeyValueStore<Bytes, byte[]> kv) {
    this.kv = kv;
  }

  @Override
  public byte[] get(byte[] key) {
    return kv.get(Bytes.wrap(key));
  }

  @Override
  public void put(byte[] key, byte[] value) {
    kv.put(Bytes.wrap(key), value);
  }

  @Override
  public void delete(byte[] key) {
    kv.delete(Bytes.wrap(key));
  }

  @Override
  public long approximateSize() {
    return kv.approximateNumEntries();
  }

  @Override
  public void forEach(Visitor visitor) {
    try (KeyValueIterator<Bytes, byte[]> it = kv.all()) {
      while (it.hasNext()) {
        KeyValue<Bytes, byte[]> e = it.next();
        visitor.visit(e.key.get(), e.value);
      }
    }
  }

  @Override
  public void range(byte[] from, byte[] to, Visitor visitor) {
    Bytes end = Bytes.wrap(to);
    // Kafka's range is inclusive of its upper bound: stop before it
    try (KeyValueIterator<Bytes, byte[]> it = kv.range(Bytes.wrap(from), end)) {
      while (it.hasNext()) {
        KeyValue<Bytes, byte[]> e = it.next();
        if (e.key.equals(end)) {
          break;
        }
        visitor.visit(e.key.get(), e.value);
      }
    }
  }
}
