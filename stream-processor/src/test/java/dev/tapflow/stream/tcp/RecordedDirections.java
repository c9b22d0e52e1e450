package dev.tapflow.stream.tcp;

import dev.tapflow.capture.CaptureFileException;
import dev.tapflow.capture.CaptureFileImporter;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.SegmentBatch;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Test-only: each direction of each TCP connection of a clean capture, read the way the
 * capture agent publishes it ({@link CaptureFileImporter}: libpcap, the packet decoder, the
 * segment batcher), with the byte stream it carries. Clean means what the fixtures under
 * {@code pcap/redis/} promise: a SYN per direction, no bytes missing, retransmits (if any)
 * identical to the first copy. Anything else fails the read, naming the direction.
 */
final class RecordedDirections {

  private static final long SEQ_MASK = 0xffffffffL;

  private RecordedDirections() {}

  /** One captured segment of a direction: what {@link StreamReassembler#segment} takes. */
  record Segment(long tsNs, long seq, boolean syn, boolean fin, byte[] payload) {}

  /**
   * One direction: its SYN, data and FIN segments in capture order, and the stream they carry.
   *
   * @param baseSeq sequence number of stream offset 0 (the SYN's plus one)
   * @param stream  every byte the direction sent, by stream offset
   */
  record Direction(String name, List<Segment> segments, long baseSeq, byte[] stream) {
    /** Stream offset of a data segment's first byte. */
    long offsetOf(Segment s) {
      return (s.seq() - baseSeq) & SEQ_MASK;
    }
  }

  /** The directions of {@code pcap} that carry at least one byte. */
  static List<Direction> read(Path pcap) throws CaptureFileException {
    Map<String, List<Segment>> byDirection = new LinkedHashMap<>();
    new CaptureFileImporter().importFile(pcap, "fixture", (ConnectionKey key, SegmentBatch batch) -> {
      for (dev.tapflow.schemas.Segment s : batch.getSegments()) {
        String name = pcap.getFileName() + " " + (s.getAToB()
            ? endpoint(key.getIpA(), key.getPortA()) + ">" + endpoint(key.getIpB(), key.getPortB())
            : endpoint(key.getIpB(), key.getPortB()) + ">" + endpoint(key.getIpA(), key.getPortA()));
        ByteBuffer p = s.getPayload().duplicate();
        byte[] payload = new byte[p.remaining()];
        p.get(payload);
        boolean syn = (s.getFlags() & ConnectionTracker.SYN) != 0;
        boolean fin = (s.getFlags() & ConnectionTracker.FIN) != 0;
        if (syn || fin || payload.length > 0) {
          byDirection.computeIfAbsent(name, k -> new ArrayList<>())
              .add(new Segment(s.getTsNs(), s.getSeq(), syn, fin, payload));
        }
      }
    });
    List<Direction> out = new ArrayList<>();
    byDirection.forEach((name, segments) -> {
      Direction d = direction(name, segments);
      if (d.stream().length > 0) {
        out.add(d);
      }
    });
    return out;
  }

  private static Direction direction(String name, List<Segment> segments) {
    Segment syn = segments.get(0);
    if (!syn.syn()) {
      throw new IllegalStateException(name + ": the capture does not start with the SYN");
    }
    long baseSeq = (syn.seq() + 1) & SEQ_MASK;
    long length = 0;
    for (Segment s : segments) {
      if (!s.syn()) {
        length = Math.max(length, ((s.seq() - baseSeq) & SEQ_MASK) + s.payload().length);
      }
    }
    byte[] stream = new byte[Math.toIntExact(length)];
    boolean[] seen = new boolean[stream.length];
    for (Segment s : segments) {
      if (s.syn()) {
        continue;
      }
      int offset = (int) ((s.seq() - baseSeq) & SEQ_MASK);
      for (int i = 0; i < s.payload().length; i++) {
        if (seen[offset + i] && stream[offset + i] != s.payload()[i]) {
          throw new IllegalStateException(name + ": a retransmit differs at stream offset " + (offset + i));
        }
        stream[offset + i] = s.payload()[i];
        seen[offset + i] = true;
      }
    }
    for (int i = 0; i < seen.length; i++) {
      if (!seen[i]) {
        throw new IllegalStateException(name + ": stream offset " + i + " was never captured");
      }
    }
    return new Direction(name, List.copyOf(segments), baseSeq, stream);
  }

  private static String endpoint(ByteBuffer ip, int port) {
    byte[] b = new byte[ip.remaining()];
    ip.duplicate().get(b);
    try {
      return InetAddress.getByAddress(b).getHostAddress() + ":" + port;
    } catch (UnknownHostException e) {
      throw new IllegalStateException(e); // only for a length other than 4 or 16
    }
  }
}
