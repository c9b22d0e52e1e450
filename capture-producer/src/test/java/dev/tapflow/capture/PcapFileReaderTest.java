package dev.tapflow.capture;

import static dev.tapflow.capture.TestFrames.*;
import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class PcapFileReaderTest {
  static final long T0 = 1_700_000_000_999_999_999L;

  @TempDir Path dir;

  static List<TestPcap.Frame> readAll(Path file) throws CaptureFileException {
    List<TestPcap.Frame> frames = new ArrayList<>();
    try (PcapFileReader r = PcapFileReader.open(file)) {
      r.read((ts, wire, data) -> frames.add(new TestPcap.Frame(ts, wire, data)));
    }
    return frames;
  }

  private Path validFile() throws Exception {
    TestPcap.Writer w = TestPcap.pcap(LinkType.EN10MB, true);
    for (int i = 0; i < 5; i++) {
      w.add(T0 + i, ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, udp(53, 1053, ascii("answer " + i)))));
    }
    return w.write(dir.resolve("valid.pcap"));
  }

  @Test
  void nanosecondAndMicrosecondTimestamps() throws Exception {
    byte[] f = ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2, ascii("x"))));
    long[] times = {T0, 0L, 1_000_000_000L - 1, 4_294_967_295L * 1_000_000_000L + 999_999_999L};
    for (boolean nanos : new boolean[] {true, false}) {
      for (boolean ng : new boolean[] {false, true}) {
        TestPcap.Writer w = ng ? TestPcap.pcapng(LinkType.EN10MB, nanos) : TestPcap.pcap(LinkType.EN10MB, nanos);
        for (long t : times) {
          w.add(t, f);
        }
        List<TestPcap.Frame> got = readAll(w.write(dir.resolve("t-" + nanos + ng)));
        for (int i = 0; i < times.length; i++) {
          long want = nanos ? times[i] : times[i] - times[i] % 1000;
          assertEquals(want, got.get(i).tsNs(), "nanos=" + nanos + " pcapng=" + ng + " #" + i);
          assertEquals(f.length, got.get(i).wireLen());
          assertArrayEquals(f, got.get(i).data());
        }
      }
    }
  }

  /**
   * A classic pcap is read by tapflow's own record walker in 4 MiB chunks, a pcapng by
   * libpcap: a 9 MiB file of frames of every size (records cut at every chunk boundary)
   * reads the same both ways, and so does a file smaller than one record header.
   */
  @Test
  void fileOfManyChunksReadsAsLibpcapReadsIt() throws Exception {
    TestPcap.Writer classic = TestPcap.pcap(LinkType.EN10MB, true);
    TestPcap.Writer ng = TestPcap.pcapng(LinkType.EN10MB, true);
    java.util.Random r = new java.util.Random(3);
    long bytes = 0;
    for (int i = 0; bytes < 9 << 20; i++) {
      byte[] payload = new byte[r.nextInt(4) == 0 ? r.nextInt(60_000) : r.nextInt(1500)];
      r.nextBytes(payload);
      byte[] f = ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2, payload)));
      classic.add(T0 + i, f);
      ng.add(T0 + i, f);
      bytes += 16 + f.length;
    }
    List<TestPcap.Frame> fast = readAll(classic.write(dir.resolve("big.pcap")));
    List<TestPcap.Frame> viaLibpcap = readAll(ng.write(dir.resolve("big.pcapng")));
    assertEquals(viaLibpcap.size(), fast.size());
    for (int i = 0; i < fast.size(); i++) {
      assertEquals(viaLibpcap.get(i).tsNs(), fast.get(i).tsNs(), "#" + i);
      assertEquals(viaLibpcap.get(i).wireLen(), fast.get(i).wireLen(), "#" + i);
      assertArrayEquals(viaLibpcap.get(i).data(), fast.get(i).data(), "#" + i);
    }
    Path headerOnly = classic.write(dir.resolve("again.pcap"));
    byte[] all = Files.readAllBytes(headerOnly);
    Files.write(headerOnly, Arrays.copyOf(all, 24 + 7));
    assertThrows(CaptureFileException.class, () -> readAll(headerOnly), "a record header cut short");
  }

  @Test
  void originalLengthOfCutFrames() throws Exception {
    byte[] f = ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2, new byte[500])));
    List<TestPcap.Frame> got = readAll(TestPcap.pcap(LinkType.EN10MB, false).snaplen(64).add(T0, f).write(dir.resolve("cut.pcap")));
    assertEquals(542, got.get(0).wireLen());
    assertEquals(64, got.get(0).data().length);
  }

  @Test
  void linkTypeComesFromTheFile() throws Exception {
    try (PcapFileReader r = PcapFileReader.open(TestPcap.pcap(LinkType.LINUX_SLL2, true).write(dir.resolve("sll2.pcap")))) {
      assertEquals(LinkType.LINUX_SLL2, r.linkType());
    }
    try (PcapFileReader r = PcapFileReader.open(TestPcap.pcap(LinkType.LINKTYPE_RAW, true).write(dir.resolve("raw.pcap")))) {
      assertEquals(LinkType.RAW, r.linkType(), "libpcap maps LINKTYPE_RAW (101) to DLT_RAW (12)");
    }
  }

  // ---- damaged files: one-line CaptureFileException naming the file, never a hang ----

  private CaptureFileException importFails(Path file) {
    CaptureFileException e = assertThrows(CaptureFileException.class,
        () -> new CaptureFileImporter().importFile(file, "a", (k, b) -> { }));
    assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
    assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    assertSame(file, e.file());
    return e;
  }

  @Test
  void missingFile() {
    assertTrue(importFails(dir.resolve("nope.pcap")).getMessage().endsWith("no such file"));
  }

  @Test
  void directory() {
    assertTrue(importFails(dir).getMessage().endsWith("is a directory"));
  }

  @Test
  void emptyFile() throws Exception {
    Path f = Files.write(dir.resolve("empty.pcap"), new byte[0]);
    String m = importFails(f).getMessage();
    assertTrue(m.contains("not a readable pcap/pcapng file"), m);
  }

  @Test
  void badMagic() throws Exception {
    byte[] bytes = Files.readAllBytes(validFile());
    bytes[0] = 0x12;
    Path f = Files.write(dir.resolve("magic.pcap"), bytes);
    String m = importFails(f).getMessage();
    assertTrue(m.contains("not a readable pcap/pcapng file"), m);
    assertTrue(m.contains("unknown file format"), "libpcap's reason: " + m);
    // a text file, as users do
    Path txt = Files.writeString(dir.resolve("notes.pcap"), "this is not a capture\n".repeat(10));
    assertTrue(importFails(txt).getMessage().contains("unknown file format"));
  }

  @Test
  void truncatedFileHeader() throws Exception {
    byte[] bytes = Arrays.copyOf(Files.readAllBytes(validFile()), 10);
    String m = importFails(Files.write(dir.resolve("hdr.pcap"), bytes)).getMessage();
    assertTrue(m.contains("truncated"), m);
  }

  @Test
  void truncatedRecordHeaderAndRecordData() throws Exception {
    byte[] bytes = Files.readAllBytes(validFile());
    int recLen = (bytes.length - 24) / 5; // record header + frame
    // cut inside the 4th record's data
    Path data = Files.write(dir.resolve("data.pcap"), Arrays.copyOf(bytes, 24 + 3 * recLen + 16 + 10));
    String m = importFails(data).getMessage();
    assertTrue(m.contains("truncated") && m.contains("after 3 packets"), m);
    // cut inside the 4th record's header
    Path hdr = Files.write(dir.resolve("rechdr.pcap"), Arrays.copyOf(bytes, 24 + 3 * recLen + 7));
    assertTrue(importFails(hdr).getMessage().contains("truncated"));
    // the reader passed on the frames before the damage
    List<TestPcap.Frame> seen = new ArrayList<>();
    try (PcapFileReader r = PcapFileReader.open(data)) {
      assertThrows(CaptureFileException.class, () -> r.read((ts, w, d) -> seen.add(new TestPcap.Frame(ts, w, d))));
    }
    assertEquals(3, seen.size());
  }

  @Test
  void absurdRecordLength() throws Exception {
    byte[] bytes = Files.readAllBytes(validFile());
    bytes[24 + 8] = (byte) 0xFF; // incl_len of record 1: 0x7F...FF
    bytes[24 + 11] = 0x7F;
    String m = importFails(Files.write(dir.resolve("len.pcap"), bytes)).getMessage();
    assertTrue(m.contains("after 0 packets"), m);
  }

  @Test
  void impossibleFractionOfASecond() throws Exception {
    byte[] bytes = Files.readAllBytes(validFile());
    int recLen = (bytes.length - 24) / 5;
    int at = 24 + 2 * recLen + 4; // ts_frac of record 3: 1.5e9 ns
    java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(at, 1_500_000_000);
    Path f = Files.write(dir.resolve("frac.pcap"), bytes);
    String m = importFails(f).getMessage();
    assertTrue(m.contains("corrupt packet record after 2 packets"), m);
    // the handler is only ours while reading: a later good file reads normally
    assertEquals(5, readAll(validFile()).size());
  }

  @Test
  void truncatedPcapng() throws Exception {
    TestPcap.Writer w = TestPcap.pcapng(LinkType.EN10MB, true);
    for (int i = 0; i < 3; i++) {
      w.add(T0 + i, ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2, ascii("x")))));
    }
    byte[] bytes = w.bytes();
    String m = importFails(Files.write(dir.resolve("cut.pcapng"), Arrays.copyOf(bytes, bytes.length - 9))).getMessage();
    assertTrue(m.contains("after 2 packets"), m);
    String m2 = importFails(Files.write(dir.resolve("shb.pcapng"), Arrays.copyOf(bytes, 20))).getMessage();
    assertFalse(m2.isEmpty());
  }

  @Test
  void garbageAfterAValidHeaderNeverHangs() throws Exception {
    java.util.Random rnd = new java.util.Random(7);
    byte[] valid = Files.readAllBytes(validFile());
    for (int i = 0; i < 200; i++) {
      byte[] b = valid.clone();
      for (int k = 0; k < 4; k++) {
        int at = 24 + rnd.nextInt(b.length - 24);
        b[at] = (byte) rnd.nextInt(256);
      }
      Path f = Files.write(dir.resolve("g" + i + ".pcap"), b);
      try {
        new CaptureFileImporter().importFile(f, "a", (k, x) -> { });
      } catch (CaptureFileException e) {
        assertFalse(e.getMessage().contains("\n"));
      }
    }
  }

  @Test
  void readOnce() throws Exception {
    try (PcapFileReader r = PcapFileReader.open(validFile())) {
      assertEquals(5, r.read((t, w, d) -> { }));
      assertThrows(IllegalStateException.class, () -> r.read((t, w, d) -> { }));
    }
  }
}
