package dev.tapflow.sink;

import java.util.ArrayList;
import java.util.List;

/**
 * A fixed-width text table as tapflow's commands print them: columns padded to their widest
 * cell, a header starting with '>' right-aligned (its cells too), a rule under the header,
 * two spaces before each line and between columns, no trailing blanks.
 */
public final class TextTable {
  private final String[] headers;
  private final boolean[] right;
  private final List<String[]> rows = new ArrayList<>();

  public TextTable(String... headers) {
    this.headers = new String[headers.length];
    this.right = new boolean[headers.length];
    for (int i = 0; i < headers.length; i++) {
      right[i] = headers[i].startsWith(">");
      this.headers[i] = right[i] ? headers[i].substring(1) : headers[i];
    }
  }

  public void row(String... cells) {
    rows.add(cells);
  }

  public int size() {
    return rows.size();
  }

  public void appendTo(StringBuilder out) {
    int[] width = new int[headers.length];
    for (int i = 0; i < headers.length; i++) {
      width[i] = headers[i].length();
      for (String[] r : rows) {
        width[i] = Math.max(width[i], r[i].length());
      }
    }
    line(out, headers, width);
    String[] rule = new String[headers.length];
    for (int i = 0; i < headers.length; i++) {
      rule[i] = "-".repeat(width[i]);
    }
    line(out, rule, width);
    for (String[] r : rows) {
      line(out, r, width);
    }
  }

  private void line(StringBuilder out, String[] cells, int[] width) {
    StringBuilder l = new StringBuilder("  ");
    for (int i = 0; i < cells.length; i++) {
      if (i > 0) {
        l.append("  ");
      }
      String pad = " ".repeat(width[i] - cells[i].length());
      l.append(right[i] ? pad + cells[i] : cells[i] + pad);
    }
    out.append(l.toString().stripTrailing()).append('\n');
  }

  /** Control characters shown as '.', long text cut to {@code width} with "...". */
  public static String printable(String s, int width) {
    StringBuilder b = new StringBuilder(Math.min(s.length(), width));
    for (int i = 0; i < s.length() && b.length() < width; i++) {
      char ch = s.charAt(i);
      b.append(Character.isISOControl(ch) ? '.' : ch);
    }
    if (s.length() > width) {
      b.setLength(width - 3);
      b.append("...");
    }
    return b.toString();
  }
}
