package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.capture.BatchListener;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The time forms {@code reprocess} and {@code slow} accept, and what {@code import} counts for its progress bar. */
class TimeArgsTest {
  private static final Clock NOW = Clock.fixed(Instant.parse("2026-12-02T12:00:00Z"), ZoneOffset.UTC);

  @Test
  void everyFormMeansTheInstantItSays() {
    assertEquals(Instant.parse("2026-12-02T10:05:00Z"), TimeArgs.parse("2026-12-02T10:05:00Z", "--from", NOW));
    assertEquals(Instant.parse("2026-12-02T10:05:00Z"), TimeArgs.parse("2026-12-02T11:05+01:00", "--from", NOW));
    assertEquals(Instant.parse("2026-12-02T10:05:00.123456789Z"),
        TimeArgs.parse("2026-12-02T10:05:00.123456789Z", "--from", NOW));
    // no zone: UTC, as tapflow prints times
    assertEquals(Instant.parse("2026-12-02T10:05:00Z"), TimeArgs.parse("2026-12-02 10:05", "--from", NOW));
    assertEquals(Instant.parse("2026-12-02T10:05:30.25Z"), TimeArgs.parse("2026-12-02T10:05:30.25", "--from", NOW));
    assertEquals(Instant.parse("2026-12-02T00:00:00Z"), TimeArgs.parse("2026-12-02", "--from", NOW));
    // relative to now
    assertEquals(Instant.parse("2026-12-02T11:00:00Z"), TimeArgs.parse("-1h", "--from", NOW));
    assertEquals(Instant.parse("2026-12-02T11:58:30Z"), TimeArgs.parse("90s ago", "--from", NOW));
    assertEquals(Instant.parse("2026-12-02T11:55:00Z"), TimeArgs.parse(" 5m ago ", "--from", NOW));
    assertEquals(NOW.instant(), TimeArgs.parse("now", "--to", NOW));
    UserError e = assertThrows(UserError.class, () -> TimeArgs.parse("yesterday", "--from", NOW));
    assertTrue(e.getMessage().startsWith("--from: not a time: 'yesterday'"), e.getMessage());
  }

  @Test
  void reprocessRefusesAnEmptyRangeInOneLine() {
    StringWriter err = new StringWriter();
    picocli.CommandLine cl = Tapflow.commandLine();
    cl.setErr(new PrintWriter(err));
    int rc = cl.execute("reprocess", "--bootstrap-servers", "127.0.0.1:1", "--from", "2026-12-02 10:05", "--to",
        "2026-12-02 10:05");
    assertEquals(2, rc);
    assertTrue(err.toString().startsWith("tapflow: --from must be before --to"), err.toString());
  }

  @Test
  void importProgressCountsEveryByteOfAPcap() throws Exception {
    Path capture = LocalPipelineTest.FIXTURES.resolve("benchmark-pipelined.pcap");
    StringWriter err = new StringWriter();
    ImportCommand.ImportMeter meter = new ImportCommand.ImportMeter(List.of(capture, capture),
        new ProgressLine(new PrintWriter(err), true, false));
    BatchListener ignore = (key, batch) -> {};
    ImportCommand.importAll(List.of(capture, capture), null, ignore, meter);
    assertEquals(2 * Files.size(capture), meter.totalBytes());
    assertEquals(meter.totalBytes(), meter.bytesRead(), "the record headers and frames add up to the files");
  }
}
