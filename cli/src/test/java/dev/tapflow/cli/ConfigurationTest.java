package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The configuration file and TAPFLOW_* environment: precedence (command line, qualified env,
 * env, qualified file key, file key, default), lists, Kafka properties passed through, and
 * {@code tapflow config check}: secrets never printed, mistakes are exit 2.
 */
class ConfigurationTest {
  @TempDir
  Path dir;

  private static final String SECRET = "s3cret-Pa55";

  private Path file(String... lines) throws Exception {
    Path f = dir.resolve("tapflow.properties");
    Files.write(f, List.of(lines));
    return f;
  }

  /** Parses {@code args} like {@link Tapflow#main} (the --config file read first) and returns the subcommand object. */
  private static <T> T parse(Map<String, String> env, String... args) {
    CommandLine cl = Tapflow.commandLine(env);
    cl.setDefaultValueProvider(ConfigDefaults.load(ConfigCommand.configFile(args), env));
    CommandLine.ParseResult r = cl.parseArgs(args);
    return r.subcommand().commandSpec().commandLine().getCommand();
  }

  @Test
  void everyOptionOfEveryCommandComesFromTheFileOrTheEnvironmentInOrder() throws Exception {
    Path f = file("max-batch = 100", "sink.max-batch = 200", "bootstrap-servers = file:9092",
        "interface = eth0 eth1", "port = 6379 11211", "protocol = redis=6380,6381 memcached=11212",
        "kafka.security.protocol = SASL_SSL", "kafka.linger.ms = 7");
    SinkCommand sink = parse(Map.of(), "sink", "--config", f.toString());
    assertEquals(200, sink.maxBatch, "command-qualified key beats the plain one");
    assertEquals("file:9092", sink.kafka.bootstrapServers);

    SinkCommand fromEnv = parse(Map.of("TAPFLOW_MAX_BATCH", "300"), "sink", "--config", f.toString());
    assertEquals(300, fromEnv.maxBatch, "environment beats the file");
    SinkCommand qualifiedEnv = parse(Map.of("TAPFLOW_MAX_BATCH", "300", "TAPFLOW_SINK_MAX_BATCH", "400"),
        "sink", "--config", f.toString());
    assertEquals(400, qualifiedEnv.maxBatch);
    SinkCommand cli = parse(Map.of("TAPFLOW_SINK_MAX_BATCH", "400"), "sink", "--config", f.toString(),
        "--max-batch", "500");
    assertEquals(500, cli.maxBatch, "the command line beats everything");
    SinkCommand viaEnvFile = parse(Map.of("TAPFLOW_CONFIG", f.toString()), "sink");
    assertEquals(200, viaEnvFile.maxBatch, "$TAPFLOW_CONFIG names the file");
    SinkCommand none = parse(Map.of(), "sink");
    assertEquals(5000, none.maxBatch, "the built-in default without file or environment");

    CaptureCommand capture = parse(Map.of(), "capture", "--config", f.toString());
    assertEquals(List.of("eth0", "eth1"), capture.live.interfaces, "a repeatable option takes a space-separated list");
    assertEquals(List.of(6379, 11211), capture.live.ports);
    ProcessCommand process = parse(Map.of("TAPFLOW_KAFKA_SASL_MECHANISM", "PLAIN"), "process", "--config", f.toString());
    assertEquals(List.of("redis=6380,6381", "memcached=11212"), process.pipeline.serverPorts);
    Map<String, Object> kafka = process.kafka.clientProperties();
    assertEquals("SASL_SSL", kafka.get("security.protocol"), "kafka.* lines are client properties");
    assertEquals("7", kafka.get("linger.ms"));
    assertEquals("PLAIN", kafka.get("sasl.mechanism"), "TAPFLOW_KAFKA_* too");

    Path kafkaFile = dir.resolve("kafka.properties");
    Files.writeString(kafkaFile, "linger.ms=9\n");
    ProcessCommand withKafkaConfig = parse(Map.of("TAPFLOW_KAFKA_CONFIG", kafkaFile.toString()), "process",
        "--config", f.toString());
    assertEquals("9", withKafkaConfig.kafka.clientProperties().get("linger.ms"),
        "TAPFLOW_KAFKA_CONFIG is the --kafka-config option, and its file wins");
  }

  @Test
  void configCheckPrintsTheEffectiveSettingsWithSecretsMasked() throws Exception {
    Path f = file("bootstrap-servers = kafka:9092",
        "jdbc-url = jdbc:postgresql://db:5432/tapflow?user=tapflow&password=" + SECRET,
        "jdbc-password = " + SECRET,
        "kafka.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required "
            + "username=\"agent\" password=\"" + SECRET + "\";",
        "kafka.ssl.key.password = " + SECRET, "kafka.ssl.keystore.password = " + SECRET,
        "kafka.ssl.truststore.location = /etc/tapflow/truststore.jks", "capture.interface = eth0");
    Run r = run(Map.of("TAPFLOW_SINK_MAX_BATCH", "250"), "config", "check", "--config", f.toString());
    assertEquals(0, r.code, r.err);
    assertFalse(r.out.contains(SECRET) || r.err.contains(SECRET), r.out);
    assertTrue(r.out.contains("bootstrap-servers") && r.out.contains("kafka:9092   (file bootstrap-servers)"), r.out);
    assertTrue(r.out.contains("max-batch") && r.out.contains("250   (env TAPFLOW_SINK_MAX_BATCH)"), r.out);
    assertTrue(r.out.contains("interface") && r.out.contains("eth0   (file capture.interface)"), r.out);
    assertTrue(r.out.contains("sasl.jaas.config = " + ConfigDefaults.MASK), r.out);
    assertTrue(r.out.contains("ssl.key.password = " + ConfigDefaults.MASK), r.out);
    assertTrue(r.out.contains("ssl.truststore.location = /etc/tapflow/truststore.jks"), r.out);
    assertTrue(r.out.contains("jdbc-password = " + ConfigDefaults.MASK), r.out);
    assertTrue(r.out.contains("password=" + ConfigDefaults.MASK), "a password inside a URL is masked too: " + r.out);
  }

  @Test
  void configCheckRefusesUnknownKeysAndValuesThatWillNotParse() throws Exception {
    Path f = file("bootstrap-server = kafka:9092", "sink.max-batch = lots", "capture.stats-interval = 10 parsecs");
    Run r = run(Map.of("TAPFLOW_BACKLOG", "16 apples"), "config", "check", "--config", f.toString());
    assertEquals(2, r.code, r.out);
    assertTrue(r.err.contains("unknown key 'bootstrap-server'"), r.err);
    assertTrue(r.err.contains("sink --max-batch (file sink.max-batch): not a number: 'lots'"), r.err);
    assertTrue(r.err.contains("capture --stats-interval"), r.err);
    assertTrue(r.err.contains("capture --backlog (env TAPFLOW_BACKLOG)"), r.err);

    Run missing = run(Map.of(), "config", "check", "--config", dir.resolve("nope.properties").toString());
    assertEquals(2, missing.code);
    assertTrue(missing.err.contains("nope.properties"), missing.err);
  }

  record Run(int code, String out, String err) {}

  private static Run run(Map<String, String> env, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Tapflow.commandLine(env);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new Run(code, out.toString(), err.toString());
  }
}
