package dev.tapflow.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The containers of docker/compose.yaml without Docker: the topics, processor, sink and agent
 * services' commands run through the image's entrypoint (docker/tapflow.sh) with their
 * environment from the compose file, only the addresses changed (an embedded Kafka broker and
 * an embedded PostgreSQL created as compose's postgres service is: database, user and password
 * from the same variables), the agent capturing on lo. A capture file is imported and live
 * UDP traffic sent; then, over real HTTP GETs of each role's --metrics-port, the counters move
 * (facts made, facts stored, batch times, packets captured, agent reports stored), and every
 * SQL query of the Grafana dashboard (panels and variables, Grafana's macros expanded as the
 * PostgreSQL data source does) runs on the database the sink filled and finds rows.
 */
class ComposeRolesTest {
  static final String SAMPLE = "samples/redis-cli-session.pcap";
  static final String POSTGRES_PASSWORD = "compose-roles-secret";

  @TempDir
  Path dir;

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
  private final List<Process> running = new ArrayList<>();

  @Test
  void theComposeServicesRunAndTheirMetricsAndTheDashboardShowTheTraffic() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "the agent captures on lo: needs root (CI runs as root)");
    Map<String, Object> compose = Repo.compose();
    try (EmbeddedKafka kafka = EmbeddedKafka.start(dir.resolve("kafka"));
        EmbeddedPostgres pg = EmbeddedPostgres.builder(dir.resolve("postgres")).password(POSTGRES_PASSWORD).start()) {
      Map<String, String> vars = Map.of("POSTGRES_PASSWORD", POSTGRES_PASSWORD, "GRAFANA_PASSWORD", "unused",
          "TAPFLOW_INTERFACE", "lo", "TAPFLOW_AGENT_ID", "compose-agent", "TAPFLOW_PARTITIONS", "4");
      // where the containers would find kafka:9092 and postgres:5432, and what the image sets
      Map<String, String> here = Map.of("TAPFLOW_BOOTSTRAP_SERVERS", kafka.bootstrapServers(),
          "TAPFLOW_JDBC_URL", pg.jdbcUrl(), "TAPFLOW_STATE_DIR", dir.resolve("streams").toString(),
          "TAPFLOW_JAR", Repo.JAR.toString());
      Map<String, Map<String, String>> env = new LinkedHashMap<>();
      Map<String, Integer> metricsPorts = new HashMap<>();
      for (String service : List.of("topics", "processor", "sink", "agent")) {
        Map<String, String> e = ComposeFileTest.environment(Repo.service(compose, service), vars);
        assertEquals(kafka.bootstrapServers().isEmpty(), false);
        e.putAll(here);
        if (e.containsKey("TAPFLOW_METRICS_PORT")) {
          int port = freePort();
          metricsPorts.put(service, port);
          e.put("TAPFLOW_METRICS_PORT", Integer.toString(port));
        }
        env.put(service, e);
      }
      assertEquals(pg.user(), env.get("sink").get("TAPFLOW_JDBC_USER"), "the compose file's database user");
      assertEquals(POSTGRES_PASSWORD, env.get("sink").get("TAPFLOW_JDBC_PASSWORD"));
      env.get("agent").put("TAPFLOW_STATS_INTERVAL", "1s"); // reports every second instead of 10 s: a short test

      Process topics = start("topics", env.get("topics"), ComposeFileTest.command(Repo.service(compose, "topics")));
      assertTrue(topics.waitFor(60, TimeUnit.SECONDS), "tapflow topics did not finish");
      assertEquals(0, topics.exitValue(), log("topics"));
      for (String service : List.of("processor", "sink", "agent")) {
        start(service, env.get(service), ComposeFileTest.command(Repo.service(compose, service)));
      }
      Map<String, Map<String, Double>> before = new HashMap<>();
      for (String service : List.of("processor", "sink", "agent")) {
        before.put(service, awaitScrape(service, metricsPorts.get(service)));
      }
      assertEquals(0.0, value(before.get("processor"), "tapflow_processor_facts_total"));
      assertEquals(0.0, value(before.get("sink"), "tapflow_sink_facts_stored_total"));

      Map<String, String> importEnv = new HashMap<>(here);
      Process imported = start("import", importEnv, List.of("import", Repo.ROOT.resolve(SAMPLE).toString()));
      assertTrue(imported.waitFor(60, TimeUnit.SECONDS), "the import did not finish within 60 s");
      assertEquals(0, imported.exitValue(), log("import"));

      // live traffic the agent's default filter takes (memcached's UDP port), until the roles show it all
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      Map<String, Double> processor;
      Map<String, Double> sink;
      Map<String, Double> agent;
      try (DatagramSocket udp = new DatagramSocket()) {
        while (true) {
          byte[] request = "\0\1\0\0\0\1\0\0get k\r\n".getBytes();
          udp.send(new DatagramPacket(request, request.length, InetAddress.getLoopbackAddress(), 11211));
          processor = scrape(metricsPorts.get("processor"));
          sink = scrape(metricsPorts.get("sink"));
          agent = scrape(metricsPorts.get("agent"));
          boolean done = value(processor, "tapflow_processor_facts_total") > 0
              && value(sink, "tapflow_sink_facts_stored_total") >= value(processor, "tapflow_processor_facts_total")
              && value(sink, "tapflow_sink_capture_reports_stored_total") > 0
              && value(sink, "tapflow_sink_window_parts_merged_total") > 0
              // the agent's packets are counted when captured, its segments once the broker acked them
              // (the processor's facts may all be the import's): wait for both
              && value(agent, "tapflow_capture_packets_total") > 0
              && value(agent, "tapflow_capture_published_segments_total") > 0
              && value(processor, "tapflow_processor_running") == 1.0;
          if (done) {
            break;
          }
          assertTrue(System.nanoTime() < deadline, "the roles' counters did not move within 90 s:\nprocessor "
              + tapflowOnly(processor) + "\nsink " + tapflowOnly(sink) + "\nagent " + tapflowOnly(agent)
              + "\n" + log("processor") + log("sink") + log("agent"));
          Thread.sleep(300);
        }
      }
      assertTrue(value(sink, "tapflow_sink_batch_seconds_count") > 0, "batch times");
      assertTrue(value(sink, "tapflow_sink_batch_seconds_sum") > 0, "batch time sum");
      assertTrue(processor.keySet().stream().anyMatch(k -> k.startsWith("kafka_stream_")), "Kafka Streams' metrics");
      assertTrue(agent.containsKey("tapflow_capture_kernel_drops_total"), "drops are exported, zero or not");
      assertTrue(agent.containsKey("tapflow_capture_backlog_bytes"));
      assertTrue(sink.containsKey("tapflow_sink_lag_records"));

      try (Connection c = DriverManager.getConnection(pg.jdbcUrl(), pg.connectionProperties());
          Statement st = c.createStatement()) {
        assertEquals((long) value(sink, "tapflow_sink_facts_stored_total"), count(st, "SELECT count(*) FROM latency_facts"));
        st.execute("UPDATE tapflow_settings SET value = '0 ms' WHERE name = 'slow_threshold'");
        dashboardQueriesRunAndFindRows(st);
      }

      // docker stop: SIGTERM; the agent stops in order and says so with exit code 0
      Process agentProcess = running.get(3);
      agentProcess.destroy();
      assertTrue(agentProcess.waitFor(40, TimeUnit.SECONDS), "the agent did not stop within compose's grace period");
      assertEquals(0, agentProcess.exitValue(), log("agent"));
      assertTrue(log("agent").contains("final"), "the final counters");
    } finally {
      for (Process p : running) {
        p.destroy();
      }
      for (Process p : running) {
        if (!p.waitFor(40, TimeUnit.SECONDS)) {
          p.destroyForcibly();
        }
      }
    }
    for (String service : List.of("processor", "sink", "agent")) {
      assertFalse(log(service).contains(POSTGRES_PASSWORD), service + " logged the database password");
    }
  }

  /** Every query of the dashboard, its variables set to every value they list, on the filled database. */
  private void dashboardQueriesRunAndFindRows(Statement st) throws Exception {
    JsonNode dashboard = new ObjectMapper().readTree(Repo.DASHBOARD.toFile());
    Map<String, String> variables = new HashMap<>();
    for (JsonNode v : dashboard.get("templating").get("list")) {
      List<String> values = column(st, expand(v.get("query").asText(), Map.of()));
      assertFalse(values.isEmpty(), "variable " + v.get("name").asText() + " lists nothing");
      variables.put(v.get("name").asText(), values.stream().map(s -> "'" + s.replace("'", "''") + "'")
          .collect(Collectors.joining(",")));
    }
    assertTrue(variables.get("agent").contains("'compose-agent'"), "the live agent is listed: " + variables);
    for (JsonNode panel : dashboard.get("panels")) {
      for (JsonNode target : panel.get("targets")) {
        String sql = expand(target.get("rawSql").asText(), variables);
        List<String> rows = column(st, sql);
        assertFalse(rows.isEmpty(), "panel '" + panel.get("title").asText() + "' shows nothing:\n" + sql);
      }
    }
  }

  static final Pattern MACRO = Pattern.compile("\\$__(timeGroupAlias|timeGroup|timeFilter)\\(([^,)]+)(?:,[^)]*)?\\)");

  /** Grafana's PostgreSQL macros and $variables as the data source expands them; the range: everything. */
  static String expand(String sql, Map<String, String> variables) {
    Matcher m = MACRO.matcher(sql);
    StringBuilder sb = new StringBuilder();
    while (m.find()) {
      String col = m.group(2).trim();
      String r = switch (m.group(1)) {
        case "timeFilter" -> col + " BETWEEN '2000-01-01T00:00:00Z' AND now() + interval '1 day'";
        case "timeGroup" -> "floor(extract(epoch from " + col + ")/60)*60";
        default -> "floor(extract(epoch from " + col + ")/60)*60 AS \"time\"";
      };
      m.appendReplacement(sb, Matcher.quoteReplacement(r));
    }
    m.appendTail(sb);
    String out = sb.toString();
    for (Map.Entry<String, String> v : variables.entrySet()) {
      out = out.replace("$" + v.getKey(), v.getValue());
    }
    assertFalse(out.contains("$"), "a macro or variable the test does not know: " + out);
    return out;
  }

  private static List<String> column(Statement st, String sql) throws Exception {
    List<String> out = new ArrayList<>();
    try (ResultSet rs = st.executeQuery(sql)) {
      while (rs.next()) {
        out.add(rs.getString(rs.getMetaData().getColumnCount() == 1 ? 1 : 2));
      }
    }
    return out;
  }

  private static long count(Statement st, String sql) throws Exception {
    try (ResultSet rs = st.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }

  // ------------------------------------------------------------ processes

  private Process start(String name, Map<String, String> env, List<String> command) throws IOException {
    List<String> args = new ArrayList<>(List.of("sh", Repo.DOCKER.resolve("tapflow.sh").toString()));
    args.addAll(command);
    ProcessBuilder pb = new ProcessBuilder(args).directory(dir.toFile()).redirectErrorStream(true)
        .redirectOutput(dir.resolve(name + ".log").toFile());
    pb.environment().keySet().removeIf(k -> k.startsWith("TAPFLOW_") || k.startsWith("PG"));
    pb.environment().putAll(env);
    pb.environment().put("TAPFLOW_JAR", Repo.JAR.toString());
    Process p = pb.start();
    running.add(p);
    return p;
  }

  private String log(String name) {
    try {
      return "--- " + name + ".log\n" + Files.readString(dir.resolve(name + ".log")) + "\n";
    } catch (IOException e) {
      return "--- " + name + ": no log\n";
    }
  }

  // --------------------------------------------------------------- metrics

  private Map<String, Double> awaitScrape(String service, int port) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      try {
        return scrape(port);
      } catch (IOException e) {
        assertTrue(System.nanoTime() < deadline, service + ": nothing on :" + port + "/metrics\n" + log(service));
        Thread.sleep(200);
      }
    }
  }

  /** GET /metrics: series name (labels left out, values of one name summed) to value. */
  private Map<String, Double> scrape(int port) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
    Map<String, Double> out = new HashMap<>();
    for (String line : r.body().split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int space = line.lastIndexOf(' ');
      String series = line.substring(0, space);
      int brace = series.indexOf('{');
      String name = brace < 0 ? series : series.substring(0, brace);
      double v = Double.parseDouble(line.substring(space + 1));
      if (!Double.isNaN(v)) {
        out.merge(name, v, Double::sum);
      }
    }
    return out;
  }

  private static double value(Map<String, Double> metrics, String name) {
    return metrics.getOrDefault(name, 0.0);
  }

  private static Map<String, Double> tapflowOnly(Map<String, Double> m) {
    Map<String, Double> out = new java.util.TreeMap<>();
    m.forEach((k, v) -> {
      if (k.startsWith("tapflow_")) {
        out.put(k, v);
      }
    });
    return out;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

}
