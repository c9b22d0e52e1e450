package dev.tapflow.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.plot.CategoryPlot;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.category.DefaultCategoryDataset;

/**
 * The table of bench/run.sh: {@code BenchReport RUNS.tsv OUT.csv OUT.png [NOTE]} reads one line
 * per timed run (capture, tool, run, wall s, CPU s, peak RSS KiB, packets, pairs, bytes, and for
 * end-to-end runs the seconds from the import's start until the last fact was in PostgreSQL),
 * prints per capture and tool the median and spread over the repeats with packets/s, pairs/s,
 * MB/s, CPU s, peak RSS and the ratios of packets/s to tshark's and to tcpdump's on the same
 * capture, and writes the same as CSV and as a bar chart of packets/s (log scale, headless).
 */
public final class BenchReport {

  /** One timed run, a line of the runs file. */
  record Run(String capture, String tool, double wallS, double cpuS, long rssKb, long packets, long pairs, long bytes,
      double e2eS) {
    static Run parse(String line) {
      String[] f = line.split("\t", -1);
      if (f.length < 9) {
        throw new IllegalArgumentException("a run line has 9 or 10 tab-separated fields: " + line);
      }
      return new Run(f[0], f[1], Double.parseDouble(f[3]), Double.parseDouble(f[4]), Long.parseLong(f[5]),
          Long.parseLong(f[6]), Long.parseLong(f[7]), Long.parseLong(f[8]),
          f.length > 9 && !f[9].isEmpty() ? Double.parseDouble(f[9]) : Double.NaN);
    }
  }

  /** The repeats of one tool on one capture, summarised. */
  record Row(String capture, String tool, int runs, double wallS, double wallMinS, double wallMaxS, double cpuS,
      long rssKb, long packets, long pairs, long bytes, double packetsPerS, double pairsPerS, double mbPerS,
      double xTshark, double xTcpdump) {

    /** (max - min) / median of the wall times, percent. */
    double spreadPercent() {
      return wallS == 0 ? 0 : 100 * (wallMaxS - wallMinS) / wallS;
    }
  }

  private BenchReport() {}

  public static void main(String[] args) throws IOException {
    System.setProperty("java.awt.headless", "true");
    List<Run> runs = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of(args[0]), StandardCharsets.UTF_8)) {
      if (!line.isBlank() && !line.startsWith("#")) {
        runs.add(Run.parse(line));
      }
    }
    List<Row> rows = summarise(runs);
    String note = args.length > 3 ? args[3] : "";
    System.out.print(table(rows, note));
    Files.writeString(Path.of(args[1]), csv(rows), StandardCharsets.UTF_8);
    chart(rows, Path.of(args[2]), note);
  }

  /** Rows in the order captures and tools first appear; ratios against the same capture's tshark and tcpdump rows. */
  static List<Row> summarise(List<Run> runs) {
    Map<String, List<Run>> groups = new LinkedHashMap<>();
    for (Run r : runs) {
      groups.computeIfAbsent(r.capture() + "\t" + r.tool(), k -> new ArrayList<>()).add(r);
    }
    List<Row> rows = new ArrayList<>();
    for (List<Run> g : groups.values()) {
      Run first = g.get(0);
      double[] wall = g.stream().mapToDouble(Run::wallS).sorted().toArray();
      double medianWall = median(wall);
      double[] e2e = g.stream().mapToDouble(Run::e2eS).filter(d -> !Double.isNaN(d)).sorted().toArray();
      // end-to-end rows: pairs over the time from the import's start until the last fact was stored
      double pairsTime = e2e.length > 0 ? median(e2e) : medianWall;
      rows.add(new Row(first.capture(), first.tool(), g.size(), medianWall, wall[0], wall[wall.length - 1],
          median(g.stream().mapToDouble(Run::cpuS).sorted().toArray()),
          g.stream().mapToLong(Run::rssKb).max().orElse(0), first.packets(), first.pairs(), first.bytes(),
          first.packets() / medianWall, first.pairs() / pairsTime, first.bytes() / 1e6 / medianWall, Double.NaN,
          Double.NaN));
    }
    List<Row> withRatios = new ArrayList<>();
    for (Row r : rows) {
      double tshark = rate(rows, r.capture(), "tshark");
      double tcpdump = rate(rows, r.capture(), "tcpdump");
      withRatios.add(new Row(r.capture(), r.tool(), r.runs(), r.wallS(), r.wallMinS(), r.wallMaxS(), r.cpuS(), r.rssKb(),
          r.packets(), r.pairs(), r.bytes(), r.packetsPerS(), r.pairsPerS(), r.mbPerS(), r.packetsPerS() / tshark,
          r.packetsPerS() / tcpdump));
    }
    return withRatios;
  }

  private static double rate(List<Row> rows, String capture, String tool) {
    return rows.stream().filter(r -> r.capture().equals(capture) && r.tool().equals(tool))
        .mapToDouble(Row::packetsPerS).findFirst().orElse(Double.NaN);
  }

  static double median(double[] sorted) {
    int n = sorted.length;
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  }

  static String table(List<Row> rows, String note) {
    StringBuilder b = new StringBuilder();
    if (!note.isEmpty()) {
      b.append(note).append('\n');
    }
    b.append(String.format(Locale.ROOT, "%-16s %-16s %4s %9s %7s %8s %8s %11s %10s %8s %8s %9s %9s%n", "capture", "tool",
        "runs", "wall s", "spread", "cpu s", "rss MB", "packets/s", "pairs/s", "MB/s", "x tshark", "x tcpdump",
        "packets"));
    for (Row r : rows) {
      b.append(String.format(Locale.ROOT, "%-16s %-16s %4d %9.3f %6.0f%% %8.2f %8.0f %11.0f %10.0f %8.1f %8s %9s %9d%n",
          r.capture(), r.tool(), r.runs(), r.wallS(), r.spreadPercent(), r.cpuS(), r.rssKb() / 1024.0, r.packetsPerS(),
          r.pairsPerS(), r.mbPerS(), ratio(r.xTshark()), ratio(r.xTcpdump()), r.packets()));
    }
    return b.toString();
  }

  private static String ratio(double x) {
    return Double.isNaN(x) ? "-" : x >= 10 ? String.format(Locale.ROOT, "%.0f", x) : String.format(Locale.ROOT, "%.2f", x);
  }

  static String csv(List<Row> rows) {
    StringBuilder b = new StringBuilder("capture,tool,runs,wall_s_median,wall_s_min,wall_s_max,cpu_s_median,peak_rss_kb,"
        + "packets,pairs,bytes,packets_per_s,pairs_per_s,mb_per_s,x_tshark,x_tcpdump\n");
    for (Row r : rows) {
      b.append(String.join(",", r.capture(), r.tool(), Integer.toString(r.runs()), num(r.wallS()), num(r.wallMinS()),
          num(r.wallMaxS()), num(r.cpuS()), Long.toString(r.rssKb()), Long.toString(r.packets()), Long.toString(r.pairs()),
          Long.toString(r.bytes()), num(r.packetsPerS()), num(r.pairsPerS()), num(r.mbPerS()), num(r.xTshark()),
          num(r.xTcpdump()))).append('\n');
    }
    return b.toString();
  }

  private static String num(double d) {
    return Double.isNaN(d) || Double.isInfinite(d) ? "" : String.format(Locale.ROOT, "%.4g", d);
  }

  /** Packets/s per capture (categories) and tool (series), on a log axis. */
  static void chart(List<Row> rows, Path png, String note) {
    DefaultCategoryDataset data = new DefaultCategoryDataset();
    for (Row r : rows) {
      if (r.packetsPerS() > 0 && Double.isFinite(r.packetsPerS())) {
        data.addValue(r.packetsPerS(), r.tool(), r.capture());
      }
    }
    JFreeChart chart = ChartFactory.createBarChart("packets/s, median of the runs (higher is better)" ,
        "capture", "packets/s", data, PlotOrientation.HORIZONTAL, true, false, false);
    if (!note.isEmpty()) {
      chart.addSubtitle(new org.jfree.chart.title.TextTitle(note));
    }
    CategoryPlot plot = chart.getCategoryPlot();
    LogAxis axis = new LogAxis("packets/s (log scale)");
    axis.setSmallestValue(1_000);
    axis.setTickUnit(new org.jfree.chart.axis.NumberTickUnit(1)); // a tick a decade
    axis.setNumberFormatOverride(new java.text.DecimalFormat("#,##0"));
    plot.setRangeAxis(axis);
    int bars = Math.max(1, rows.size());
    try {
      ChartUtils.saveChartAsPNG(png.toFile(), chart, 1000, Math.max(400, 120 + 22 * bars));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** For tests: the rows of a runs file's lines. */
  static List<Row> rowsOf(String... lines) {
    return summarise(Arrays.stream(lines).map(Run::parse).toList());
  }
}
