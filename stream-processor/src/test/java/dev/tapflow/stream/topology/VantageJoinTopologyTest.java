package dev.tapflow.stream.topology;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.capture.BatchListener;
import dev.tapflow.capture.CaptureFileImporter;
import dev.tapflow.capture.KafkaSegmentPublisher;
import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.ConnectionKey;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.VantagePair;
import dev.tapflow.schemas.VantageSetting;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The vantage join in the real topology, on Redis traffic captured at the client's and the
 * server's end of an impaired link at once ({@code pcap/redis-impaired}, two agents: the
 * files' names). Truth from outside tapflow: the server's {@code INFO commandstats} (every
 * request of the impaired scenarios is complete in both captures, checked by the capture
 * script), and which file was captured where.
 */
class VantageJoinTopologyTest {

  private static final Path FIXTURES = Path.of("src", "test", "resources", "pcap", "redis-impaired");

  @TempDir
  Path stateDir;

  private TopologyTestDriver driver;
  private TestInputTopic<byte[], SegmentBatch> segments;
  private TestOutputTopic<byte[], LatencyFact> facts;
  private TestOutputTopic<String, VantagePair> pairs;
  private VantageJoinCounters counters;

  private void start() {
    ProcessorConfig config = ProcessorConfig.defaults();
    Properties props = TapflowTopology.baseProperties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "vantage-join-test");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    counters = new VantageJoinCounters();
    VantageJoinConfig vantage = VantageJoinConfig.defaults();
    driver = new TopologyTestDriver(TapflowTopology.build(config, new ConnectionEngine(config),
        LatencyWindowConfig.defaults(), new LatencyWindowCounters(), vantage, counters), props);
    segments = driver.createInputTopic(config.segmentsTopic(), new ByteArraySerializer(),
        AvroSerde.segmentBatch().serializer());
    facts = driver.createOutputTopic(config.factsTopic(), new ByteArrayDeserializer(),
        AvroSerde.latencyFact().deserializer());
    pairs = driver.createOutputTopic(vantage.topic(), new StringDeserializer(), AvroSerde.vantagePair().deserializer());
  }

  @AfterEach
  void stop() {
    if (driver != null) {
      driver.close();
    }
  }

  private void importFile(String name, VantageSetting setting) throws Exception {
    BatchListener l = new BatchListener() {
      @Override
      public void onBatch(ConnectionKey key, SegmentBatch batch) {
        segments.pipeInput(AvroSerde.connectionKey().encode(key), batch, BatchListener.timestampMs(batch));
      }

      @Override
      public void onEndOfCapture(String agent, long lastTsNs) {
        segments.pipeInput(AvroSerde.connectionKey().encode(KafkaSegmentPublisher.endOfCaptureKey(agent)),
            Conn.endOfCapture(lastTsNs), Math.floorDiv(lastTsNs, 1_000_000L));
      }
    };
    new CaptureFileImporter().importFile(FIXTURES.resolve(name + ".pcap"), name, BatchListener.withVantage(l, setting));
  }

  /** Requests the server executed, from its commandstats. */
  private static long commandstatsTotal(String scenario) throws IOException {
    String json = Files.readString(FIXTURES.resolve(scenario + ".commandstats.json"));
    Matcher m = Pattern.compile(":\\s*(\\d+)").matcher(json);
    long total = 0;
    while (m.find()) {
      total += Long.parseLong(m.group(1));
    }
    return total;
  }

  @ParameterizedTest(name = "{0}")
  // impaired-plain goes through the real pipeline with a shifted clock (VantagePipelineTest in cli)
  @ValueSource(strings = {"impaired-pipelined", "impaired-large"})
  void everyRequestSeenAtBothEndsGivesOnePairWithTheClientSideSlower(String scenario) throws Exception {
    start();
    importFile(scenario + "-client", VantageSetting.AUTO);
    importFile(scenario + "-server", VantageSetting.AUTO);

    // vantage from the handshake's timing alone (files: no local addresses, no --vantage)
    Map<String, Long> byAgentAndVantage = new TreeMap<>();
    for (LatencyFact f : facts.readValuesToList()) {
      byAgentAndVantage.merge(f.getAgent() + "=" + f.getVantage(), 1L, Long::sum);
    }
    long requests = commandstatsTotal(scenario);
    assertEquals(Map.of(scenario + "-client=client", requests, scenario + "-server=server", requests),
        byAgentAndVantage);

    List<VantagePair> out = pairs.readValuesToList();
    assertEquals(requests, out.size(), "one pair per request seen at both ends");
    Set<String> clientFacts = new HashSet<>();
    Set<String> serverFacts = new HashSet<>();
    Set<String> ids = new HashSet<>();
    long[] offsets = new long[out.size()];
    int i = 0;
    for (VantagePair p : out) {
      assertTrue(clientFacts.add(p.getClientFactId()), "client fact in two pairs: " + p);
      assertTrue(serverFacts.add(p.getServerFactId()), "server fact in two pairs: " + p);
      assertTrue(ids.add(p.getId()));
      assertEquals(scenario + "-client", p.getClientAgent());
      assertEquals(scenario + "-server", p.getServerAgent());
      assertTrue(p.getClientLatencyNs() >= p.getServerLatencyNs(), "client side faster than server side: " + p);
      assertEquals(p.getClientLatencyNs() - p.getServerLatencyNs(), p.getNetworkNs());
      // the link delays every frame by 1 ms each way: at least 2 ms of network per request
      assertTrue(p.getNetworkNs() >= 2_000_000L, "network time under the link's 2 ms round trip: " + p);
      offsets[i++] = p.getClockOffsetNs();
    }
    // both captures were stamped by one host clock: the estimated offset is 0 but for the
    // asymmetry of loss and reordering, which the median sheds
    Arrays.sort(offsets);
    long median = offsets[offsets.length / 2];
    assertTrue(Math.abs(median) < 500_000L, "median clock offset " + median + " ns");
    assertEquals(Set.of(), counters.skewedAgentPairs());
    long estimate = counters.medianOffsetsNs().get(scenario + "-client -> " + scenario + "-server");
    assertTrue(Math.abs(estimate) < 500_000L, "estimated clock offset " + estimate + " ns");
    assertEquals(requests, counters.pairs());
  }

  /**
   * Connections captured mid-stream show no handshake: the vantage stays unknown and nothing
   * joins, unless the agents say where they are (--vantage); then the requests whose first
   * byte both captures hold join.
   */
  @Test
  void midstreamCapturesJoinWhenTheAgentsSayTheirVantage() throws Exception {
    // no handshake, no --vantage: unknown (the engine alone, as tapflow analyze runs it)
    ConnectionEngine engine = new ConnectionEngine(ProcessorConfig.defaults());
    InMemoryStore store = new InMemoryStore();
    List<LatencyFact> auto = new java.util.ArrayList<>();
    ConnectionEngine.Output collect = new ConnectionEngine.Output() {
      @Override
      public void fact(byte[] key, LatencyFact fact) {
        auto.add(fact);
      }

      @Override
      public void decodeError(byte[] key, dev.tapflow.schemas.DecodeError error) {}
    };
    for (String name : List.of("midstream-client", "midstream-server")) {
      new CaptureFileImporter().importFile(FIXTURES.resolve(name + ".pcap"), name, new BatchListener() {
        @Override
        public void onBatch(ConnectionKey key, SegmentBatch batch) {
          engine.onBatch(AvroSerde.connectionKey().encode(key), key, batch, store, collect);
        }

        @Override
        public void onEndOfCapture(String agent, long lastTsNs) {
          engine.endOfCapture(agent, lastTsNs, store, collect);
        }
      });
    }
    assertTrue(auto.size() > 100, "facts: " + auto.size());
    assertTrue(auto.stream().allMatch(f -> f.getVantage().equals("unknown")));

    start();
    importFile("midstream-client", VantageSetting.CLIENT);
    importFile("midstream-server", VantageSetting.SERVER);
    List<LatencyFact> all = facts.readValuesToList();
    Map<String, Set<String>> keysByAgent = new TreeMap<>();
    for (LatencyFact f : all) {
      assertEquals(f.getAgent().endsWith("-client") ? "client" : "server", f.getVantage());
      if (VantageJoin.joinable(f)) {
        keysByAgent.computeIfAbsent(f.getAgent(), a -> new HashSet<>()).add(VantageJoin.joinKey(f));
      }
    }
    Set<String> both = new HashSet<>(keysByAgent.get("midstream-client"));
    both.retainAll(keysByAgent.get("midstream-server"));
    List<VantagePair> out = pairs.readValuesToList();
    assertTrue(both.size() > 100, "requests answered in both captures: " + both.size());
    assertEquals(both.size(), out.size());
    for (VantagePair p : out) {
      assertTrue(p.getClientLatencyNs() >= p.getServerLatencyNs(), "client side faster than server side: " + p);
    }
  }

  @Test
  void pairIdsAreStableAndTheOffsetIsNtps() {
    LatencyFact c = fact("c1", "agent-c", 1_000, 1_100, 5_100);
    LatencyFact s = fact("s1", "agent-s", 51_600, 51_700, 53_700); // server clock 50 us ahead, 500 ns each way
    VantagePair p = VantageJoin.pair(c, s);
    assertEquals(4_000, p.getClientLatencyNs());
    assertEquals(2_000, p.getServerLatencyNs());
    assertEquals(2_000, p.getNetworkNs());
    assertEquals(((51_700 - 1_100) + (53_700 - 5_100)) / 2, p.getClockOffsetNs());
    assertEquals(VantageJoin.pair(c, s).getId(), p.getId());
    assertEquals(null, VantageJoin.pair(c, fact("s2", "agent-c", 1, 2, 3)), "one agent on both sides");
    assertEquals(Duration.ofSeconds(5), VantageJoinConfig.defaults().skew());
  }

  private static LatencyFact fact(String id, String agent, long first, long last, long response) {
    return LatencyFact.newBuilder().setId(id).setAgent(agent).setProtocol("redis").setVantage("client")
        .setClientIp("10.0.0.1").setClientPort(40000).setServerIp("10.0.0.2").setServerPort(6379).setCommand("GET")
        .setStatus(dev.tapflow.schemas.Status.OK).setRequestFirstNs(first).setRequestLastNs(last)
        .setResponseFirstNs(response).setResponseLastNs(response).setLatencyNs(response - last).setRequestBytes(10)
        .setRequestSeq(1L).build();
  }
}
