package dev.tapflow.stream.protocol.memcached;

import dev.tapflow.stream.protocol.testing.Chunk;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads the fixtures written by scripts/record-memcached-fixtures.py. */
final class MemcachedFixtures {

  private MemcachedFixtures() {}

  /** The chunks of a fixture, by connection, each in capture order. */
  static Map<String, List<Chunk>> load(String name) throws IOException {
    Map<String, List<Chunk>> byConnection = new LinkedHashMap<>();
    for (String line : lines("/memcached/" + name + ".mc")) {
      String[] f = line.split(" ");
      Chunk c = new Chunk(f[0], f[1].equals("c"), Long.parseLong(f[2]), Base64.getDecoder().decode(f[3]));
      byConnection.computeIfAbsent(c.connection(), k -> new ArrayList<>()).add(c);
    }
    return byConnection;
  }

  /** memcached's stats counter deltas over the scenario. */
  static Map<String, Long> truth(String name) throws IOException {
    Map<String, Long> t = new LinkedHashMap<>();
    for (String line : lines("/memcached/" + name + ".truth")) {
      String[] f = line.split(" ");
      t.put(f[0], Long.parseLong(f[1]));
    }
    return t;
  }

  private static List<String> lines(String resource) throws IOException {
    List<String> out = new ArrayList<>();
    try (InputStream in = MemcachedFixtures.class.getResourceAsStream(resource)) {
      if (in == null) {
        throw new IOException("no fixture " + resource);
      }
      BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
      for (String line; (line = r.readLine()) != null; ) {
        if (!line.isBlank() && !line.startsWith("#")) {
          out.add(line);
        }
      }
    }
    return out;
  }
}
