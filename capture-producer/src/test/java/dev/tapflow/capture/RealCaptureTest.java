package dev.tapflow.capture;

import static org.junit.jupiter.api.Assertions.*;

import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.Segment;
import java.io.ByteArrayOutputStream;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real redis-cli session captured by tcpdump on loopback
 * ({@code scripts/capture-redis-cli-fixture.sh}): one connection per line of
 * {@code redis-cli-session.txt}. The truth is an independent plain-Java reading of the file
 * and the RESP encoding of the commands, not hand-typed numbers.
 */
class RealCaptureTest {
  @TempDir Path dir;

  static Path resource(String name) throws URISyntaxException {
    return Path.of(RealCaptureTest.class.getResource("/pcap/" + name).toURI());
  }

  /** What redis-cli sends for one command line: a RESP array of bulk strings. */
  static String resp(String line) {
    String[] args = line.trim().split(" ");
    StringBuilder sb = new StringBuilder("*" + args.length + "\r\n");
    for (String a : args) {
      sb.append('$').append(a.length()).append("\r\n").append(a).append("\r\n");
    }
    return sb.toString();
  }

  static final List<String> REPLIES = List.of("+PONG\r\n", "+OK\r\n", "$5\r\nhello\r\n", ":1\r\n", ":2\r\n");

  @Test
  void libpcapAgreesWithAPlainReaderOnEveryFrame() throws Exception {
    for (String name : List.of("redis-cli-session.nanos.pcap", "redis-cli-session.micros.pcap")) {
      Path file = resource(name);
      List<TestPcap.Frame> truth = TestPcap.readPcap(file);
      List<TestPcap.Frame> got = PcapFileReaderTest.readAll(file);
      assertEquals(truth.size(), got.size(), name);
      for (int i = 0; i < truth.size(); i++) {
        assertEquals(truth.get(i).tsNs(), got.get(i).tsNs(), name + " #" + i);
        assertEquals(truth.get(i).wireLen(), got.get(i).wireLen(), name + " #" + i);
        assertArrayEquals(truth.get(i).data(), got.get(i).data(), name + " #" + i);
      }
    }
    // the nanosecond file really has sub-microsecond digits, the microsecond one has none
    assertTrue(TestPcap.readPcap(resource("redis-cli-session.nanos.pcap")).stream().anyMatch(f -> f.tsNs() % 1000 != 0));
    assertTrue(TestPcap.readPcap(resource("redis-cli-session.micros.pcap")).stream().allMatch(f -> f.tsNs() % 1000 == 0));
  }

  @Test
  void theSameCaptureAsPcapng() throws Exception {
    List<TestPcap.Frame> truth = TestPcap.readPcap(resource("redis-cli-session.nanos.pcap"));
    TestPcap.Writer w = TestPcap.pcapng(TestPcap.pcapLinkType(resource("redis-cli-session.nanos.pcap")), true);
    truth.forEach(f -> w.add(f.tsNs(), f.data()));
    List<TestPcap.Frame> got = PcapFileReaderTest.readAll(w.write(dir.resolve("session.pcapng")));
    assertEquals(truth.size(), got.size());
    for (int i = 0; i < truth.size(); i++) {
      assertEquals(truth.get(i).tsNs(), got.get(i).tsNs());
      assertArrayEquals(truth.get(i).data(), got.get(i).data());
    }
  }

  @Test
  void everyRequestAndReplyOfTheSession() throws Exception {
    for (String name : List.of("redis-cli-session.nanos.pcap", "redis-cli-session.micros.pcap")) {
      Path file = resource(name);
      List<TestPcap.Frame> truth = TestPcap.readPcap(file);
      List<String> commands = Files.readAllLines(resource("redis-cli-session.txt"));

      Map<ConnectionKey, List<Segment>> byConnection = new LinkedHashMap<>();
      CaptureStats stats = new CaptureFileImporter().importFile(file, CaptureFileImporter.defaultAgentId(file),
          (key, batch) -> byConnection.computeIfAbsent(key, k -> new ArrayList<>()).addAll(batch.getSegments()));

      assertEquals(LinkType.EN10MB, stats.linkType(), "tcpdump on lo writes Ethernet");
      assertEquals(truth.size(), stats.packets());
      assertEquals(truth.get(0).tsNs(), stats.firstTsNs());
      assertEquals(truth.get(truth.size() - 1).tsNs(), stats.lastTsNs());
      assertEquals(commands.size(), byConnection.size(), name);
      // per connection: SYN, SYN-ACK, request, reply, FIN, FIN; the other four are pure ACKs
      assertEquals(6L * commands.size(), stats.segments());
      assertEquals(4L * commands.size(), stats.skipped(SkipReason.PURE_ACK));
      assertEquals(stats.packets(), stats.segments() + stats.skippedTotal());
      assertEquals(2L * commands.size(), stats.batches(), "flushed at each FIN");

      int i = 0;
      Integer serverPort = null;
      for (Map.Entry<ConnectionKey, List<Segment>> e : byConnection.entrySet()) {
        ConnectionKey k = e.getKey();
        assertEquals(name.substring(0, name.length() - ".pcap".length()), k.getAgent(), "agent: the file stem");
        assertEquals(ByteBuffer.wrap(new byte[] {127, 0, 0, 1}), k.getIpA());
        assertEquals(ByteBuffer.wrap(new byte[] {127, 0, 0, 1}), k.getIpB());
        assertTrue(k.getPortA() < k.getPortB(), "same address: the lower port is a");
        if (serverPort == null) {
          serverPort = k.getPortA();
        }
        assertEquals(serverPort, k.getPortA(), "the server (a) is the same for every connection");
        ByteArrayOutputStream toServer = new ByteArrayOutputStream();
        ByteArrayOutputStream toClient = new ByteArrayOutputStream();
        List<Segment> segs = e.getValue();
        assertEquals(0x02, segs.get(0).getFlags(), "SYN first");
        assertFalse(segs.get(0).getAToB(), "from the client (b)");
        long prevNo = 0;
        for (Segment s : segs) {
          assertTrue(s.getPacketNo() > prevNo, "capture order");
          prevNo = s.getPacketNo();
          TestPcap.Frame f = truth.get((int) s.getPacketNo() - 1);
          assertEquals(f.tsNs(), s.getTsNs());
          assertEquals(f.wireLen(), s.getWireLen());
          byte[] p = new byte[s.getPayload().remaining()];
          s.getPayload().duplicate().get(p);
          assertEquals(s.getPayloadLen(), p.length);
          (s.getAToB() ? toClient : toServer).writeBytes(p);
        }
        assertEquals(resp(commands.get(i)), toServer.toString(StandardCharsets.ISO_8859_1), name + " request " + i);
        assertEquals(REPLIES.get(i), toClient.toString(StandardCharsets.ISO_8859_1), name + " reply " + i);
        i++;
      }
    }
  }
}
