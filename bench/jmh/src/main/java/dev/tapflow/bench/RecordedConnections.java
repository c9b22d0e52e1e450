package dev.tapflow.bench;

import dev.tapflow.capture.CaptureFileException;
import dev.tapflow.capture.CaptureFileImporter;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.Segment;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The TCP connections of a capture file as the capture agent publishes them
 * ({@link CaptureFileImporter}: libpcap, the packet decoder, the segment batcher): each
 * connection's segments in capture order, both directions. Read once, before measuring.
 */
public final class RecordedConnections {

  private RecordedConnections() {}

  /** One connection: its key and its segments (SYN, FIN, RST and data; no pure ACKs). */
  public record Connection(ConnectionKey key, List<Segment> segments) {}

  public static List<Connection> read(Path pcap) throws CaptureFileException {
    Map<ConnectionKey, List<Segment>> byKey = new LinkedHashMap<>();
    new CaptureFileImporter().importFile(pcap, CaptureFileImporter.defaultAgentId(pcap),
        (key, batch) -> byKey.computeIfAbsent(key, k -> new ArrayList<>()).addAll(batch.getSegments()));
    List<Connection> out = new ArrayList<>();
    byKey.forEach((k, v) -> out.add(new Connection(k, v)));
    return out;
  }

  public static byte[] bytes(ByteBuffer buf) {
    byte[] b = new byte[buf.remaining()];
    buf.duplicate().get(b);
    return b;
  }
}
