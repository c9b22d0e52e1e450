package dev.tapflow.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A Zeek TSV log (as btest baselines keep them): the {@code #fields} header names the columns. */
final class ZeekLog {

  /** One log row by column name; Zeek writes {@code -} for an unset field. */
  record Row(Map<String, String> fields) {
    String get(String name) {
      String v = fields.get(name);
      if (v == null) {
        throw new IllegalArgumentException("no column " + name + " in " + fields.keySet());
      }
      return v;
    }

    boolean isSet(String name) {
      return !"-".equals(get(name));
    }

    /** The connection's client endpoint, as {@link TcpPackets#endpoint} writes it. */
    String client() {
      return TcpPackets.endpoint(get("id.orig_h"), Integer.parseInt(get("id.orig_p")));
    }
  }

  final List<Row> rows;

  private ZeekLog(List<Row> rows) {
    this.rows = rows;
  }

  static ZeekLog read(Path file) throws IOException {
    List<String> names = null;
    List<Row> rows = new ArrayList<>();
    for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
      if (line.startsWith("#fields\t")) {
        names = List.of(line.substring("#fields\t".length()).split("\t", -1));
      } else if (!line.startsWith("#") && !line.isEmpty()) {
        if (names == null) {
          throw new IllegalArgumentException(file + ": row before #fields");
        }
        String[] cells = line.split("\t", -1);
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < names.size() && i < cells.length; i++) {
          m.put(names.get(i), cells[i]);
        }
        rows.add(new Row(m));
      }
    }
    return new ZeekLog(rows);
  }

  /** Rows per client endpoint, in log order. */
  Map<String, List<Row>> byClient() {
    Map<String, List<Row>> out = new LinkedHashMap<>();
    for (Row r : rows) {
      out.computeIfAbsent(r.client(), k -> new ArrayList<>()).add(r);
    }
    return out;
  }
}
