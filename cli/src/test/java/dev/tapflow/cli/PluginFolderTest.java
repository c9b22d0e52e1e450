package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.stream.protocol.ProtocolCatalog;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A plug-in that tapflow was not built with: the template's sources
 * ({@code examples/plugin-template}) compiled here against the protocol API alone, packed into a
 * jar with their service file, and dropped in a plug-ins folder. {@code tapflow protocols} lists
 * it with its port and version, and {@code tapflow analyze} and {@code tapflow local} (Kafka
 * Streams, PostgreSQL) make its facts from the template's real capture, exactly what the kv
 * server logged. The classes are nowhere on the classpath: only the folder brings them.
 */
class PluginFolderTest {

  private static final Path TEMPLATE = Path.of("..", "examples", "plugin-template");

  @TempDir
  static Path tmp;

  private static Path plugins;
  private static List<Map<String, String>> serverLog;

  @BeforeAll
  static void buildThePluginJar() throws IOException {
    Path classes = Files.createDirectories(tmp.resolve("classes"));
    List<String> sources;
    try (Stream<Path> s = Files.walk(TEMPLATE.resolve("src/main/java"))) {
      sources = s.filter(p -> p.toString().endsWith(".java")).map(Path::toString).toList();
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    List<String> args = new ArrayList<>(List.of("--release", "17", "-d", classes.toString(), "-classpath",
        System.getProperty("java.class.path")));
    args.addAll(sources);
    assertEquals(0, javac.run(null, null, null, args.toArray(String[]::new)), "the template compiles");

    plugins = Files.createDirectories(tmp.resolve("plugins"));
    Manifest mf = new Manifest();
    mf.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    mf.getMainAttributes().put(Attributes.Name.IMPLEMENTATION_VERSION, "1.0.0-test");
    try (OutputStream f = Files.newOutputStream(plugins.resolve("tapflow-plugin-kv.jar"));
        JarOutputStream jar = new JarOutputStream(f, mf);
        Stream<Path> files = Files.walk(classes)) {
      for (Path c : files.filter(Files::isRegularFile).toList()) {
        jar.putNextEntry(new JarEntry(classes.relativize(c).toString().replace('\\', '/')));
        jar.write(Files.readAllBytes(c));
        jar.closeEntry();
      }
      String service = "META-INF/services/dev.tapflow.protocol.api.Protocol";
      jar.putNextEntry(new JarEntry(service));
      jar.write(Files.readAllBytes(TEMPLATE.resolve("src/main/resources").resolve(service)));
      jar.closeEntry();
    }
    serverLog = TsvRows.read(TEMPLATE.resolve("src/test/resources/kv.server-log.tsv"));
  }

  @AfterAll
  static void classpathProtocolsAgain() {
    ProtocolCatalog.install(ProtocolCatalog.load(List.of()));
  }

  private static String run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Tapflow.commandLine();
    cl.setOut(new PrintWriter(out));
    cl.setErr(new PrintWriter(err));
    int rc = cl.execute(args);
    assertEquals(0, rc, String.join(" ", args) + ": " + err);
    return out.toString();
  }

  @Test
  void protocolsListsThePluginWithItsPortAndVersion() {
    String out = run("protocols", "--plugins", plugins.toString());
    List<String> lines = out.lines().map(String::strip).filter(l -> !l.startsWith("-")).toList();
    assertTrue(lines.get(0).startsWith("PROTOCOL"), out);
    List<String> names = lines.stream().skip(1).map(l -> l.split("\\s+")[0]).toList();
    assertEquals(List.of("redis", "memcached", "dns", "kafka", "http", "kv"), names, out);
    String kv = lines.stream().filter(l -> l.startsWith("kv ")).findFirst().orElseThrow();
    assertTrue(kv.matches("kv\\s+7070\\s+-\\s+1\\.0\\.0-test\\s+.*tapflow-plugin-kv\\.jar\\s*"), kv);
    assertTrue(lines.stream().anyMatch(l -> l.matches("http\\s+80,8080\\s+-\\s+\\S+\\s+classpath")), out);
    assertTrue(lines.stream().anyMatch(l -> l.matches("dns\\s+53\\s+53\\s+\\S+\\s+built-in")), out);
  }

  @Test
  void analyzeAndLocalMakeThePluginsFacts() throws Exception {
    Path pcap = TEMPLATE.resolve("src/test/resources/kv.pcap");
    List<String> expected = serverLog.stream()
        .map(l -> l.get("command") + " " + l.get("key") + " " + (l.get("answer").startsWith("OK") ? "OK" : "ERROR"))
        .sorted().toList();

    String jsonl = run("analyze", "--plugins", plugins.toString(), "--format", "jsonl", pcap.toString());
    List<String> analyzed = jsonl.lines().filter(l -> l.contains("\"protocol\": \"kv\""))
        .map(l -> field(l, "command") + " " + field(l, "resource") + " " + field(l, "status")).sorted().toList();
    assertEquals(expected, analyzed, jsonl);

    Path home = tmp.resolve("home");
    String report = run("local", "--home", home.toString(), "--plugins", plugins.toString(), pcap.toString());
    assertTrue(report.contains("kv"), report);
    List<String> stored = new ArrayList<>();
    try (EmbeddedPostgres pg = EmbeddedPostgres.start(home.resolve("postgres"));
        Connection c = pg.connect(); Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT command, resource, status FROM latency_facts WHERE protocol = 'kv'")) {
      while (rs.next()) {
        stored.add(rs.getString(1) + " " + rs.getString(2) + " " + rs.getString(3));
      }
    }
    assertEquals(expected, stored.stream().sorted().toList());
  }

  /** A string field of one JSON line (the plug-in's values hold no quotes). */
  private static String field(String json, String name) {
    String key = "\"" + name + "\": \"";
    int at = json.indexOf(key) + key.length();
    return json.substring(at, json.indexOf('"', at));
  }
}
