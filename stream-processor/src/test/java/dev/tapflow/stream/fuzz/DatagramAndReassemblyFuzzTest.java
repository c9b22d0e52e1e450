package dev.tapflow.stream.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.tapflow.protocol.api.DatagramProtocol;
import dev.tapflow.protocol.api.DatagramSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import dev.tapflow.stream.protocol.dns.DnsProtocol;
import dev.tapflow.stream.protocol.memcached.MemcachedProtocol;
import dev.tapflow.stream.tcp.ReassemblyLimits;
import dev.tapflow.stream.tcp.StreamReassembler;
import java.io.IOException;

/**
 * Hostile input (Jazzer) for what {@link DecoderFuzzTest} does not reach: the datagram
 * sessions (DNS over UDP, memcached's UDP framing with text and binary inside) and the TCP
 * stream reassembler alone. Committed inputs under {@code DatagramAndReassemblyFuzzTestInputs/}
 * run in every build; {@code JAZZER_FUZZ=1} fuzzes one method.
 */
class DatagramAndReassemblyFuzzTest {

  private static final SessionLimits LIMITS = new SessionLimits(8, 4096, 64, 8, 256, 64);

  private static final SessionOutput CHECKING = new DecoderFuzzTest.Checking();

  @FuzzTest(maxDuration = "10s")
  void dnsDatagrams(FuzzedDataProvider data) throws IOException {
    datagrams(new DnsProtocol(), data);
  }

  @FuzzTest(maxDuration = "10s")
  void memcachedDatagrams(FuzzedDataProvider data) throws IOException {
    datagrams(new MemcachedProtocol(), data);
  }

  /** Datagrams to either side (some cut by the snap length), time passing, expiry and a save/restore. */
  private static void datagrams(DatagramProtocol protocol, FuzzedDataProvider data) throws IOException {
    DatagramSession s = protocol.newDatagramSession(LIMITS);
    long ts = 1_000;
    long position = 0;
    while (data.remainingBytes() > 0) {
      int op = data.consumeInt(0, 7);
      ts += data.consumeInt(0, 1_000_000);
      switch (op) {
        case 0, 1, 2, 3 -> {
          byte[] d = data.consumeBytes(data.consumeInt(0, 600));
          boolean cut = data.consumeInt(0, 7) == 0;
          protocol.probeDatagram(d, 0, d.length);
          if (op < 2) {
            s.clientDatagram(d, 0, d.length, position++, cut, ts, CHECKING);
          } else {
            s.serverDatagram(d, 0, d.length, position++, cut, ts, CHECKING);
          }
        }
        case 4 -> s.expire(ts - data.consumeLong(0, 10_000_000), CHECKING);
        case 5 -> s = StateRoundTrip.check(s, DatagramSession::writeTo, in -> protocol.readDatagramSession(in, LIMITS));
        default -> {
          byte[] text = data.consumeAsciiString(300).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
          s.clientDatagram(text, 0, text.length, position++, false, ts, CHECKING);
        }
      }
      int pending = s.pendingRequests();
      assertTrue(pending <= LIMITS.maxPendingRequests() + 1, () -> "pending " + pending);
    }
    s.close(ts, CHECKING);
    assertEquals(0, s.pendingRequests());
  }

  /** Delivered bytes and gaps tile the stream from offset 0 with no overlap and no hole. */
  private static final class Tiling implements StreamReassembler.Receiver {
    long next;

    @Override
    public void bytes(byte[] buf, int off, int len, long streamOffset, long tsNs) {
      assertEquals(next, streamOffset, "bytes where the stream is");
      assertTrue(len > 0 && off >= 0 && off + len <= buf.length, "slice within its buffer");
      next += len;
    }

    @Override
    public void gap(long streamOffset, long length, long tsNs, StreamReassembler.GapCause cause) {
      assertEquals(next, streamOffset, "gap where the stream is");
      assertTrue(length > 0, "gap of " + length);
      next += length;
    }

    @Override
    public void anomaly(String name, long streamOffset, String detail) {
      assertTrue(name.startsWith("TCP_"), name);
    }
  }

  /** One direction: segments at any sequence numbers, SYN/FIN, snap-length cuts, acks, flush and save/restore. */
  @FuzzTest(maxDuration = "10s")
  void streamReassembler(FuzzedDataProvider data) throws IOException {
    ReassemblyLimits limits = new ReassemblyLimits(4096, 16, 50_000_000L);
    StreamReassembler r = new StreamReassembler();
    Tiling out = new Tiling();
    long seq = data.consumeLong(0, 0xffffffffL);
    long ts = 1_000;
    while (data.remainingBytes() > 0) {
      ts += data.consumeInt(0, 100_000_000);
      int op = data.consumeInt(0, 9);
      if (op == 8) {
        r.acked((seq + data.consumeInt(-3000, 3000)) & 0xffffffffL, ts, out);
      } else if (op == 9) {
        r = StateRoundTrip.check(r, StreamReassembler::writeTo, StreamReassembler::readFrom);
      } else {
        long s = op < 4 ? seq : (seq + data.consumeInt(-5000, 5000)) & 0xffffffffL;
        boolean syn = data.consumeInt(0, 15) == 0;
        boolean fin = data.consumeInt(0, 15) == 0;
        byte[] payload = data.consumeBytes(data.consumeInt(0, 700));
        int wireLen = payload.length + (data.consumeInt(0, 7) == 0 ? data.consumeInt(0, 2000) : 0);
        r.segment(s, syn, fin, payload, wireLen, ts, limits, out);
        seq = (s + wireLen) & 0xffffffffL;
      }
      assertEquals(out.next, r.deliveredOffset(), "delivered offset");
      long buffered = r.bufferedBytes();
      assertTrue(buffered <= limits.maxBufferedBytes(), () -> "buffered " + buffered);
    }
    r.flush(ts, out);
    assertTrue(!r.hasBuffered(), "flush leaves nothing buffered");
  }
}
