package dev.tapflow.stream.protocol.kafka;

import dev.tapflow.embedded.EmbeddedKafka;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Records the Kafka fixtures: an Apache Kafka broker in this JVM (KRaft, {@link EmbeddedKafka})
 * and real Java clients, each scenario captured by tcpdump into its own pcap, with the
 * broker's and the clients' own counts of requests beside it. Run by
 * {@code scripts/capture-kafka.sh} inside a network namespace whose {@code lo} has a
 * 1500-byte MTU; see {@code src/test/resources/pcap/kafka/README.md} for what it writes.
 *
 * <pre>KafkaFixtureRecorder OUTDIR WORKDIR [SCENARIO,...]</pre> (the named scenarios only; all by default)
 *
 * <p>Truth per scenario, taken between "tcpdump is listening" and "clients closed + 1.5 s":
 *
 * <ul>
 *   <li>{@code broker_requests}: the broker's RequestMetrics {@code RequestsPerSec} count per
 *       request name (JMX), on all listeners;
 *   <li>{@code controller_listener_requests}: requests the broker's request log
 *       ({@code kafka.request.logger}) shows on the CONTROLLER listener, which tcpdump does not
 *       capture (the broker talking to its own controller: forwarded CreateTopics,
 *       AllocateProducerIds, ...);
 *   <li>{@code sasl_authentications}: the broker's {@code successful-authentication-total} and
 *       {@code failed-authentication-total} on the SASL listener (JMX, socket-server-metrics);
 *   <li>{@code client_request_total}: each client's {@code request-total} metric.
 * </ul>
 *
 * And {@code <name>.requests.tsv}: every request the broker's request log shows on a
 * captured listener (listener, client endpoint, api key, version, correlation id, client id).
 */
public final class KafkaFixtureRecorder {

  static final int PLAINTEXT_PORT = 9092;
  static final int SASL_PORT = 29092;
  static final int CONTROLLER_PORT = 9093;
  /** Fake; on the wire on purpose: the redaction tests look for it in every fact and anomaly. */
  static final String FIXTURE_PASSWORD = "tapflow-kafka-fixture-password";
  /** Fake too: a client that authenticates with it fails. */
  static final String WRONG_PASSWORD = "tapflow-kafka-wrong-password";
  static final String SASL_USER = "alice";
  /** Fake; never on the wire (SCRAM proves it, RFC 5802): the capture holds nonces, salt, proof and signature instead. */
  static final String SCRAM_PASSWORD = "tapflow-kafka-scram-password";
  /** Fake too: a SCRAM client that proves it fails. */
  static final String SCRAM_WRONG_PASSWORD = "tapflow-kafka-scram-wrong-password";
  static final String SCRAM_USER = "carol";
  static final int SCRAM_ITERATIONS = 4096;

  static final String ORDERS = "orders";
  static final int ORDERS_PARTITIONS = 12;
  static final String EVENTS = "events";
  static final int EVENTS_PARTITIONS = 3;
  static final int ORDERS_RECORDS = 240;
  static final int EVENTS_RECORDS = 60;
  static final int TX_COMMITTED = 20;
  static final int TX_ABORTED = 10;

  private static final double SETTLE_SECONDS = 1.5;
  private static final Pattern LOGGED = Pattern.compile("Completed request:\\{\"isForwarded\":(true|false),"
      + "\"requestHeader\":\\{\"requestApiKey\":(\\d+),\"requestApiVersion\":(\\d+),\"correlationId\":(-?\\d+),"
      + "\"clientId\":(null|\"(?:[^\"\\\\]|\\\\.)*\")");
  private static final Pattern CONNECTION = Pattern.compile("\"connection\":\"([0-9.]+):(\\d+)-([0-9.]+):(\\d+)-");
  private static final Pattern LISTENER = Pattern.compile("\"listener\":\"([A-Z_]+)\"");

  private final Path out;
  private final Path work;
  private final Path requestLog;
  private final List<String> summary = new ArrayList<>();
  /** scenarios to record (all when empty): the others' fixtures stay as they are */
  private final Set<String> only;
  private EmbeddedKafka kafka;

  private KafkaFixtureRecorder(Path out, Path work, Set<String> only) {
    this.only = only;
    this.out = out;
    this.work = work;
    this.requestLog = work.resolve("broker.log");
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 2 && args.length != 3) {
      System.err.println("usage: KafkaFixtureRecorder OUTDIR WORKDIR [SCENARIO,...]");
      System.exit(2);
    }
    Path out = Path.of(args[0]);
    Path work = Path.of(args[1]);
    Files.createDirectories(out);
    Files.createDirectories(work);
    // everything slf4j says goes to a file; the request logger's DEBUG lines are truth
    System.setProperty("org.slf4j.simpleLogger.logFile", work.resolve("broker.log").toString());
    System.setProperty("org.slf4j.simpleLogger.log.kafka.request.logger", "debug");
    System.setProperty("org.slf4j.simpleLogger.showDateTime", "false");
    Set<String> only = args.length == 3 && !args[2].isBlank() ? Set.of(args[2].split(",")) : Set.of();
    KafkaFixtureRecorder r = new KafkaFixtureRecorder(out, work, only);
    try {
      r.run();
    } finally {
      if (r.kafka != null) {
        r.kafka.close();
      }
    }
    System.out.println(String.join("\n", r.summary));
    System.exit(0); // client and broker threads that linger must not keep the JVM
  }

  private void run() throws Exception {
    kafka = EmbeddedKafka.builder(work.resolve("kafka")).port(PLAINTEXT_PORT).controllerPort(CONTROLLER_PORT)
        .config("listeners", "PLAINTEXT://127.0.0.1:" + PLAINTEXT_PORT + ",SASL_PLAINTEXT://127.0.0.1:" + SASL_PORT
            + ",CONTROLLER://127.0.0.1:" + CONTROLLER_PORT)
        .config("advertised.listeners", "PLAINTEXT://127.0.0.1:" + PLAINTEXT_PORT
            + ",SASL_PLAINTEXT://127.0.0.1:" + SASL_PORT)
        .config("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT")
        .config("sasl.enabled.mechanisms", "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512")
        .config("listener.name.sasl_plaintext.plain.sasl.jaas.config",
            "org.apache.kafka.common.security.plain.PlainLoginModule required user_" + SASL_USER + "=\""
                + FIXTURE_PASSWORD + "\";")
        .config("listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required;")
        .config("listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required;")
        .start();
    log("broker " + kafka.bootstrapServers() + " (SASL_PLAINTEXT on " + SASL_PORT + ") started in "
        + kafka.startTime().toMillis() + " ms");
    if (only.isEmpty() || only.contains("admin")) {
      scenario("admin", this::admin);
    } else {
      createTopics(); // what later scenarios use, uncaptured
    }
    scenario("producer", this::producer);
    scenario("consumer-classic", () -> consumer("classic", "tapflow-consumer-classic", "tapflow-classic-group"));
    scenario("consumer-kip848", () -> consumer("consumer", "tapflow-consumer-kip848", "tapflow-kip848-group"));
    scenario("transactions", this::transactions);
    scenario("sasl-plain", this::saslPlain);
    if (only.isEmpty() || only.contains("sasl-scram")) {
      addScramCredentials();
    }
    scenario("sasl-scram", this::saslScram);
  }

  /** The topics the admin scenario makes, made without capturing (when only later scenarios are recorded). */
  private void createTopics() throws Exception {
    try (Admin a = Admin.create(adminProps("tapflow-setup", PLAINTEXT_PORT))) {
      a.createTopics(List.of(new NewTopic(ORDERS, ORDERS_PARTITIONS, (short) 1),
          new NewTopic(EVENTS, EVENTS_PARTITIONS, (short) 1))).all().get();
    }
  }

  /** SCRAM-SHA-256 and -512 credentials of {@link #SCRAM_USER} (KRaft: in the metadata log), before capturing. */
  private void addScramCredentials() throws Exception {
    try (Admin a = Admin.create(adminProps("tapflow-setup", PLAINTEXT_PORT))) {
      for (ScramMechanism m : List.of(ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512)) {
        // one credential of a user per request
        a.alterUserScramCredentials(List.of(new UserScramCredentialUpsertion(SCRAM_USER,
            new ScramCredentialInfo(m, SCRAM_ITERATIONS), SCRAM_PASSWORD))).all().get();
      }
      long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
      while (a.describeUserScramCredentials(List.of(SCRAM_USER)).all().get().get(SCRAM_USER).credentialInfos().size() < 2) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("SCRAM credentials not visible after 30 s");
        }
        Thread.sleep(100);
      }
    }
    Thread.sleep(1000); // the broker's credential cache follows the metadata log
  }

  // ---- scenarios ---------------------------------------------------------------------------

  /** Admin client: creates the topics the later scenarios use, describes, provokes two errors. */
  private List<String> admin() throws Exception {
    String id = "tapflow-admin";
    try (Admin a = Admin.create(adminProps(id, PLAINTEXT_PORT))) {
      a.createTopics(List.of(new NewTopic(ORDERS, ORDERS_PARTITIONS, (short) 1),
          new NewTopic(EVENTS, EVENTS_PARTITIONS, (short) 1), new NewTopic("scratch", 1, (short) 1))).all().get();
      expectFailure(a.createTopics(List.of(new NewTopic(ORDERS, ORDERS_PARTITIONS, (short) 1))).all()); // TOPIC_ALREADY_EXISTS
      a.describeTopics(List.of(ORDERS, EVENTS)).allTopicNames().get();
      expectFailure(a.describeTopics(List.of("no-such-topic")).allTopicNames()); // UNKNOWN_TOPIC_OR_PARTITION
      a.describeCluster().nodes().get();
      a.describeConfigs(List.of(new ConfigResource(ConfigResource.Type.TOPIC, ORDERS))).all().get();
      a.listTopics().names().get();
      a.deleteTopics(List.of("scratch")).all().get();
      a.listGroups().all().get();
    }
    return List.of(id);
  }

  /** An idempotent acks=all producer over 12 partitions, then an acks=0 producer. */
  private List<String> producer() throws Exception {
    String all = "tapflow-producer";
    String zero = "tapflow-producer-acks0";
    Properties p = producerProps(all, PLAINTEXT_PORT);
    p.put(ProducerConfig.ACKS_CONFIG, "all");
    p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      for (int i = 0; i < ORDERS_RECORDS; i++) {
        producer.send(new ProducerRecord<>(ORDERS, i % ORDERS_PARTITIONS, "order-" + i, value("order", i)));
        if (i % 40 == 39) {
          producer.flush();
        }
      }
      producer.flush();
    }
    Properties z = producerProps(zero, PLAINTEXT_PORT);
    z.put(ProducerConfig.ACKS_CONFIG, "0");
    z.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
    z.put(ProducerConfig.LINGER_MS_CONFIG, "5");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(z)) {
      for (int i = 0; i < EVENTS_RECORDS; i++) {
        producer.send(new ProducerRecord<>(EVENTS, i % EVENTS_PARTITIONS, "event-" + i, value("event", i)));
        if (i % 20 == 19) {
          producer.flush();
        }
      }
      producer.flush();
    }
    return List.of(all, zero);
  }

  /** A consumer of the given group protocol reads every record of both topics, commits, leaves. */
  private List<String> consumer(String protocol, String id, String group) throws Exception {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + PLAINTEXT_PORT);
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, id);
    p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
    p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
    p.put(ConsumerConfig.METRIC_REPORTER_CLASSES_CONFIG, ClientRequestTotals.class.getName());
    // committed transactional records only; the acks=0 records are all there (nothing was lost on lo)
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    int expected = ORDERS_RECORDS + EVENTS_RECORDS;
    int got = 0;
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
      c.subscribe(List.of(ORDERS, EVENTS));
      long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
      while (got < expected) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(id + ": " + got + " of " + expected + " records in 90 s");
        }
        ConsumerRecords<String, String> records = c.poll(Duration.ofMillis(500));
        got += records.count();
      }
      c.commitSync();
      c.poll(Duration.ofMillis(1200)); // an empty long-poll Fetch or two after the end
    }
    if (got != expected) {
      throw new IllegalStateException(id + ": " + got + " records, expected " + expected);
    }
    return List.of(id);
  }

  /** A transactional producer: one committed transaction with offsets, one aborted. */
  private List<String> transactions() throws Exception {
    String id = "tapflow-tx-producer";
    Properties p = producerProps(id, PLAINTEXT_PORT);
    p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, "tapflow-tx");
    try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
      producer.initTransactions();
      producer.beginTransaction();
      for (int i = 0; i < TX_COMMITTED; i++) {
        producer.send(new ProducerRecord<>(EVENTS, i % EVENTS_PARTITIONS, "tx-" + i, value("tx", i)));
      }
      producer.sendOffsetsToTransaction(Map.of(new TopicPartition(ORDERS, 0), new OffsetAndMetadata(5)),
          new ConsumerGroupMetadata("tapflow-tx-group"));
      producer.commitTransaction();
      producer.beginTransaction();
      for (int i = 0; i < TX_ABORTED; i++) {
        producer.send(new ProducerRecord<>(EVENTS, i % EVENTS_PARTITIONS, "aborted-" + i, value("aborted", i)));
      }
      producer.flush();
      producer.abortTransaction();
    }
    return List.of(id);
  }

  /** SASL_PLAINTEXT with PLAIN: an admin and a producer authenticate; a client with a wrong password fails. */
  private List<String> saslPlain() throws Exception {
    String admin = "tapflow-sasl-admin";
    String producer = "tapflow-sasl-producer";
    String wrong = "tapflow-sasl-wrong-password";
    try (Admin a = Admin.create(sasl(adminProps(admin, SASL_PORT), FIXTURE_PASSWORD))) {
      a.describeCluster().nodes().get();
      a.listTopics().names().get();
    }
    try (KafkaProducer<String, String> pr = new KafkaProducer<>(sasl(producerProps(producer, SASL_PORT), FIXTURE_PASSWORD))) {
      for (int i = 0; i < 10; i++) {
        pr.send(new ProducerRecord<>(EVENTS, i % EVENTS_PARTITIONS, "sasl-" + i, value("sasl", i))).get();
      }
    }
    Properties w = sasl(adminProps(wrong, SASL_PORT), WRONG_PASSWORD);
    w.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
    w.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    try (Admin a = Admin.create(w)) {
      expectFailure(a.describeCluster().nodes()); // SaslAuthenticationException
    }
    return List.of(admin, producer, wrong);
  }

  /**
   * SASL_PLAINTEXT with SCRAM (RFC 5802, KIP-84): an Admin client with SCRAM-SHA-256 and a producer
   * with SCRAM-SHA-512 authenticate; an Admin client with a wrong password fails after its proof.
   */
  private List<String> saslScram() throws Exception {
    String admin = "tapflow-scram-admin";
    String producer = "tapflow-scram-producer";
    String wrong = "tapflow-scram-wrong-password";
    try (Admin a = Admin.create(scram(adminProps(admin, SASL_PORT), "SCRAM-SHA-256", SCRAM_PASSWORD))) {
      a.describeCluster().nodes().get();
      a.listTopics().names().get();
    }
    try (KafkaProducer<String, String> pr = new KafkaProducer<>(scram(producerProps(producer, SASL_PORT), "SCRAM-SHA-512",
        SCRAM_PASSWORD))) {
      for (int i = 0; i < 10; i++) {
        pr.send(new ProducerRecord<>(EVENTS, i % EVENTS_PARTITIONS, "scram-" + i, value("scram", i))).get();
      }
    }
    Properties w = scram(adminProps(wrong, SASL_PORT), "SCRAM-SHA-256", SCRAM_WRONG_PASSWORD);
    w.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
    w.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "5000");
    try (Admin a = Admin.create(w)) {
      expectFailure(a.describeCluster().nodes()); // SaslAuthenticationException
    }
    return List.of(admin, producer, wrong);
  }

  // ---- clients -----------------------------------------------------------------------------

  private static Properties scram(Properties p, String mechanism, String password) {
    p.put("security.protocol", "SASL_PLAINTEXT");
    p.put("sasl.mechanism", mechanism);
    p.put("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
        + SCRAM_USER + "\" password=\"" + password + "\";");
    return p;
  }

  private static Properties adminProps(String id, int port) {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + port);
    p.put(AdminClientConfig.CLIENT_ID_CONFIG, id);
    p.put(AdminClientConfig.METRIC_REPORTER_CLASSES_CONFIG, ClientRequestTotals.class.getName());
    return p;
  }

  private static Properties producerProps(String id, int port) {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, "127.0.0.1:" + port);
    p.put(ProducerConfig.CLIENT_ID_CONFIG, id);
    p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
    p.put(ProducerConfig.METRIC_REPORTER_CLASSES_CONFIG, ClientRequestTotals.class.getName());
    return p;
  }

  private static Properties sasl(Properties p, String password) {
    p.put("security.protocol", "SASL_PLAINTEXT");
    p.put("sasl.mechanism", "PLAIN");
    p.put("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
        + SASL_USER + "\" password=\"" + password + "\";");
    return p;
  }

  private static String value(String kind, int i) {
    return String.format(Locale.ROOT, "{\"kind\":\"%s\",\"n\":%d,\"note\":\"tapflow fixture record\"}", kind, i);
  }

  private static void expectFailure(org.apache.kafka.common.KafkaFuture<?> f) throws InterruptedException {
    try {
      f.get();
      throw new IllegalStateException("expected a failure");
    } catch (ExecutionException expected) {
      // the error is what the scenario wants on the wire
    }
  }

  // ---- one scenario ------------------------------------------------------------------------

  interface Traffic {
    /** Runs the clients, closes them, and returns their client ids. */
    List<String> run() throws Exception;
  }

  private void scenario(String name, Traffic traffic) throws Exception {
    if (!only.isEmpty() && !only.contains(name)) {
      return;
    }
    long t0 = System.nanoTime();
    Path pcap = work.resolve(name + ".pcap");
    Tcpdump tcpdump = Tcpdump.start(pcap, "tcp port " + PLAINTEXT_PORT + " or tcp port " + SASL_PORT);
    long logStart = Files.size(requestLog);
    Map<String, Long> before = brokerRequests();
    Map<String, Long> authBefore = saslAuthentications();
    List<String> clients = traffic.run();
    Thread.sleep((long) (SETTLE_SECONDS * 1000));
    Map<String, Long> after = brokerRequests();
    Map<String, Long> authAfter = saslAuthentications();
    tcpdump.stop();

    Map<String, Long> broker = new TreeMap<>();
    after.forEach((k, v) -> {
      long d = v - before.getOrDefault(k, 0L);
      if (d != 0) {
        broker.put(k, d);
      }
    });
    Map<String, Long> auth = new TreeMap<>();
    authAfter.forEach((k, v) -> auth.put(k, v - authBefore.getOrDefault(k, 0L)));
    Map<String, Long> controller = new TreeMap<>();
    List<String> rows = new ArrayList<>();
    rows.add("listener\tclient\tapi_key\tapi\tapi_version\tcorrelation_id\tclient_id");
    for (String line : newLogLines(logStart)) {
      Matcher m = LOGGED.matcher(line);
      Matcher l = LISTENER.matcher(line);
      Matcher c = CONNECTION.matcher(line);
      if (!m.find() || !l.find() || !c.find()) {
        continue;
      }
      String api = ApiKeys.forId(Integer.parseInt(m.group(2))).name;
      if (l.group(1).equals("CONTROLLER")) {
        controller.merge(api, 1L, Long::sum);
        continue;
      }
      String clientId = m.group(5).equals("null") ? "" : m.group(5).substring(1, m.group(5).length() - 1);
      rows.add(l.group(1) + "\t" + c.group(3) + ":" + c.group(4) + "\t" + m.group(2) + "\t" + api + "\t" + m.group(3)
          + "\t" + m.group(4) + "\t" + clientId);
    }
    Map<String, Long> clientTotals = ClientRequestTotals.read(clients);

    StringBuilder json = new StringBuilder("{\n");
    section(json, "broker_requests", broker, true);
    section(json, "controller_listener_requests", controller, true);
    section(json, "sasl_authentications", auth, true);
    section(json, "client_request_total", clientTotals, false);
    json.append("}\n");
    Files.writeString(out.resolve(name + ".truth.json"), json.toString());
    Files.write(out.resolve(name + ".requests.tsv"), rows);
    Files.copy(pcap, out.resolve(name + ".pcap"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    Files.write(out.resolve(name + ".packets.tsv"), Tcpdump.packetsTsv(pcap));
    summary.add(String.format(Locale.ROOT, "%-17s %8d bytes %5d requests logged  broker %s  controller %s  auth %s  clients %s  (%.1f s)",
        name, Files.size(pcap), rows.size() - 1, broker, controller, auth, clientTotals, (System.nanoTime() - t0) / 1e9));
    log(summary.get(summary.size() - 1));
  }

  private static void section(StringBuilder json, String name, Map<String, Long> m, boolean comma) {
    json.append("  \"").append(name).append("\": {");
    int i = 0;
    for (Map.Entry<String, Long> e : m.entrySet()) {
      json.append(i++ == 0 ? "\n" : ",\n").append("    \"").append(e.getKey()).append("\": ").append(e.getValue());
    }
    json.append(m.isEmpty() ? "}" : "\n  }").append(comma ? ",\n" : "\n");
  }

  private List<String> newLogLines(long from) throws IOException {
    byte[] all = Files.readAllBytes(requestLog);
    String text = new String(all, (int) from, all.length - (int) from, StandardCharsets.UTF_8);
    return List.of(text.split("\n"));
  }

  /**
   * RequestsPerSec counts per request name (all versions), from the broker's JMX beans.
   * FetchConsumer and FetchFollower are left out: the broker counts every Fetch under
   * {@code Fetch} and again under one of those two.
   */
  private static Map<String, Long> brokerRequests() throws Exception {
    MBeanServer s = ManagementFactory.getPlatformMBeanServer();
    Map<String, Long> out = new TreeMap<>();
    for (ObjectName n : s.queryNames(new ObjectName("kafka.network:type=RequestMetrics,name=RequestsPerSec,*"), null)) {
      String request = n.getKeyProperty("request");
      if (!request.equals("FetchConsumer") && !request.equals("FetchFollower")) {
        out.merge(request, ((Number) s.getAttribute(n, "Count")).longValue(), Long::sum);
      }
    }
    return out;
  }

  /** Successful and failed authentications on the SASL listener (all network processors). */
  private static Map<String, Long> saslAuthentications() throws Exception {
    MBeanServer s = ManagementFactory.getPlatformMBeanServer();
    Map<String, Long> out = new LinkedHashMap<>();
    out.put("successful", 0L);
    out.put("failed", 0L);
    Set<ObjectName> names = s.queryNames(
        new ObjectName("kafka.server:type=socket-server-metrics,listener=SASL_PLAINTEXT,*"), null);
    for (ObjectName n : names) {
      boolean counts = java.util.Arrays.stream(s.getMBeanInfo(n).getAttributes())
          .anyMatch(a -> a.getName().equals("successful-authentication-total"));
      if (!counts) {
        continue; // the per-client-software beans of the same listener
      }
      out.merge("successful", ((Number) s.getAttribute(n, "successful-authentication-total")).longValue(), Long::sum);
      out.merge("failed", ((Number) s.getAttribute(n, "failed-authentication-total")).longValue(), Long::sum);
    }
    return out;
  }

  private static void log(String s) {
    System.out.println("capture-kafka: " + s);
    System.out.flush();
  }

  /** tcpdump on lo with nanosecond timestamps, and its reading of the file afterwards. */
  static final class Tcpdump {
    private final Process process;
    private final Path stderr;

    private Tcpdump(Process p, Path stderr) {
      this.process = p;
      this.stderr = stderr;
    }

    /** Starts tcpdump and waits until it says it is listening (its stderr goes to a file beside the pcap). */
    static Tcpdump start(Path pcap, String filter) throws Exception {
      Path err = pcap.resolveSibling(pcap.getFileName() + ".tcpdump.err");
      Process p = new ProcessBuilder("tcpdump", "-i", "lo", "-w", pcap.toString(), "-s", "0",
          "--time-stamp-precision=nano", "-B", "4096", filter).redirectError(err.toFile()).start();
      long deadline = System.currentTimeMillis() + 10_000;
      while (!Files.readString(err).contains("listening on")) {
        if (System.currentTimeMillis() > deadline || !p.isAlive()) {
          p.destroy();
          throw new IllegalStateException("tcpdump did not start: " + Files.readString(err));
        }
        Thread.sleep(20);
      }
      return new Tcpdump(p, err);
    }

    /** SIGINT (tcpdump flushes and prints its counters), then 0 packets dropped or fail. */
    void stop() throws Exception {
      new ProcessBuilder("kill", "-INT", Long.toString(process.pid())).inheritIO().start().waitFor();
      process.waitFor();
      String text = Files.readString(stderr);
      Matcher m = Pattern.compile("(\\d+) packets? dropped by kernel").matcher(text);
      if (!m.find()) {
        throw new IllegalStateException("no 'dropped by kernel' line from tcpdump: " + text);
      }
      if (!m.group(1).equals("0")) {
        throw new IllegalStateException("tcpdump dropped " + m.group(1) + " packets: " + text);
      }
    }

    /**
     * tcpdump's own reading ({@code tcpdump -tt -nn -S --nano -r}): one row per TCP packet
     * with payload, ts_ns, src, dst (ip:port), seq (absolute, first payload byte), len.
     */
    static List<String> packetsTsv(Path pcap) throws Exception {
      Process p = new ProcessBuilder("tcpdump", "-tt", "-nn", "-S", "--nano", "-r", pcap.toString(), "tcp")
          .redirectError(ProcessBuilder.Redirect.DISCARD).start();
      List<String> rows = new ArrayList<>();
      rows.add("ts_ns\tsrc\tdst\tseq\tlen");
      Pattern head = Pattern.compile("^(\\d+)\\.(\\d{9}) IP (\\S+)\\.(\\d+) > (\\S+)\\.(\\d+): ");
      Pattern seq = Pattern.compile(" seq (\\d+):(\\d+),");
      Pattern length = Pattern.compile(" length (\\d+)");
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
        for (String s; (s = r.readLine()) != null; ) {
          Matcher m = head.matcher(s);
          Matcher n = length.matcher(s);
          if (!m.find() || !n.find()) {
            throw new IllegalStateException("unexpected tcpdump line: " + s);
          }
          int len = Integer.parseInt(n.group(1));
          if (len == 0) {
            continue;
          }
          Matcher q = seq.matcher(s);
          if (!q.find()) {
            throw new IllegalStateException("no seq range on a packet with payload: " + s);
          }
          long first = Long.parseLong(q.group(1));
          long end = Long.parseLong(q.group(2));
          if (end - first != len) {
            throw new IllegalStateException("seq range and length disagree: " + s);
          }
          rows.add(m.group(1) + m.group(2) + "\t" + m.group(3) + ":" + m.group(4) + "\t" + m.group(5) + ":" + m.group(6)
              + "\t" + first + "\t" + len);
        }
      }
      if (p.waitFor() != 0) {
        throw new IllegalStateException("tcpdump -r " + pcap + " failed");
      }
      return rows;
    }
  }
}
