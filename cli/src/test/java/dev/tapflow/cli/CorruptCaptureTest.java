package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Corrupt capture files, made in the test from a real one ({@code samples/redis-cli-session.pcap})
 * by cutting and changing bytes, through {@code tapflow analyze} and {@code tapflow import}:
 * damage that stops reading is one line naming the file, what is wrong and the byte offset
 * where it is (exit 1, never a stack trace); damage inside packets or their order is counted
 * and reading goes on (exit 0).
 */
class CorruptCaptureTest {

  private static final Path SAMPLE = Path.of("..", "samples", "redis-cli-session.pcap");
  private static byte[] sample;
  /** Offset of each record of the sample (its 16-byte header), and the end of the file. */
  private static List<Integer> records;

  @TempDir
  Path dir;

  @BeforeAll
  static void readSample() throws Exception {
    sample = Files.readAllBytes(SAMPLE);
    ByteBuffer b = ByteBuffer.wrap(sample).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(0xa1b23c4d, b.getInt(0), "a little-endian nanosecond pcap");
    records = new ArrayList<>();
    for (int p = 24; p + 16 <= sample.length; p += 16 + b.getInt(p + 8)) {
      records.add(p);
    }
    assertTrue(records.size() > 50, "records: " + records.size());
  }

  private CliRun analyze(String name, byte[] bytes) throws Exception {
    Path f = Files.write(dir.resolve(name), bytes);
    return run("analyze", f.toString());
  }

  private static CliRun run(String... args) {
    return CliRun.of(args);
  }

  /** Exit 1 and exactly one line, naming the file, with {@code expected} in it; no stack trace. */
  private void assertOneLine(CliRun r, String name, String expected) {
    assertEquals(1, r.rc(), r.err());
    assertEquals("", r.out(), "no facts printed");
    String line = r.err().strip();
    assertFalse(line.contains("\n") || line.contains("Exception") || line.contains("\tat "), r.err());
    assertTrue(line.startsWith("tapflow: " + dir.resolve(name) + ": "), line);
    assertTrue(line.contains(expected), "'" + expected + "' in: " + line);
  }

  private static int inclLen(int record) {
    return ByteBuffer.wrap(sample).order(ByteOrder.LITTLE_ENDIAN).getInt(records.get(record) + 8);
  }

  @Test
  void truncatedInsideARecord() throws Exception {
    int at = records.get(10);
    CliRun r = analyze("truncated.pcap", Arrays.copyOf(sample, at + 16 + 4));
    assertOneLine(r, "truncated.pcap", "corrupt or truncated after 10 packets, at byte " + at + ": truncated dump file");
    CliRun header = analyze("truncated-header.pcap", Arrays.copyOf(sample, at + 7));
    assertOneLine(header, "truncated-header.pcap", "after 10 packets, at byte " + at + ": truncated dump file");
  }

  @Test
  void badMagic() throws Exception {
    byte[] b = sample.clone();
    b[0] = 0x12;
    assertOneLine(analyze("magic.pcap", b), "magic.pcap", "not a readable pcap/pcapng file (file header at byte 0): unknown file format");
    assertOneLine(analyze("short.pcap", Arrays.copyOf(sample, 10)), "short.pcap", "at byte 0");
  }

  @Test
  void absurdRecordLength() throws Exception {
    byte[] b = sample.clone();
    int at = records.get(5);
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at + 8, Integer.MAX_VALUE);
    assertOneLine(analyze("absurd.pcap", b), "absurd.pcap",
        "after 5 packets, at byte " + at + ": invalid packet capture length 2147483647");
  }

  @Test
  void impossibleTimestampFraction() throws Exception {
    byte[] b = sample.clone();
    int at = records.get(7);
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at + 4, 1_500_000_000); // ns >= 1e9
    assertOneLine(analyze("fraction.pcap", b), "fraction.pcap", "corrupt packet record after 7 packets, at byte " + at);
  }

  @Test
  void unknownLinkType() throws Exception {
    byte[] b = sample.clone();
    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(20, 147); // LINKTYPE_USER0
    assertOneLine(analyze("linktype.pcap", b), "linktype.pcap", "unsupported link type DLT_147 at byte 20");
  }

  @Test
  void importSaysTheSameBeforeTouchingKafka() throws Exception {
    byte[] b = sample.clone();
    b[0] = 0x12;
    Path f = Files.write(dir.resolve("magic.pcap"), b);
    CliRun r = run("import", f.toString(), "--bootstrap-servers", "127.0.0.1:1");
    assertOneLine(r, "magic.pcap", "not a readable pcap/pcapng file (file header at byte 0)");
  }

  @Test
  void timestampsGoingBackwardsAreCountedAndReadingGoesOn() throws Exception {
    CliRun whole = run("analyze", SAMPLE.toString());
    assertEquals(0, whole.rc(), whole.err());
    byte[] b = sample.clone();
    ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    int at = records.get(20);
    buf.putInt(at, buf.getInt(at) - 100); // 100 s earlier than the packet before it
    CliRun r = analyze("backwards.pcap", b);
    assertEquals(0, r.rc(), r.err());
    assertTrue(r.err().contains(dir.resolve("backwards.pcap") + ": 1 packet(s) earlier than the packet before them"),
        r.err());
    assertEquals(whole.out().lines().count(), r.out().lines().count(), "every request still gives a fact");
  }

  @Test
  void packetsCutByTheSnapLengthAreCountedAndReadingGoesOn() throws Exception {
    // cut every packet with a payload to its first 70 bytes (Ethernet, IPv4, TCP with options and 2 payload bytes)
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    out.write(sample, 0, 24);
    ByteBuffer src = ByteBuffer.wrap(sample).order(ByteOrder.LITTLE_ENDIAN);
    int cut = 0;
    for (int i = 0; i < records.size(); i++) {
      int p = records.get(i);
      int incl = inclLen(i);
      int keep = incl > 100 ? 70 : incl;
      cut += keep < incl ? 1 : 0;
      ByteBuffer h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
      h.putInt(src.getInt(p)).putInt(src.getInt(p + 4)).putInt(keep).putInt(src.getInt(p + 12));
      out.write(h.array());
      out.write(sample, p + 16, keep);
    }
    assertTrue(cut > 5, "packets cut: " + cut);
    CliRun r = analyze("snaplen.pcap", out.toByteArray());
    assertEquals(0, r.rc(), r.err());
    assertTrue(r.err().contains("anomalies {") && r.err().contains("TCP_GAP="), r.err());
    assertFalse(r.err().contains("Exception"), r.err());
  }
}
