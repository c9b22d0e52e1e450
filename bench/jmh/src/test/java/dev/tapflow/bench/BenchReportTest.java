package dev.tapflow.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bench/run.sh's table, CSV and chart on the raw runs of a real bench/run.sh run (committed):
 * medians, spreads and ratios recomputed here from the raw lines, by sorting each group's
 * numbers, not taken from the report.
 */
class BenchReportTest {

  @TempDir
  Path dir;

  private static List<String> lines() throws IOException {
    try (var in = BenchReportTest.class.getResourceAsStream("/runs-sample.tsv")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).toList();
    }
  }

  /** The raw wall times of one capture and tool, sorted. */
  private static double[] walls(List<String> lines, String capture, String tool) {
    return lines.stream().map(l -> l.split("\t")).filter(f -> f[0].equals(capture) && f[1].equals(tool))
        .mapToDouble(f -> Double.parseDouble(f[3])).sorted().toArray();
  }

  @Test
  void mediansSpreadsAndRatiosComeFromTheRawRuns() throws IOException {
    List<String> lines = lines();
    List<BenchReport.Row> rows = BenchReport.rowsOf(lines.toArray(String[]::new));
    assertTrue(rows.size() >= 3, "rows: " + rows);
    for (BenchReport.Row r : rows) {
      double[] w = walls(lines, r.capture(), r.tool());
      assertEquals(w.length, r.runs());
      double median = w.length % 2 == 1 ? w[w.length / 2] : (w[w.length / 2 - 1] + w[w.length / 2]) / 2;
      assertEquals(median, r.wallS(), 1e-9);
      assertEquals(w[0], r.wallMinS(), 1e-9);
      assertEquals(w[w.length - 1], r.wallMaxS(), 1e-9);
      assertEquals(r.packets() / median, r.packetsPerS(), 1e-6 * r.packetsPerS());
      double[] tshark = walls(lines, r.capture(), "tshark");
      double[] tcpdump = walls(lines, r.capture(), "tcpdump");
      if (tshark.length > 0) { // same packets: the ratio of rates is the inverse ratio of median times
        assertEquals(BenchReport.median(tshark) / median, r.xTshark(), 1e-9 * r.xTshark());
      }
      if (tcpdump.length > 0) {
        assertEquals(BenchReport.median(tcpdump) / median, r.xTcpdump(), 1e-9 * r.xTcpdump());
      }
    }
  }

  @Test
  void writesTheTableTheCsvAndAPngChart() throws Exception {
    Path runs = dir.resolve("runs.tsv");
    Files.write(runs, lines());
    Path csv = dir.resolve("table.csv");
    Path png = dir.resolve("chart.png");
    BenchReport.main(new String[] {runs.toString(), csv.toString(), png.toString(), "2 cores; load 1.0"});
    List<BenchReport.Row> rows = BenchReport.rowsOf(lines().toArray(String[]::new));
    List<String> csvLines = Files.readAllLines(csv);
    assertEquals(rows.size() + 1, csvLines.size());
    List<String> keys = new ArrayList<>();
    for (String l : csvLines.subList(1, csvLines.size())) {
      keys.add(String.join("/", Arrays.copyOf(l.split(","), 2)));
    }
    assertEquals(rows.stream().map(r -> r.capture() + "/" + r.tool()).toList(), keys);
    BufferedImage image = ImageIO.read(png.toFile());
    assertEquals(1000, image.getWidth());
    assertTrue(image.getHeight() >= 400);
  }
}
