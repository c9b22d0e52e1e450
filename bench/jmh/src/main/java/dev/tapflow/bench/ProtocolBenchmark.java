package dev.tapflow.bench;

import dev.tapflow.capture.CaptureFileImporter;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.stream.topology.ConnectionEngine;
import dev.tapflow.stream.topology.InMemoryStore;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The decode core per protocol, one thread: every batch of a protocol's recorded fixtures
 * (as the capture agent publishes them, read once before measuring) through a fresh
 * {@link ConnectionEngine} — reassembly (TCP) or datagram flows (UDP), the protocol's
 * decoder, pairing, and the facts with their ids — then the end of capture. One operation
 * is one pass over all of a protocol's fixtures; the report turns passes into MB/s of
 * payload, segments/s and facts/s (requests; each fact is a request and, mostly, its
 * response).
 *
 * <p>Fixtures ({@code -Dtapflow.bench.pcaps}, default {@code stream-processor/src/test/resources/pcap}):
 * {@code redis/} (redis-benchmark plain and -P 16, a redis-cli session with a 100 KB value,
 * pub/sub), {@code memcached-udp/}, {@code dns/} (dnsmasq + dig over UDP and TCP),
 * {@code kafka/} (the in-JVM broker with real clients).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(1)
@Warmup(iterations = 4, time = 1)
@Measurement(iterations = 5, time = 1)
public class ProtocolBenchmark {

  @Param({"redis", "memcached-udp", "dns", "kafka"})
  public String protocol;

  /** One published batch. */
  public record Batch(byte[] keyBytes, ConnectionKey key, SegmentBatch batch) {}

  /** A protocol's fixtures as batches, with what one pass over them holds and yields. */
  public record Feed(List<Batch> batches, List<String> agents, long payloadBytes, long segments, long facts,
                     long anomalies) {}

  private Feed feed;
  private final ProcessorConfig config = ProcessorConfig.defaults();

  @Setup
  public void read() throws Exception {
    feed = feed(protocol);
  }

  @Benchmark
  public void pass(Blackhole bh) {
    bh.consume(run(feed, config, new Counting()));
  }

  static Path pcaps() {
    return Path.of(System.getProperty("tapflow.bench.pcaps", "stream-processor/src/test/resources/pcap"));
  }

  public static Feed feed(String protocol) throws Exception {
    List<Path> files;
    try (Stream<Path> s = Files.list(pcaps().resolve(protocol))) {
      files = s.filter(p -> p.toString().endsWith(".pcap")).sorted().toList();
    }
    List<Batch> batches = new ArrayList<>();
    List<String> agents = new ArrayList<>();
    AvroSerde<ConnectionKey> keys = AvroSerde.connectionKey();
    long bytes = 0;
    long segments = 0;
    for (Path f : files) {
      String agent = CaptureFileImporter.defaultAgentId(f);
      agents.add(agent);
      List<Batch> mine = new ArrayList<>();
      new CaptureFileImporter().importFile(f, agent, (key, batch) -> mine.add(new Batch(keys.encode(key), key, batch)));
      for (Batch b : mine) {
        for (Segment s : b.batch().getSegments()) {
          bytes += s.getPayload().remaining();
          segments++;
        }
      }
      batches.addAll(mine);
    }
    Counting out = new Counting();
    run(new Feed(batches, agents, bytes, segments, 0, 0), ProcessorConfig.defaults(), out);
    return new Feed(batches, agents, bytes, segments, out.facts, out.anomalies);
  }

  /** One pass: a fresh engine and store, every batch, then each agent's end of capture. */
  static long run(Feed feed, ProcessorConfig config, Counting out) {
    ConnectionEngine engine = new ConnectionEngine(config);
    InMemoryStore store = new InMemoryStore();
    for (Batch b : feed.batches()) {
      engine.onBatch(b.keyBytes(), b.key(), b.batch(), store, out);
    }
    for (String agent : feed.agents()) {
      engine.endOfCapture(agent, Long.MAX_VALUE / 2, store, out);
    }
    return out.facts;
  }

  /** Counts what the engine emits. */
  static final class Counting implements ConnectionEngine.Output {
    long facts;
    long anomalies;

    @Override
    public void fact(byte[] key, LatencyFact fact) {
      facts++;
    }

    @Override
    public void decodeError(byte[] key, DecodeError error) {
      anomalies++;
    }
  }
}
