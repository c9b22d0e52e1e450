package dev.tapflow.capture;

import static org.junit.jupiter.api.Assertions.*;

import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.Segment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Real IP fragments: large UDP datagrams sent over IPv4 and IPv6 loopback with a 1500-byte MTU
 * and captured by tcpdump ({@code scripts/capture-udp-fragments.sh}). The truth is what the
 * script sent and its receiver got whole ({@code udp-fragments.truth.tsv}), and the frames as
 * a plain-Java pcap reader sees them, not our decoder.
 */
class UdpFragmentsCaptureTest {
  record Sent(int n, int ipVersion, int srcPort, int dstPort, int bytes, String extHeaders, String sha256) {}

  static List<Sent> truth() throws Exception {
    List<Sent> rows = new ArrayList<>();
    for (String line : Files.readAllLines(RealCaptureTest.resource("udp-fragments.truth.tsv"))) {
      if (line.startsWith("#") || line.startsWith("family\t")) {
        continue;
      }
      String[] f = line.split("\t");
      rows.add(new Sent(rows.size() + 1, f[0].equals("ipv6") ? 6 : 4, Integer.parseInt(f[1]), Integer.parseInt(f[2]),
          Integer.parseInt(f[3]), f[4], f[5]));
    }
    return rows;
  }

  /** The script's payload rule: "tapflow udp-fragments #n size bytes|" repeated, cut to size. */
  static byte[] expectedPayload(Sent s) {
    byte[] unit = ("tapflow udp-fragments #" + s.n() + " " + s.bytes() + " bytes|").getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[s.bytes()];
    for (int i = 0; i < out.length; i++) {
      out[i] = unit[i % unit.length];
    }
    return out;
  }

  @Test
  void everyDatagramIsReassembledWithTheBytesSent() throws Exception {
    Path file = RealCaptureTest.resource("udp-fragments.pcap");
    List<TestPcap.Frame> frames = TestPcap.readPcap(file);
    List<Sent> sent = truth();
    assertEquals(7, sent.size());

    Map<ConnectionKey, List<Segment>> byConnection = new LinkedHashMap<>();
    CaptureStats stats = new CaptureFileImporter().importFile(file, "frag",
        (key, batch) -> byConnection.computeIfAbsent(key, k -> new ArrayList<>()).addAll(batch.getSegments()));

    assertEquals(frames.size(), stats.packets());
    assertEquals(sent.size(), stats.segments(), stats.toString());
    assertEquals(stats.packets(), stats.segments() + stats.skippedTotal());
    long fragmented = sent.stream().filter(s -> s.bytes() > 1400).count();
    assertEquals(5, fragmented);
    // everything in the capture is a datagram sent: the unfragmented ones are 1 frame, the rest fragments
    assertEquals(frames.size() - (sent.size() - fragmented), stats.fragmentEvents(FragmentEvent.FRAGMENTS));
    assertEquals(fragmented, stats.fragmentEvents(FragmentEvent.REASSEMBLED));
    assertEquals(Set.of(FragmentEvent.FRAGMENTS, FragmentEvent.REASSEMBLED), stats.fragmentEventsByKind().keySet(),
        "nothing dropped, evicted or left over: " + stats);
    assertEquals(Set.of(SkipReason.IPV4_FRAGMENT, SkipReason.IPV6_FRAGMENT), stats.skippedByReason().keySet());

    assertEquals(sent.size(), byConnection.size(), "one source port per datagram");
    MessageDigest sha = MessageDigest.getInstance("SHA-256");
    long prevPacketNo = 0;
    int i = 0;
    for (Map.Entry<ConnectionKey, List<Segment>> e : byConnection.entrySet()) {
      Sent s = sent.get(i++);
      ConnectionKey k = e.getKey();
      assertEquals(s.ipVersion() == 6 ? 16 : 4, k.getIpA().remaining(), "datagram " + s.n());
      assertEquals(Set.of(s.srcPort(), s.dstPort()), Set.of(k.getPortA(), k.getPortB()), "datagram " + s.n());
      assertEquals(1, e.getValue().size(), "datagram " + s.n());
      Segment seg = e.getValue().get(0);
      byte[] payload = new byte[seg.getPayload().remaining()];
      seg.getPayload().duplicate().get(payload);
      assertEquals(s.bytes(), seg.getPayloadLen(), "datagram " + s.n());
      assertEquals(s.sha256(), HexFormat.of().formatHex(sha.digest(payload)), "datagram " + s.n());
      assertArrayEquals(expectedPayload(s), payload, "datagram " + s.n());

      // it is published at its last fragment, with that fragment's time and all its frames' wire bytes
      TestPcap.Frame last = frames.get((int) seg.getPacketNo() - 1);
      assertEquals(last.tsNs(), seg.getTsNs(), "datagram " + s.n());
      long wire = 0;
      for (long no = prevPacketNo + 1; no <= seg.getPacketNo(); no++) {
        wire += frames.get((int) no - 1).wireLen();
      }
      assertEquals(wire, seg.getWireLen(), "datagram " + s.n());
      assertEquals(s.bytes() > 1400, seg.getPacketNo() - prevPacketNo > 1, "datagram " + s.n() + " fragmented?");
      prevPacketNo = seg.getPacketNo();
    }
    assertEquals(frames.size(), prevPacketNo);
    assertTrue(sent.stream().anyMatch(s -> s.extHeaders().equals("hopopts") && s.bytes() > 1400),
        "one IPv6 datagram has a hop-by-hop header before its fragment header");
  }
}
