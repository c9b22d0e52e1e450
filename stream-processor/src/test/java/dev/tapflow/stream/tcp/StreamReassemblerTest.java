package dev.tapflow.stream.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class StreamReassemblerTest {

  private static final ReassemblyLimits LIMITS = ReassemblyLimits.DEFAULTS;

  /** Records deliveries as text: bytes as "off:text@ts", gaps as "gap off+len". */
  static final class Log implements StreamReassembler.Receiver {
    final List<String> events = new ArrayList<>();
    final ByteArrayOutputStream stream = new ByteArrayOutputStream();

    @Override
    public void bytes(byte[] buf, int off, int len, long streamOffset, long tsNs) {
      events.add(streamOffset + ":" + new String(buf, off, len, StandardCharsets.US_ASCII) + "@" + tsNs);
      stream.write(buf, off, len);
    }

    @Override
    public void gap(long streamOffset, long length, long tsNs, StreamReassembler.GapCause cause) {
      events.add("gap " + streamOffset + "+" + length + " " + cause + "@" + tsNs);
    }

    @Override
    public void anomaly(String name, long streamOffset, String detail) {
      events.add(name + " " + streamOffset);
    }
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  @Test
  void inOrderAfterSyn() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(1000, true, false, new byte[0], 1, LIMITS, log);
    r.segment(1001, false, false, b("hello"), 2, LIMITS, log);
    r.segment(1006, false, false, b("world"), 3, LIMITS, log);
    assertEquals(List.of("0:hello@2", "5:world@3"), log.events);
    assertEquals(1001, r.baseSeq());
  }

  @Test
  void retransmitsAndOverlapsAreTrimmed() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(500, false, false, b("abcd"), 1, LIMITS, log);
    r.segment(500, false, false, b("abcd"), 2, LIMITS, log); // full retransmit
    r.segment(502, false, false, b("cdef"), 3, LIMITS, log); // overlap: only "ef" is new
    assertEquals("abcdef", log.stream.toString(StandardCharsets.US_ASCII));
    assertEquals(6, r.retransmittedBytes());
  }

  @Test
  void outOfOrderWaitsForTheHoleThenUsesTheFillTime() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(0, false, false, b("aa"), 1, LIMITS, log);
    r.segment(4, false, false, b("cc"), 2, LIMITS, log);
    assertEquals(List.of("0:aa@1"), log.events);
    r.segment(2, false, false, b("bb"), 5, LIMITS, log);
    assertEquals(List.of("0:aa@1", "2:bb@5", "4:cc@5"), log.events);
    assertEquals(0, r.gapBytes());
  }

  @Test
  void holeOlderThanTheReorderTimeoutBecomesAGap() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    ReassemblyLimits limits = new ReassemblyLimits(1 << 20, 1024, 100);
    r.segment(0, false, false, b("aa"), 0, limits, log);
    r.segment(10, false, false, b("zz"), 10, limits, log);
    r.segment(12, false, false, b("yy"), 200, limits, log);
    assertEquals(List.of("0:aa@0", "gap 2+8 REORDER_TIMEOUT@200", "10:zz@10", "12:yy@200"), log.events);
    assertEquals(8, r.gapBytes());
  }

  @Test
  void bufferBoundForcesAGap() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    ReassemblyLimits limits = new ReassemblyLimits(4, 1024, Long.MAX_VALUE);
    r.segment(0, false, false, b("a"), 0, limits, log);
    r.segment(5, false, false, b("bbb"), 1, limits, log);
    r.segment(8, false, false, b("cc"), 2, limits, log); // 5 bytes buffered > 4
    assertEquals(List.of("0:a@0", "TCP_BUFFER_LIMIT 1", "gap 1+4 BUFFER_LIMIT@2", "5:bbb@1", "8:cc@2"), log.events);
  }

  @Test
  void sequenceWraparound() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    long nearTop = 0xFFFFFFFEL;
    r.segment(nearTop, false, false, b("abcd"), 1, LIMITS, log); // bytes at ...FE, FF, 0, 1
    r.segment(2, false, false, b("ef"), 2, LIMITS, log);
    r.segment(nearTop, false, false, b("ab"), 3, LIMITS, log); // old retransmit across the wrap
    assertEquals("abcdef", log.stream.toString(StandardCharsets.US_ASCII));
    assertEquals(2, r.seqOf(4));
  }

  @Test
  void synDataAndFin() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(99, true, false, b("tfo"), 1, LIMITS, log); // TCP Fast Open: data on the SYN
    r.segment(103, false, true, b("!"), 2, LIMITS, log);
    assertEquals(List.of("0:tfo@1", "3:!@2"), log.events);
    assertTrue(r.finished());
  }

  @Test
  void flushDeclaresRemainingHoles() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(0, false, false, b("a"), 0, LIMITS, log);
    r.segment(3, false, false, b("d"), 1, LIMITS, log);
    r.flush(9, log);
    assertEquals(List.of("0:a@0", "gap 1+2 STREAM_END@9", "3:d@1"), log.events);
  }

  @Test
  void stateRoundTripKeepsBufferedSegments() throws IOException {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(0, false, false, b("aa"), 1, LIMITS, log);
    r.segment(4, false, false, b("cc"), 2, LIMITS, log);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    r.writeTo(new DataOutputStream(bytes));
    StreamReassembler restored = StreamReassembler.readFrom(
        new DataInputStream(new ByteArrayInputStream(bytes.toByteArray())));
    restored.segment(2, false, false, b("bb"), 3, LIMITS, log);
    assertArrayEquals(b("aabbcc"), log.stream.toByteArray());
  }

  @Test
  void bytesAckedByThePeerButNeverCapturedAreAGapAtOnce() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(100, false, false, b("aa"), 1, LIMITS, log);
    r.segment(106, false, false, b("dd"), 2, LIMITS, log); // 102..105 lost by the capture
    r.acked(104, 3, log); // the peer has 102..103: a gap now; 104..105 are still possible in flight
    assertEquals(List.of("0:aa@1", "gap 2+2 ACKED_NOT_CAPTURED@3"), log.events);
    r.acked(108, 4, log); // and now everything: the rest of the hole is a gap, "dd" keeps its time
    assertEquals(List.of("0:aa@1", "gap 2+2 ACKED_NOT_CAPTURED@3", "gap 4+2 ACKED_NOT_CAPTURED@4", "6:dd@2"),
        log.events);
    r.acked(50, 5, log); // an old ack changes nothing
    r.acked(108, 5, log);
    assertEquals(4, log.events.size());
    assertEquals(4, r.gapBytes());
  }

  @Test
  void ackOfTheFinIsNotAByte() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(0, false, true, b("bye"), 1, LIMITS, log);
    r.acked(4, 2, log); // FIN consumed seq 3
    assertEquals(List.of("0:bye@1"), log.events);
    assertTrue(r.finished());
  }

  @Test
  void overlappingOutOfOrderSegmentsKeepTheFirstCaptureAndReportConflicts() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(0, false, false, b("0"), 1, LIMITS, log);
    r.segment(4, false, false, b("4567"), 2, LIMITS, log);
    r.segment(2, false, false, b("23X5"), 3, LIMITS, log); // overlaps 4..5 with a different byte at 4
    r.segment(6, false, false, b("6789"), 4, LIMITS, log); // overlaps 6..7, same bytes; 8..9 new
    assertEquals(List.of("0:0@1", "TCP_OVERLAP_CONFLICT 4"), log.events);
    r.segment(1, false, false, b("1"), 5, LIMITS, log);
    assertEquals("0123456789", log.stream.toString(StandardCharsets.US_ASCII));
    assertEquals(4, r.retransmittedBytes());
    assertEquals(0, r.bufferedBytes());
  }

  @Test
  void inOrderBytesRetireBufferedPiecesTheyCover() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(0, false, false, b("ab"), 1, LIMITS, log);
    r.segment(4, false, false, b("ef"), 2, LIMITS, log);
    r.segment(2, false, false, b("cdeXg"), 3, LIMITS, log); // covers the buffered "ef" (conflict at 5)
    assertEquals(List.of("0:ab@1", "TCP_OVERLAP_CONFLICT 5", "2:cdeXg@3"), log.events);
    assertEquals(0, r.bufferedBytes());
    assertTrue(!r.hasBuffered());
  }

  @Test
  void snapLengthCutTailsAreGaps() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(0, false, false, b("abc"), 6, 1, LIMITS, log); // 6 on the wire, 3 captured
    r.segment(10, false, false, b("k"), 2, 2, LIMITS, log); // out of order, 1 of 2 captured
    r.segment(6, false, false, b("ghij"), 3, LIMITS, log);
    assertEquals(List.of("0:abc@1", "gap 3+3 SNAPLEN@1", "6:ghij@3", "10:k@3", "gap 11+1 SNAPLEN@3"), log.events);
    assertEquals(12, r.deliveredOffset());
  }

  @Test
  void keepAlivesAndZeroWindowProbesAreNotData() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(1000, true, false, new byte[0], 1, LIMITS, log);
    r.segment(1001, false, false, b("abc"), 2, LIMITS, log);
    r.segment(1003, false, false, b("c"), 3, LIMITS, log); // keep-alive: one old byte at seq - 1
    r.segment(1003, false, false, new byte[0], 4, LIMITS, log); // keep-alive without data
    r.segment(1004, false, false, b("d"), 5, LIMITS, log); // zero-window probe: the next byte, later sent again
    r.segment(1004, false, false, b("def"), 6, LIMITS, log);
    assertEquals("abcdef", log.stream.toString(StandardCharsets.US_ASCII));
    assertEquals(0, r.gapBytes());
  }

  @Test
  void aSegmentImplausiblyFarAheadIsDroppedAndNamed() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(0, false, false, b("a"), 1, LIMITS, log);
    r.segment(0x7000_0000L, false, false, b("zz"), 2, LIMITS, log);
    assertEquals(List.of("0:a@1", "TCP_SEQ_OUT_OF_WINDOW 1"), log.events);
    assertTrue(!r.hasBuffered());
  }

  @Test
  void idleStateIsSmall() throws IOException {
    StreamReassembler r = new StreamReassembler();
    r.segment(7, false, false, b("abc"), 1, LIMITS, new Log());
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    r.writeTo(new DataOutputStream(bytes));
    assertTrue(bytes.size() <= 48, "idle direction state " + bytes.size() + " bytes");
  }

  @Test
  void bytesLostBeforeACapturedFinAreAGapAtTheEnd() {
    StreamReassembler r = new StreamReassembler();
    Log log = new Log();
    r.segment(0, false, false, b("ab"), 1, LIMITS, log);
    r.segment(4, false, true, new byte[0], 2, LIMITS, log); // FIN at 4: bytes 2..3 never captured
    r.flush(3, log);
    assertEquals(List.of("0:ab@1", "gap 2+2 STREAM_END@3"), log.events);
    assertTrue(r.finished());
  }
}
