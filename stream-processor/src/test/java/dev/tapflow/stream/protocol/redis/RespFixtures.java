package dev.tapflow.stream.protocol.redis;

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

/** Reads the fixtures written by scripts/record-resp-fixtures.py. */
final class RespFixtures {

  private RespFixtures() {}

  /** The chunks of a fixture, by connection, each in capture order. */
  static Map<String, List<Chunk>> load(String name) throws IOException {
    Map<String, List<Chunk>> byConnection = new LinkedHashMap<>();
    try (InputStream in = RespFixtures.class.getResourceAsStream("/resp/" + name + ".resp")) {
      if (in == null) {
        throw new IOException("no fixture " + name);
      }
      BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
      for (String line; (line = r.readLine()) != null; ) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.split(" ");
        Chunk c = new Chunk(f[0], f[1].equals("c"), Long.parseLong(f[2]), Base64.getDecoder().decode(f[3]));
        byConnection.computeIfAbsent(c.connection(), k -> new ArrayList<>()).add(c);
      }
    }
    return byConnection;
  }

  /** redis-benchmark truth: INFO commandstats calls per top-level command (upper case). */
  static Map<String, Long> truth(String name) throws IOException {
    Map<String, Long> calls = new LinkedHashMap<>();
    try (InputStream in = RespFixtures.class.getResourceAsStream("/resp/" + name + ".truth")) {
      BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
      for (String line; (line = r.readLine()) != null; ) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        String[] f = line.split(" ");
        String command = f[0].split("\\|")[0].toUpperCase();
        calls.merge(command, Long.parseLong(f[1]), Long::sum);
      }
    }
    return calls;
  }
}
