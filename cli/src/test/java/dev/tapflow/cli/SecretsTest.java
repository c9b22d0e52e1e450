package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.embedded.EmbeddedKafka;
import dev.tapflow.embedded.EmbeddedPostgres;
import dev.tapflow.stream.topology.ProcessorConfig;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No secret leaves the processor. Real sessions that send known passwords through every
 * command that carries one ({@code scripts/capture-secrets.sh}: AUTH, HELLO AUTH, MIGRATE
 * AUTH/AUTH2, CONFIG SET requirepass/masterauth, ACL SETUSER >pass #hash <pass !hash, a
 * refused hash Redis quotes back, a wrong password; memcached binary SASL Auth and Step) and
 * Kafka SASL PLAIN and SCRAM-SHA-256/512 (right and wrong passwords; SCRAM's nonces, salts, proofs
 * and signatures as read from the capture), and passwords split across segments by the client
 * ({@code scripts/capture-split-secrets.sh}: the processor saves the connection's state, which
 * goes to its changelog topic, with part of a password received) go through {@code tapflow
 * local} (in-JVM broker and PostgreSQL), {@code tapflow analyze}, {@code slow} and {@code sql}. Then every record of every topic (keys, values,
 * headers; internal topics too: the Streams application's changelogs and repartition topics
 * (this topology has none), offsets, transactions; aborted transactions included), every
 * row of every table, every log line and everything the commands printed is searched for
 * each secret, its base64 (at each alignment) and its hex: 0 occurrences. The one place the
 * passwords must be is the segments topic (raw packets, the processor's input): found there,
 * which shows the search works (a split password's pieces, in different records). The
 * connections changelog must hold a state saved mid-password (its masked form), or the split
 * case proved nothing.
 */
class SecretsTest {

  private static final Path PCAP = Path.of("..", "stream-processor", "src", "test", "resources", "pcap");
  private static final Path REDIS = PCAP.resolve("secrets/secrets.pcap");
  private static final Path KAFKA = PCAP.resolve("kafka/sasl-plain.pcap");
  private static final Path SCRAM = PCAP.resolve("kafka/sasl-scram.pcap");
  /** SCRAM's passwords (kafka/README.md): never on the wire, so they must be nowhere at all. */
  private static final List<String> SCRAM_PASSWORDS = List.of("tapflow-kafka-scram-password",
      "tapflow-kafka-scram-wrong-password");
  /** SCRAM attributes (RFC 5802 §5.1): nonce, salt, client proof, server signature. */
  private static final java.util.regex.Pattern SCRAM_VALUE =
      java.util.regex.Pattern.compile("(?<![A-Za-z0-9])([rspv])=([A-Za-z0-9+/=]{16,})");
  /** Passwords split across segments 30 ms apart: the processor saves connection state holding part of one. */
  private static final Path SPLIT = PCAP.resolve("secrets/split.pcap");
  private static final String SQL_KEY = "k'); DROP TABLE latency_facts; --";

  @TempDir
  Path home;

  @Test
  void noSecretInAnyTopicTableLogOrOutput() throws Exception {
    List<String> secrets = new ArrayList<>(Files.readAllLines(PCAP.resolve("secrets/secrets.txt")));
    secrets.addAll(List.of("tapflow-kafka-fixture-password", "tapflow-kafka-wrong-password")); // see kafka/README.md
    // each line: a password's pieces as the client wrote them (separate segments and segment batches)
    List<List<String>> split = Files.readAllLines(PCAP.resolve("secrets/split.txt")).stream()
        .map(line -> List.of(line.split(" "))).toList();
    split.forEach(pieces -> secrets.add(String.join("", pieces)));
    // what SCRAM sends instead of the password, read from the capture's bytes
    java.util.regex.Matcher scram = SCRAM_VALUE.matcher(new String(Files.readAllBytes(SCRAM), StandardCharsets.ISO_8859_1));
    int scramValues = 0;
    for (; scram.find(); scramValues++) {
      secrets.add(scram.group(2));
    }
    assertTrue(scramValues >= 4, "nonces, salts, proofs and signatures in " + SCRAM);
    Map<String, String> searched = new LinkedHashMap<>();

    PrintStream stdout = System.out;
    PrintStream stderr = System.err;
    ByteArrayOutputStream logs = new ByteArrayOutputStream();
    System.setOut(new PrintStream(tee(logs, stdout), true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(tee(logs, stderr), true, StandardCharsets.UTF_8));
    try {
      searched.put("tapflow local", run("local", "--home", home.toString(), "--partitions", "2",
          REDIS.toString(), KAFKA.toString(), SPLIT.toString(), SCRAM.toString()));
      searched.put("tapflow analyze", run("analyze", REDIS.toString(), KAFKA.toString(), SPLIT.toString(),
          SCRAM.toString()));
      searched.put("tapflow analyze --format jsonl", run("analyze", "--format", "jsonl", REDIS.toString(), KAFKA.toString(),
          SPLIT.toString(), SCRAM.toString()));
      searched.put("tapflow slow", run("slow", "--home", home.toString(), "--since", "100000h", "--limit", "1000"));
      searched.put("tapflow sql", run("sql", "--home", home.toString(), "SELECT * FROM latency_facts"));
      searched.put("tapflow slow --command (SQL text)", run("slow", "--home", home.toString(), "--since", "100000h",
          "--command", "GET' OR '1'='1"));
    } finally {
      System.setOut(stdout);
      System.setErr(stderr);
    }
    searched.put("log output", logs.toString(StandardCharsets.UTF_8));

    String segments;
    List<String> segmentRecords;
    String connections;
    try (EmbeddedKafka kafka = EmbeddedKafka.start(home.resolve("kafka"))) {
      Map<String, List<String>> records = dumpTopics(kafka);
      segmentRecords = records.remove(ProcessorConfig.SEGMENTS_TOPIC);
      segments = String.join("\n", segmentRecords);
      Map<String, String> topics = new LinkedHashMap<>();
      records.forEach((t, r) -> topics.put(t, String.join("\n", r)));
      connections = topics.entrySet().stream()
          .filter(t -> t.getKey().endsWith("-" + ProcessorConfig.CONNECTIONS_STORE + "-changelog"))
          .map(Map.Entry::getValue).findFirst().orElse(null);
      assertTrue(topics.containsKey(ProcessorConfig.FACTS_TOPIC) && connections != null, "topics dumped: "
          + topics.keySet());
      topics.forEach((t, text) -> searched.put("topic " + t, text));
    }
    try (EmbeddedPostgres pg = EmbeddedPostgres.start(home.resolve("postgres"));
        Connection c = pg.connect()) {
      dumpTables(c).forEach((t, text) -> searched.put("table " + t, text));
      try (java.sql.PreparedStatement ps = c.prepareStatement("SELECT count(*) FROM latency_facts WHERE resource = ?")) {
        ps.setString(1, SQL_KEY);
        ResultSet rs = ps.executeQuery();
        rs.next();
        assertEquals(1, rs.getLong(1), "the key that is SQL is stored as text, and latency_facts is still there");
      }
    }

    // each piece of a split password is in the raw segments, the whole password in no one record
    for (List<String> pieces : split) {
      String whole = String.join("", pieces);
      for (String piece : pieces) {
        assertTrue(segments.contains(piece), "the search finds " + piece + " of " + whole + " in the raw segments");
      }
      assertTrue(segmentRecords.stream().noneMatch(r -> r.contains(whole)), whole + " went in one segment batch");
    }
    List<String> leaks = new ArrayList<>();
    for (String secret : secrets) {
      List<String> pieces = split.stream().filter(p -> String.join("", p).equals(secret)).findFirst().orElse(null);
      if (pieces != null) {
        // a saved state would hold a piece, not the whole
        pieces.forEach(piece -> search(piece, searched, leaks));
      } else {
        assertTrue(forms(secret).stream().anyMatch(segments::contains) || isHashedOnly(secret, secrets),
            "the search finds " + secret + " where it must be: the raw segments");
      }
      search(secret, searched, leaks);
    }
    for (String password : SCRAM_PASSWORDS) {
      assertTrue(forms(password).stream().noneMatch(segments::contains), "SCRAM sends no password");
      search(password, searched, leaks);
    }
    assertEquals(List.of(), leaks, "secrets that left the processor");
    // the changelog holds states saved with part of a password received (masked: see
    // RedisCommands.savedBytes), or the split passwords proved nothing
    assertTrue(split.stream().anyMatch(p -> connections.contains("*".repeat(p.get(0).length()))),
        "a connection state saved mid-password in the changelog");
    assertTrue(searched.get("tapflow analyze").contains("<redacted>"), searched.get("tapflow analyze"));
  }

  private static void search(String secret, Map<String, String> searched, List<String> leaks) {
    for (Map.Entry<String, String> e : searched.entrySet()) {
      for (String form : forms(secret)) {
        if (e.getValue().contains(form)) {
          leaks.add(secret + " (as " + form + ") in " + e.getKey());
        }
      }
    }
  }

  /** S3 is never sent, only its SHA-256 (the next line of secrets.txt): it cannot be in the segments either. */
  private static boolean isHashedOnly(String secret, List<String> secrets) {
    int i = secrets.indexOf(secret);
    return i + 1 < secrets.size() && secrets.get(i + 1).matches("[0-9a-f]{64}");
  }

  /** The secret as text, hex (both cases) and base64 at each of the three alignments. */
  static List<String> forms(String secret) {
    byte[] b = secret.getBytes(StandardCharsets.UTF_8);
    List<String> out = new ArrayList<>(List.of(secret, HexFormat.of().formatHex(b),
        HexFormat.of().withUpperCase().formatHex(b)));
    for (int shift = 0; shift < 3; shift++) {
      byte[] shifted = new byte[shift + b.length];
      System.arraycopy(b, 0, shifted, shift, b.length);
      String b64 = Base64.getEncoder().encodeToString(shifted);
      // drop the characters the neighbouring bytes also decide: the first group when shifted, the last group
      out.add(b64.substring(shift == 0 ? 0 : 4, b64.length() - 4));
    }
    return out;
  }

  private static String run(String... args) {
    CliRun r = CliRun.of(args);
    assertEquals(0, r.rc(), String.join(" ", args) + ": " + r.err());
    return r.out() + "\n" + r.err();
  }

  private static OutputStream tee(OutputStream a, OutputStream b) {
    return new OutputStream() {
      @Override
      public void write(int x) throws java.io.IOException {
        a.write(x);
        b.write(x);
      }

      @Override
      public void write(byte[] buf, int off, int len) throws java.io.IOException {
        a.write(buf, off, len);
        b.write(buf, off, len);
      }
    };
  }

  /** Every record of every topic, internal ones too, as text: key, value and headers bytes read as ISO-8859-1. */
  private static Map<String, List<String>> dumpTopics(EmbeddedKafka kafka) throws Exception {
    Map<String, List<String>> out = new LinkedHashMap<>();
    Set<String> names;
    try (Admin admin = Admin.create(kafka.adminProperties())) {
      names = admin.listTopics(new org.apache.kafka.clients.admin.ListTopicsOptions().listInternal(true))
          .names().get();
    }
    Properties p = new Properties();
    p.put("bootstrap.servers", kafka.bootstrapServers());
    p.put("isolation.level", "read_uncommitted"); // aborted records too
    p.put("exclude.internal.topics", "false");
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
        new ByteArrayDeserializer())) {
      for (String topic : names) {
        List<TopicPartition> parts = consumer.partitionsFor(topic).stream()
            .map(i -> new TopicPartition(topic, i.partition())).toList();
        consumer.assign(parts);
        consumer.seekToBeginning(parts);
        Map<TopicPartition, Long> ends = consumer.endOffsets(parts);
        List<String> records = new ArrayList<>();
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (parts.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp)) && System.nanoTime() < deadline) {
          for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(200))) {
            StringBuilder text = new StringBuilder();
            text.append(latin1(r.key())).append('\t').append(latin1(r.value()));
            for (Header h : r.headers()) {
              text.append('\t').append(h.key()).append('=').append(latin1(h.value()));
            }
            records.add(text.toString());
          }
        }
        out.put(topic, records);
      }
    }
    return out;
  }

  /** Every row of every table (partitions included) as text; byte columns read as ISO-8859-1. */
  private static Map<String, String> dumpTables(Connection c) throws Exception {
    List<String> tables = new ArrayList<>();
    try (Statement s = c.createStatement();
        ResultSet rs = s.executeQuery("SELECT schemaname || '.' || tablename FROM pg_tables"
            + " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")) {
      while (rs.next()) {
        tables.add(rs.getString(1));
      }
    }
    assertTrue(tables.stream().anyMatch(t -> t.endsWith(".latency_facts")), tables.toString());
    Map<String, String> out = new LinkedHashMap<>();
    for (String table : tables) {
      StringBuilder text = new StringBuilder();
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT * FROM " + table)) {
        ResultSetMetaData md = rs.getMetaData();
        while (rs.next()) {
          for (int i = 1; i <= md.getColumnCount(); i++) {
            Object v = rs.getObject(i);
            text.append(v instanceof byte[] b ? latin1(b) : String.valueOf(v)).append('\t');
          }
          text.append('\n');
        }
      }
      out.put(table, text.toString());
    }
    return out;
  }

  private static String latin1(byte[] b) {
    return b == null ? "" : new String(b, StandardCharsets.ISO_8859_1);
  }
}
