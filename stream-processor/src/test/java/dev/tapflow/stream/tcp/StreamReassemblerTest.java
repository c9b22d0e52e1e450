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
    public void gap(long streamOffset, long length, long tsNs) {
      events.add("gap " + streamOffset + "+" + length);
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
    assertEquals(List.of("0:aa@0", "gap 2+8", "10:zz@200", "12:yy@200"), log.events);
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
    assertEquals(List.of("0:a@0", "gap 1+4", "5:bbb@2", "8:cc@2"), log.events);
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
    assertEquals(List.of("0:a@0", "gap 1+2", "3:d@9"), log.events);
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
}
