package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The whole pipeline, for real: {@code tapflow local} on redis-benchmark captures (plain and
 * pipelined) through an in-JVM Apache Kafka broker, the Kafka Streams processor under
 * exactly_once_v2, and the JDBC sink into a real PostgreSQL. The facts in PostgreSQL must be
 * exactly those {@code tapflow analyze} computes, and per command exactly what Redis counted
 * (INFO commandstats) while the capture was made.
 */
class LocalPipelineTest {

  static final Path FIXTURES = Path.of("..", "stream-processor", "src", "test", "resources", "pcap", "redis");

  @TempDir
  Path home;

  @Test
  void benchmarkCapturesReachPostgresExactlyAsAnalyzed() throws Exception {
    List<Path> files = List.of(FIXTURES.resolve("benchmark-plain.pcap"), FIXTURES.resolve("benchmark-pipelined.pcap"));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Tapflow.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    List<String> args = new ArrayList<>(List.of("local", "--home", home.toString(), "--partitions", "3"));
    files.forEach(f -> args.add(f.toString()));
    int rc = cl.execute(args.toArray(String[]::new));
    assertEquals(0, rc, "tapflow local failed: " + err);
    assertTrue(out.toString().contains("Latency by server and command"), out.toString());

    Map<String, Map<String, Object>> stored = new TreeMap<>();
    try (EmbeddedPostgres pg = EmbeddedPostgres.start(home.resolve("postgres"));
        Connection c = pg.connect(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT * FROM latency_facts")) {
      ResultSetMetaData md = rs.getMetaData();
      while (rs.next()) {
        Map<String, Object> row = new TreeMap<>();
        for (int i = 1; i <= md.getColumnCount(); i++) {
          if (!md.getColumnName(i).equals("ts")) {
            row.put(md.getColumnName(i), md.getColumnName(i).equals("detail") ? rs.getString(i) : rs.getObject(i));
          }
        }
        stored.put((String) row.get("id"), row);
      }
    }

    Analyzer.Result analyzed = new Analyzer(ProcessorConfig.defaults()).analyze(files, null);
    Map<String, Map<String, Object>> expected = new TreeMap<>();
    for (LatencyFact f : analyzed.facts()) {
      expected.put(f.getId(), row(f));
    }
    assertEquals(expected.size(), stored.size(), "facts in PostgreSQL vs tapflow analyze");
    assertEquals(expected, stored, "every fact, field by field");

    for (Path f : files) {
      String agent = f.getFileName().toString().replace(".pcap", "");
      Map<String, Long> truth = commandstats(FIXTURES.resolve(agent + ".commandstats.json"));
      Map<String, Long> counted = new TreeMap<>();
      for (Map<String, Object> r : stored.values()) {
        if (r.get("agent").equals(agent)) {
          String cmd = ((String) r.get("command")).toLowerCase();
          if (cmd.equals("config")) {
            cmd = "config|" + ((String) r.get("args")).split(" ")[0].toLowerCase();
          }
          counted.merge(cmd, 1L, Long::sum);
        }
      }
      assertEquals(truth, counted, agent + ": facts per command vs Redis INFO commandstats");
    }
  }

  /** A fact as the sink's columns hold it. */
  private static Map<String, Object> row(LatencyFact f) {
    Map<String, Object> r = new HashMap<>();
    r.put("id", f.getId());
    r.put("agent", f.getAgent());
    r.put("protocol", f.getProtocol());
    r.put("vantage", f.getVantage());
    r.put("client_ip", f.getClientIp());
    r.put("client_port", f.getClientPort());
    r.put("server_ip", f.getServerIp());
    r.put("server_port", f.getServerPort());
    r.put("command", f.getCommand());
    r.put("resource", f.getResource());
    r.put("status", f.getStatus().name());
    r.put("error", f.getError());
    r.put("request_first_ns", f.getRequestFirstNs());
    r.put("request_last_ns", f.getRequestLastNs());
    r.put("response_first_ns", f.getResponseFirstNs());
    r.put("response_last_ns", f.getResponseLastNs());
    r.put("latency_ns", f.getLatencyNs());
    r.put("request_bytes", f.getRequestBytes());
    r.put("response_bytes", f.getResponseBytes());
    r.put("request_offset", f.getRequestOffset());
    r.put("args", f.getArgs());
    r.put("loss", f.getLoss());
    r.put("request_gap", f.getRequestGap());
    r.put("response_gap", f.getResponseGap());
    r.put("pairing", f.getPairing());
    r.put("request_seq", f.getRequestSeq());
    r.put("detail", f.getDetail().isEmpty() ? "{}" : f.getDetail().toString()); // Redis facts carry none
    return new TreeMap<>(r);
  }

  /** {"get": 512, "config|get": 2} -> map; the fixture script writes this flat JSON. */
  static Map<String, Long> commandstats(Path file) throws Exception {
    Map<String, Long> out = new TreeMap<>();
    Matcher m = Pattern.compile("\"([^\"]+)\"\\s*:\\s*(\\d+)").matcher(Files.readString(file));
    while (m.find()) {
      out.put(m.group(1), Long.parseLong(m.group(2)));
    }
    return out;
  }
}
