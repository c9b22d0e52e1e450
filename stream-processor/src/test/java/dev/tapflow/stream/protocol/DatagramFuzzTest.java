package dev.tapflow.stream.protocol;

import dev.tapflow.protocol.api.DatagramProtocol;
import dev.tapflow.protocol.api.DatagramSession;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.stream.protocol.dns.DnsProtocol;
import dev.tapflow.stream.protocol.memcached.MemcachedProtocol;
import dev.tapflow.stream.protocol.testing.DatagramFeeder;
import dev.tapflow.stream.protocol.testing.PcapPayloads;
import dev.tapflow.stream.protocol.testing.SessionRecording;
import dev.tapflow.stream.testing.PropertyCheck;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Robustness of the DNS decoder and the memcached UDP framing, without a fuzzing engine:
 * real messages (the fixture captures' datagrams) mutated at random — bytes flipped, cut,
 * extended, spliced, counts and lengths set to extremes, compression pointers aimed at
 * themselves — fed as datagrams to both protocols' UDP sessions and, length-prefixed and cut
 * at random, to the DNS TCP session. Nothing may throw; pending requests stay within the
 * limit; the state read back is the state written; after close nothing is pending.
 * Failures print a seed: {@code -Dtapflow.seed=...} replays it.
 */
class DatagramFuzzTest {

  private static final Path FIXTURES = Path.of("src/test/resources/pcap");
  private static final SessionLimits SMALL = new SessionLimits(8, 1 << 20, 64, 8, 1024, 64);
  private static final DnsProtocol DNS = new DnsProtocol();
  private static final MemcachedProtocol MEMCACHED = new MemcachedProtocol();
  private static List<byte[]> seeds;

  /** One datagram of a case: who sent it and its bytes. */
  record Datagram(boolean client, byte[] bytes) {
    @Override
    public String toString() {
      return (client ? "c:" : "s:") + HexFormat.of().formatHex(bytes);
    }
  }

  @BeforeAll
  static void readSeeds() throws IOException {
    seeds = new ArrayList<>();
    seeds.addAll(PcapPayloads.udpPayloads(FIXTURES.resolve("dns/dns.pcap")));
    seeds.addAll(PcapPayloads.udpPayloads(FIXTURES.resolve("memcached-udp/memcached-udp.pcap")));
    assertTrue(seeds.size() > 40, "datagrams in the fixtures: " + seeds.size());
  }

  private static List<Datagram> generate(SplittableRandom r) {
    List<Datagram> out = new ArrayList<>();
    int n = 1 + r.nextInt(12);
    for (int i = 0; i < n; i++) {
      byte[] b = seeds.get(r.nextInt(seeds.size())).clone();
      int mutations = r.nextInt(4);
      for (int m = 0; m < mutations; m++) {
        b = mutate(b, r);
      }
      out.add(new Datagram(r.nextBoolean(), b));
    }
    return out;
  }

  private static byte[] mutate(byte[] b, SplittableRandom r) {
    switch (r.nextInt(7)) {
      case 0 -> { // flip bytes
        for (int k = 0; k < 1 + r.nextInt(4) && b.length > 0; k++) {
          b[r.nextInt(b.length)] = (byte) r.nextInt(256);
        }
        return b;
      }
      case 1 -> { // cut
        return Arrays.copyOf(b, b.length == 0 ? 0 : r.nextInt(b.length));
      }
      case 2 -> { // extend with random bytes
        byte[] x = Arrays.copyOf(b, b.length + 1 + r.nextInt(64));
        for (int k = b.length; k < x.length; k++) {
          x[k] = (byte) r.nextInt(256);
        }
        return x;
      }
      case 3 -> { // splice another message in
        byte[] other = seeds.get(r.nextInt(seeds.size()));
        int at = b.length == 0 ? 0 : r.nextInt(b.length);
        byte[] x = Arrays.copyOf(b, at + other.length);
        System.arraycopy(other, 0, x, at, other.length);
        return x;
      }
      case 4 -> { // a 16-bit field (DNS counts, memcached sequence/total/lengths) to an extreme
        if (b.length >= 2) {
          int at = r.nextInt(Math.min(b.length - 1, 16));
          int v = r.nextBoolean() ? 0xffff : r.nextInt(3);
          b[at] = (byte) (v >> 8);
          b[at + 1] = (byte) v;
        }
        return b;
      }
      case 5 -> { // a compression pointer to itself
        if (b.length >= 14) {
          int at = 12 + r.nextInt(b.length - 13);
          b[at] = (byte) (0xc0 | (at >> 8));
          b[at + 1] = (byte) at;
        }
        return b;
      }
      default -> { // a random datagram
        byte[] x = new byte[r.nextInt(80)];
        for (int k = 0; k < x.length; k++) {
          x[k] = (byte) r.nextInt(256);
        }
        return x;
      }
    }
  }

  private static List<List<Datagram>> shrink(List<Datagram> c) {
    List<List<Datagram>> out = new ArrayList<>();
    for (int i = 0; i < c.size(); i++) {
      List<Datagram> fewer = new ArrayList<>(c);
      fewer.remove(i);
      out.add(fewer);
    }
    return out;
  }

  @Test
  void udpSessionsSurviveMutatedDatagrams() {
    PropertyCheck.forAll(3000, DatagramFuzzTest::generate, DatagramFuzzTest::shrink, c -> {
      for (DatagramProtocol p : List.of(DNS, MEMCACHED)) {
        SessionRecording out = new SessionRecording();
        DatagramSession s = p.newDatagramSession(SMALL);
        long ts = 0;
        long packet = 0;
        for (Datagram d : c) {
          ts += 1000;
          p.probeDatagram(d.bytes(), 0, d.bytes().length);
          if (d.client()) {
            s.clientDatagram(d.bytes(), 0, d.bytes().length, ++packet, packet % 5 == 0, ts, out);
          } else {
            s.serverDatagram(d.bytes(), 0, d.bytes().length, ++packet, packet % 5 == 0, ts, out);
          }
          assertTrue(s.pendingRequests() <= SMALL.maxPendingRequests(), p.name() + " pending " + s.pendingRequests());
          s = DatagramFeeder.roundTrip(s, p, SMALL);
        }
        s.expire(ts / 2, out);
        s.close(ts, out);
        assertEquals(0, s.pendingRequests(), p.name());
        sane(out);
      }
    });
  }

  @Test
  void theDnsTcpSessionSurvivesMutatedStreamsCutAnywhere() {
    PropertyCheck.forAll(1500, r -> {
      List<Datagram> c = generate(r);
      // a length prefix from the message's real length, or (sometimes) a wrong one
      List<Datagram> framed = new ArrayList<>();
      for (Datagram d : c) {
        int len = r.nextInt(8) == 0 ? r.nextInt(65536) : d.bytes().length;
        byte[] x = new byte[d.bytes().length + 2];
        x[0] = (byte) (len >> 8);
        x[1] = (byte) len;
        System.arraycopy(d.bytes(), 0, x, 2, d.bytes().length);
        framed.add(new Datagram(d.client(), x));
      }
      return framed;
    }, DatagramFuzzTest::shrink, c -> {
      SessionRecording out = new SessionRecording();
      ProtocolSession s = DNS.newSession(SMALL);
      long[] offsets = new long[2];
      long ts = 0;
      SplittableRandom cuts = new SplittableRandom(c.size());
      for (Datagram d : c) {
        ts += 1000;
        byte[] b = d.bytes();
        int side = d.client() ? 0 : 1;
        DNS.probe(b, 0, b.length);
        for (int at = 0; at < b.length; ) {
          int n = Math.min(b.length - at, 1 + cuts.nextInt(40));
          if (cuts.nextInt(50) == 0) {
            s.gap(d.client(), offsets[side], n, ts, out); // these bytes were not captured
          } else if (d.client()) {
            s.clientData(b, at, n, offsets[side], ts, out);
          } else {
            s.serverData(b, at, n, offsets[side], ts, out);
          }
          offsets[side] += n;
          at += n;
          s = roundTrip(s);
        }
        assertTrue(s.pendingRequests() <= SMALL.maxPendingRequests());
      }
      s.close(ts, out);
      assertEquals(0, s.pendingRequests());
      sane(out);
    });
  }

  private static void sane(SessionRecording out) {
    for (Exchange e : out.exchanges) {
      assertTrue(e.command() != null && !e.command().isEmpty(), e.toString());
      assertTrue(e.requestFirstNs() <= e.requestLastNs(), e.toString());
      assertTrue(!e.hasResponse() || e.responseFirstNs() <= e.responseLastNs(), e.toString());
      assertTrue(e.detail().size() <= 8, e.toString());
    }
    for (SessionRecording.Anomaly a : out.anomalies) {
      assertTrue(a.detail() == null || a.detail().length() <= 512, a.toString());
    }
  }

  private static ProtocolSession roundTrip(ProtocolSession s) {
    byte[] state = bytes(s::writeTo);
    try {
      ProtocolSession back = DNS.readSession(new DataInputStream(new ByteArrayInputStream(state)), SMALL);
      assertArrayEquals(state, bytes(back::writeTo), "state read back");
      return back;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private interface Writer {
    void writeTo(java.io.DataOutput out) throws IOException;
  }

  private static byte[] bytes(Writer w) {
    try {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      w.writeTo(new DataOutputStream(b));
      return b.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
