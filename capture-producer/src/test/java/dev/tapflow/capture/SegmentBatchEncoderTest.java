package dev.tapflow.capture;

import static dev.tapflow.capture.TestFrames.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.VantageSetting;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.junit.jupiter.api.Test;

/**
 * The live agent's Avro writer against the generic one: every capture we have, batched both
 * ways with the same bounds, must give byte-identical record keys and values (and the same
 * timestamps), so the stream processor cannot tell a live agent from a file import.
 */
class SegmentBatchEncoderTest {

  record Encoded(byte[] key, byte[] value, long timestampMs, int segments, int payloadBytes) {}

  record Generic(ConnectionKey key, SegmentBatch batch) {}

  /** Every pcap of this module and of the stream processor's Redis fixtures (relative to the module, as surefire runs). */
  static List<Path> captures() throws IOException {
    List<Path> out = new ArrayList<>();
    for (Path dir : List.of(Path.of("src/test/resources/pcap"), Path.of("../stream-processor/src/test/resources/pcap/redis"))) {
      if (Files.isDirectory(dir)) {
        try (Stream<Path> s = Files.list(dir)) {
          s.filter(p -> p.toString().endsWith(".pcap")).sorted().forEach(out::add);
        }
      }
    }
    return out;
  }

  /** Reads a file through the extractor into a batcher with the given sink. */
  static <B> void batch(Path file, SegmentBatcher.Options options, SegmentBatcher.SegmentSink<B> sink) throws Exception {
    CaptureStats stats = new CaptureStats();
    try (PcapFileReader reader = PcapFileReader.open(file)) {
      int linkType = reader.linkType();
      SegmentExtractor x = new SegmentExtractor(stats, new SegmentBatcher("agent-ü", sink, stats, options),
          IpFragmentReassembler.Options.defaults());
      reader.read((ts, wire, frame) -> x.frame(linkType, ts, wire, frame, 0, frame.length));
      x.finish();
    }
  }

  @Test
  void byteForByteWhatAvroSerdeWritesOnEveryCapture() throws Exception {
    List<Path> files = captures();
    assertTrue(files.size() >= 3, "captures found: " + files);
    AvroSerde<ConnectionKey> keys = AvroSerde.connectionKey();
    AvroSerde<SegmentBatch> values = AvroSerde.segmentBatch();
    for (SegmentBatcher.Options o : List.of(SegmentBatcher.Options.defaults(),
        SegmentBatcher.Options.defaults().withMaxBatchBytes(300).withMaxBatchDelayNs(100_000_000L))) {
      for (Path f : files) {
        List<Generic> generic = new ArrayList<>();
        CaptureStats stats = new CaptureStats();
        try (PcapFileReader reader = PcapFileReader.open(f)) {
          int linkType = reader.linkType();
          SegmentExtractor x = new SegmentExtractor(stats,
              new SegmentBatcher("agent-ü", (k, b) -> generic.add(new Generic(k, b)), stats, o),
              IpFragmentReassembler.Options.defaults());
          reader.read((ts, wire, frame) -> x.frame(linkType, ts, wire, frame, 0, frame.length));
          x.finish();
        }
        List<Encoded> encoded = new ArrayList<>();
        batch(f, o, new SegmentBatchEncoder((k, v, ts, n, bytes) -> encoded.add(new Encoded(k, v, ts, n, bytes))));

        assertEquals(generic.size(), encoded.size(), f + ": batches");
        assertFalse(generic.isEmpty(), f.toString());
        for (int i = 0; i < generic.size(); i++) {
          Generic g = generic.get(i);
          Encoded e = encoded.get(i);
          String where = f.getFileName() + " batch " + i;
          assertArrayEquals(keys.encode(g.key()), e.key(), where + ": key");
          assertArrayEquals(values.encode(g.batch()), e.value(), where + ": value");
          assertEquals(BatchListener.timestampMs(g.batch()), e.timestampMs(), where);
          assertEquals(g.batch().getSegments().size(), e.segments(), where);
          assertEquals(g.batch().getSegments().stream().mapToInt(s -> s.getPayload().remaining()).sum(),
              e.payloadBytes(), where);
        }
      }
    }
  }

  @Test
  void ipv6AndUdpKeysAndLongPayloadsToo() throws Exception {
    byte[] big = new byte[70_000 - 60];
    new Random(7).nextBytes(big);
    List<byte[]> frames = List.of(
        ipv6("2001:db8::1", "2001:db8::2", 17, udp(5353, 53, ascii("query"))),
        ipv6("2001:db8::2", "2001:db8::1", 17, udp(53, 5353, ascii("answer"))),
        ipv4("10.0.0.2", "10.0.0.1", 6, tcp(40000, 6379, 0xFFFFFFF0L, 0x7FFFFFFFL, PSH | ACK, 65535, big)));
    TestPcap.Writer w = TestPcap.pcap(LinkType.RAW, true);
    long t = 1_700_000_000_123_456_789L;
    for (byte[] fr : frames) {
      w.add(t, fr);
      t += 1_000;
    }
    Path file = Files.createTempFile("encoder", ".pcap");
    try {
      w.write(file);
      List<Generic> generic = new ArrayList<>();
      new CaptureFileImporter().importFile(file, "agent-ü", (k, b) -> generic.add(new Generic(k, b)));
      List<Encoded> encoded = new ArrayList<>();
      batch(file, SegmentBatcher.Options.defaults(),
          new SegmentBatchEncoder((k, v, ts, n, bytes) -> encoded.add(new Encoded(k, v, ts, n, bytes))));
      assertEquals(2, generic.size(), "the UDP flow at the end, the TCP connection at its FIN");
      assertEquals(generic.size(), encoded.size());
      for (int i = 0; i < generic.size(); i++) {
        assertArrayEquals(AvroSerde.connectionKey().encode(generic.get(i).key()), encoded.get(i).key());
        assertArrayEquals(AvroSerde.segmentBatch().encode(generic.get(i).batch()), encoded.get(i).value());
      }
    } finally {
      Files.delete(file);
    }
  }

  /** The agent's --vantage and which endpoints are its own addresses, on every batch, as AvroSerde reads them. */
  @Test
  void vantageAndLocalEndpointsAsAvroSerdeReadsThem() throws Exception {
    Path file = Path.of("../stream-processor/src/test/resources/pcap/redis/benchmark-plain.pcap");
    // the server side of the capture: every connection's server endpoint (port 6379's address) is local
    List<Generic> generic = new ArrayList<>();
    new CaptureFileImporter().importFile(file, "agent-ü", (k, b) -> generic.add(new Generic(k, b)));
    ConnectionKey first = generic.get(0).key();
    byte[] serverAddress = new byte[first.getPortA() < first.getPortB() ? first.getIpA().remaining()
        : first.getIpB().remaining()];
    (first.getPortA() < first.getPortB() ? first.getIpA() : first.getIpB()).duplicate().get(serverAddress);
    LocalAddresses local = LocalAddresses.of(List.of(serverAddress));
    List<Encoded> encoded = new ArrayList<>();
    batch(file, SegmentBatcher.Options.defaults(), new SegmentBatchEncoder(
        (k, v, ts, n, bytes) -> encoded.add(new Encoded(k, v, ts, n, bytes)), VantageSetting.SERVER, local));
    assertEquals(generic.size(), encoded.size());
    for (int i = 0; i < generic.size(); i++) {
      SegmentBatch expected = SegmentBatch.newBuilder(generic.get(i).batch()).setVantage(VantageSetting.SERVER)
          .setLocalEndpoints(local.endpoints(generic.get(i).key())).build();
      assertTrue(expected.getLocalEndpoints() != 0, "the server's address is local");
      assertArrayEquals(AvroSerde.segmentBatch().encode(expected), encoded.get(i).value(), "batch " + i);
    }
  }

  @Test
  void varintsAreAvrosForEveryLengthAndSign() throws IOException {
    Random r = new Random(42);
    byte[] buf = new byte[32];
    for (int i = 0; i < 200_000; i++) {
      long v = i < 130 ? i - 65 : r.nextLong() >> r.nextInt(64);
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      BinaryEncoder avro = EncoderFactory.get().directBinaryEncoder(out, null);
      avro.writeLong(v);
      avro.flush();
      int end = SegmentBatchEncoder.putLong(buf, 3, v);
      byte[] ours = java.util.Arrays.copyOfRange(buf, 3, end);
      assertArrayEquals(out.toByteArray(), ours, "value " + v);
    }
    for (long v : new long[] {Long.MIN_VALUE, Long.MAX_VALUE, Integer.MIN_VALUE, Integer.MAX_VALUE, 0xFFFFFFFFL}) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      BinaryEncoder avro = EncoderFactory.get().directBinaryEncoder(out, null);
      avro.writeLong(v);
      avro.flush();
      int end = SegmentBatchEncoder.putLong(buf, 0, v);
      assertArrayEquals(out.toByteArray(), java.util.Arrays.copyOf(buf, end), "value " + v);
    }
  }

  @Test
  void recycledBuffersCarryNothingOver() throws Exception {
    // two batches of one connection, the second opened on the first one's recycled buffer
    List<Encoded> encoded = new ArrayList<>();
    SegmentBatchEncoder enc = new SegmentBatchEncoder((k, v, ts, n, bytes) -> encoded.add(new Encoded(k, v, ts, n, bytes)));
    CaptureStats stats = new CaptureStats();
    SegmentBatcher b = new SegmentBatcher("a", enc, stats, SegmentBatcher.Options.defaults());
    DecodedPacket p = new DecodedPacket();
    long t = 1_700_000_000_000_000_000L;
    byte[] f1 = ipv4("10.0.0.2", "10.0.0.1", 6, tcp(4000, 6379, 1, 1, PSH | ACK | FIN, 100, ascii("x".repeat(500))));
    byte[] f2 = ipv4("10.0.0.2", "10.0.0.1", 6, tcp(4001, 6379, 1, 1, PSH | ACK | FIN, 100, ascii("y")));
    assertNull(PacketDecoder.decode(LinkType.RAW, f1, 0, f1.length, f1.length, p));
    b.accept(p, t, f1.length, 1);
    assertNull(PacketDecoder.decode(LinkType.RAW, f2, 0, f2.length, f2.length, p));
    b.accept(p, t + 5, f2.length, 2);
    assertEquals(2, encoded.size());
    SegmentBatch second = AvroSerde.segmentBatch().decode(encoded.get(1).value());
    assertEquals(1, second.getSegments().size());
    assertEquals(1, second.getSegments().get(0).getPayload().remaining());
    assertEquals(t + 5, second.getSegments().get(0).getTsNs());
    assertEquals(1, encoded.get(1).payloadBytes());
    assertEquals(Math.floorDiv(t + 5, 1_000_000L), encoded.get(1).timestampMs());
  }
}
