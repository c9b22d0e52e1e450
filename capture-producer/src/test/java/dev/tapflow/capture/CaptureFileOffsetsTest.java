package dev.tapflow.capture;

import static dev.tapflow.capture.TestFrames.ascii;
import static dev.tapflow.capture.TestFrames.ethernet;
import static dev.tapflow.capture.TestFrames.ipv4;
import static dev.tapflow.capture.TestFrames.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The byte offset in the one-line error of a damaged pcapng file (the pcap cases run through
 * the CLI in CorruptCaptureTest). Expected offsets come from the file's own trailing block
 * length, not from the code under test's walk.
 */
class CaptureFileOffsetsTest {

  @TempDir
  Path dir;

  private static byte[] pcapng(int frames) {
    TestPcap.Writer w = TestPcap.pcapng(LinkType.EN10MB, true);
    for (int i = 0; i < frames; i++) {
      w.add(PcapFileReaderTest.T0 + i, ethernet(ipv4("10.0.0.1", "10.0.0.2", 17, udp(1, 2, ascii("x" + i)))));
    }
    return w.bytes();
  }

  @Test
  void truncatedPcapngNamesTheBlockWhereTheDamageIs() throws Exception {
    byte[] whole = pcapng(3);
    // every pcapng block ends with its total length: the last block starts that far before the end
    int lastBlock = whole.length - ByteBuffer.wrap(whole).order(ByteOrder.LITTLE_ENDIAN).getInt(whole.length - 4);
    Path f = Files.write(dir.resolve("cut.pcapng"), Arrays.copyOf(whole, whole.length - 9));
    CaptureFileException e = assertThrows(CaptureFileException.class,
        () -> new CaptureFileImporter().importFile(f, "a", (k, b) -> { }));
    assertTrue(e.getMessage().contains("after 2 packets, at byte " + lastBlock + ":"), e.getMessage());
  }

  @Test
  void linkTypeOfPcapngIsInTheFirstInterfaceDescription() throws Exception {
    byte[] whole = pcapng(1);
    int shbLength = ByteBuffer.wrap(whole).order(ByteOrder.LITTLE_ENDIAN).getInt(4);
    assertEquals(shbLength, CaptureFileOffsets.linkType(Files.write(dir.resolve("one.pcapng"), whole)));
  }

  @Test
  void framingThatLeadsNowhereGivesNoOffset() throws Exception {
    assertEquals(-1, CaptureFileOffsets.afterPackets(Files.write(dir.resolve("text.pcap"), "hello".getBytes()), 0));
    assertEquals(-1, CaptureFileOffsets.afterPackets(dir.resolve("missing.pcap"), 3));
  }
}
