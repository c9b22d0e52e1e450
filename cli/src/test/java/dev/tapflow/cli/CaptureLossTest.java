package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A capture that lost packets (the network delivered them, the capture did not see them:
 * what kernel drops do), made from a real fixture by deleting every n-th packet with
 * payload. The full capture's facts are the truth (FixtureTruthTest proves them against
 * tcpdump's packet times and commandstats). On the lossy copy:
 * <ul>
 *   <li>every request whose bytes all remain is exactly one fact, at the same offset;
 *   <li>no fact is made up: each names a request of the full capture, same command;
 *   <li>no mis-paired latency: a fact answered without a gap flag on its response has the
 *       full capture's response time, and without a gap flag on its request its request times;
 *   <li>each request that vanished is explained by a client-side {@code TCP_GAP} over its bytes.
 * </ul>
 */
class CaptureLossTest {

  private static final Path FIXTURES =
      Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "redis");
  private static final Pattern GAP_LENGTH = Pattern.compile("^(\\d+) bytes not captured");

  @ParameterizedTest(name = "{0} without every {1}th packet")
  @CsvSource({"benchmark-pipelined, 7", "benchmark-pipelined, 23", "benchmark-plain, 11", "redis-cli-session, 5"})
  void lostPacketsNeverShiftPairsAndEveryLossIsExplained(String fixture, int every, @TempDir Path tmp) throws Exception {
    Path full = FIXTURES.resolve(fixture + ".pcap");
    Path lossy = tmp.resolve(fixture + "-lossy.pcap");
    int dropped = dropEveryNthDataPacket(full, lossy, every);
    assertTrue(dropped > 0);

    Analyzer analyzer = new Analyzer(ProcessorConfig.defaults());
    Analyzer.Result truth = analyzer.analyze(List.of(full), "agent");
    Analyzer.Result seen = analyzer.analyze(List.of(lossy), "agent");
    Map<String, LatencyFact> truthByKey = new HashMap<>();
    for (LatencyFact f : truth.facts()) {
      truthByKey.put(key(f), f);
    }
    int exact = 0;
    for (LatencyFact f : seen.facts()) {
      LatencyFact t = truthByKey.remove(key(f));
      String id = fixture + " " + WireTruth.describe(f);
      assertTrue(t != null, id + ": a fact the full capture does not have");
      assertEquals(t.getCommand(), f.getCommand(), id);
      if (!f.getRequestGap()) {
        assertEquals(t.getRequestBytes(), f.getRequestBytes(), id);
        assertEquals(t.getRequestLastNs(), f.getRequestLastNs(), id + ": request_last_ns");
      }
      if (f.getStatus() == Status.OK || f.getStatus() == Status.ERROR) {
        assertEquals(t.getResponseFirstNs(), f.getResponseFirstNs(), id + ": response_first_ns (mis-paired?)");
        if (!f.getResponseGap()) {
          assertEquals(t.getResponseLastNs(), f.getResponseLastNs(), id + ": response_last_ns");
          assertEquals(t.getLatencyNs(), f.getLatencyNs(), id + ": latency");
          exact++;
        }
      } else if (f.getStatus() == Status.TIMEOUT) {
        assertTrue(f.getResponseGap() || t.getStatus() == Status.TIMEOUT, id + ": unanswered without a reason");
      }
    }
    assertTrue(exact > 0, fixture + ": some pairs survive");
    // what vanished lay in bytes the capture lost, and a gap says so
    List<DecodeError> gaps = seen.collector().errors().stream().filter(e -> e.getName().equals("TCP_GAP")).toList();
    for (LatencyFact missing : truthByKey.values()) {
      String id = fixture + " " + WireTruth.describe(missing) + " vanished";
      long from = missing.getRequestOffset();
      long to = from + missing.getRequestBytes();
      boolean explained = false;
      for (DecodeError g : gaps) {
        if (g.getClientSide() && g.getClientPort() == missing.getClientPort()) {
          Matcher m = GAP_LENGTH.matcher(g.getDetail());
          assertTrue(m.find(), g.getDetail());
          long gapEnd = g.getStreamOffset() + Long.parseLong(m.group(1));
          explained |= g.getStreamOffset() < to && gapEnd > from;
        }
      }
      assertTrue(explained, id + ": no client-side gap over its bytes");
    }
  }

  /** Same request: same connection (client port) and offset in the client stream. */
  private static String key(LatencyFact f) {
    return WireTruth.conn(f) + "@" + f.getRequestOffset();
  }

  /** Copies a classic pcap without every n-th packet that carries TCP payload; returns how many were dropped. */
  static int dropEveryNthDataPacket(Path in, Path out, int n) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(in));
    int magic = b.order(ByteOrder.LITTLE_ENDIAN).getInt(0);
    assertTrue(magic == 0xa1b23c4d || magic == 0xa1b2c3d4, "a little-endian classic pcap");
    int linkType = b.getInt(20);
    assertEquals(1, linkType, "Ethernet");
    List<byte[]> kept = new ArrayList<>();
    kept.add(java.util.Arrays.copyOfRange(b.array(), 0, 24));
    int pos = 24;
    int data = 0;
    int dropped = 0;
    while (pos + 16 <= b.limit()) {
      int caplen = b.getInt(pos + 8);
      int frame = pos + 16;
      boolean payload = tcpPayload(b, frame, caplen) > 0;
      if (payload && ++data % n == 0) {
        dropped++;
      } else {
        kept.add(java.util.Arrays.copyOfRange(b.array(), pos, frame + caplen));
      }
      pos = frame + caplen;
    }
    try (var os = Files.newOutputStream(out)) {
      for (byte[] k : kept) {
        os.write(k);
      }
    }
    return dropped;
  }

  /** TCP payload length of an Ethernet/IPv4 frame, 0 if it is not one. */
  private static int tcpPayload(ByteBuffer b, int frame, int caplen) {
    if (caplen < 54 || (b.get(frame + 12) & 0xff) != 0x08 || b.get(frame + 13) != 0x00) {
      return 0;
    }
    int ip = frame + 14;
    int ihl = (b.get(ip) & 0x0f) * 4;
    if (b.get(ip + 9) != 6) {
      return 0;
    }
    int total = ((b.get(ip + 2) & 0xff) << 8) | (b.get(ip + 3) & 0xff);
    int tcpHeader = ((b.get(ip + ihl + 12) & 0xf0) >> 4) * 4;
    return total - ihl - tcpHeader;
  }
}
