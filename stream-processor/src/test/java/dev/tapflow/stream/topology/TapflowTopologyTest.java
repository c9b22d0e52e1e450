package dev.tapflow.stream.topology;

import static dev.tapflow.stream.topology.Conn.MS;
import static dev.tapflow.stream.topology.Conn.batch;
import static dev.tapflow.stream.topology.Conn.resp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.Status;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TapflowTopologyTest {

  /** 2024-01-01T00:00:00Z, so record timestamps are realistic */
  private static final long T0 = 1_704_067_200_000L * MS;

  @TempDir
  Path stateDir;

  private TopologyTestDriver driver;
  private TestInputTopic<byte[], SegmentBatch> segments;
  private TestOutputTopic<byte[], LatencyFact> facts;

  @BeforeEach
  void start() {
    ProcessorConfig config = ProcessorConfig.defaults().withWindow(Duration.ofSeconds(60));
    Properties props = TapflowTopology.baseProperties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, "topology-test");
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, "unused:9092");
    props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
    driver = new TopologyTestDriver(TapflowTopology.build(config), props);
    segments = driver.createInputTopic(config.segmentsTopic(), new ByteArraySerializer(),
        AvroSerde.segmentBatch().serializer());
    facts = driver.createOutputTopic(config.factsTopic(), new ByteArrayDeserializer(),
        AvroSerde.latencyFact().deserializer());
  }

  @AfterEach
  void stop() {
    driver.close();
  }

  private void pipe(Conn c, SegmentBatch b) {
    pipe(c.keyBytes, b);
  }

  private void pipe(byte[] key, SegmentBatch b) {
    long ts = b.getSegments().isEmpty() ? b.getEndTsNs() : b.getSegments().get(0).getTsNs();
    segments.pipeInput(key, b, ts / MS);
  }

  @Test
  void aDnsQueryOverUdpAndItsAnswerAreOneFactAndAnUnansweredOneTimesOutByStreamTime() {
    UdpFlow answered = new UdpFlow("host1", 5, 40000, 53);
    UdpFlow silent = new UdpFlow("host1", 6, 40001, 53);
    pipe(answered.keyBytes, UdpFlow.batch(answered.ab(T0, UdpFlowsTest.query(1, "a.example.", org.xbill.DNS.Type.A)),
        answered.ba(T0 + 3 * MS, UdpFlowsTest.answer(1, "a.example.", org.xbill.DNS.Type.A))));
    pipe(silent.keyBytes, UdpFlow.batch(silent.ab(T0 + MS, UdpFlowsTest.query(2, "b.example.", org.xbill.DNS.Type.MX))));
    List<LatencyFact> out = facts.readValuesToList();
    assertEquals(1, out.size());
    assertEquals("dns", out.get(0).getProtocol());
    assertEquals("A", out.get(0).getCommand());
    assertEquals(3 * MS, out.get(0).getLatencyNs());
    // stream time passes the window on another flow: the silent query becomes a TIMEOUT
    UdpFlow other = new UdpFlow("host1", 7, 40002, 53);
    pipe(other.keyBytes, UdpFlow.batch(other.ab(T0 + 62_000 * MS, UdpFlowsTest.query(3, "c.example.", org.xbill.DNS.Type.A))));
    out = facts.readValuesToList();
    assertEquals(1, out.size());
    assertEquals("MX", out.get(0).getCommand());
    assertEquals(Status.TIMEOUT, out.get(0).getStatus());
  }

  @Test
  void requestAndResponseBecomeOneFactWithPacketLatency() {
    Conn c = new Conn("host1", 5, 50000, 6379);
    pipe(c, batch(c.syn(T0), c.synAck(T0 + 100_000)));
    pipe(c, batch(c.client(T0 + MS, resp("SET", "key3", "me")), c.server(T0 + MS + 830_000, "+OK\r\n")));
    List<LatencyFact> out = facts.readValuesToList();
    assertEquals(1, out.size());
    LatencyFact f = out.get(0);
    assertEquals("redis", f.getProtocol());
    assertEquals("SET", f.getCommand());
    assertEquals("key3", f.getResource());
    assertEquals(Status.OK, f.getStatus());
    assertEquals(830_000L, f.getLatencyNs());
    assertEquals("10.0.0.5", f.getClientIp());
    assertEquals(50000, f.getClientPort());
    assertEquals("10.0.1.1", f.getServerIp());
    assertEquals(6379, f.getServerPort());
    assertEquals(T0 + MS, f.getRequestFirstNs());
    assertEquals(T0 + MS + 830_000, f.getResponseFirstNs());
  }

  @Test
  void pipelinedRequestsPairInOrderAcrossSegments() {
    Conn c = new Conn("host1", 5, 50001, 6379);
    String three = resp("PING") + resp("GET", "a") + resp("GET", "b");
    pipe(c, batch(c.client(T0, three)));
    pipe(c, batch(c.server(T0 + 2 * MS, "+PONG\r\n$1\r"), c.server(T0 + 3 * MS, "\nx\r\n$-1\r\n")));
    List<LatencyFact> out = facts.readValuesToList();
    assertEquals(List.of("PING", "GET", "GET"), out.stream().map(LatencyFact::getCommand).toList());
    assertEquals(2 * MS, out.get(0).getLatencyNs());
    assertEquals(2 * MS, out.get(1).getLatencyNs(), "reply to GET a starts in the first server segment");
    assertEquals(3 * MS, out.get(1).getResponseLastNs() - T0);
    assertEquals(3 * MS, out.get(2).getLatencyNs());
    assertEquals(Status.OK, out.get(2).getStatus(), "a nil reply is an answer, not an error");
  }

  @Test
  void unansweredRequestTimesOutWhenStreamTimePassesTheWindow() {
    Conn c = new Conn("host1", 5, 50002, 6379);
    Conn other = new Conn("host1", 6, 50003, 6379);
    pipe(c, batch(c.client(T0, resp("BLPOP", "q", "0"))));
    assertTrue(facts.isEmpty());
    pipe(other, batch(other.client(T0 + 30_000 * MS, resp("PING")), other.server(T0 + 30_001 * MS, "+PONG\r\n")));
    assertEquals(List.of("PING"), facts.readValuesToList().stream().map(LatencyFact::getCommand).toList());
    pipe(other, batch(other.client(T0 + 61_000 * MS, resp("PING")), other.server(T0 + 61_001 * MS, "+PONG\r\n")));
    List<LatencyFact> out = facts.readValuesToList();
    LatencyFact timeout = out.stream().filter(f -> f.getCommand().equals("BLPOP")).findFirst().orElseThrow();
    assertEquals(Status.TIMEOUT, timeout.getStatus());
    assertNull(timeout.getLatencyNs());
    assertNull(timeout.getResponseFirstNs());
  }

  @Test
  void lateResponseAfterTheWindowDoesNotPairWithTheTimedOutRequest() {
    Conn c = new Conn("host1", 5, 50004, 6379);
    pipe(c, batch(c.client(T0, resp("GET", "slow"))));
    pipe(c, batch(c.server(T0 + 61_000 * MS, "$-1\r\n"), c.client(T0 + 61_001 * MS, resp("GET", "next")),
        c.server(T0 + 61_002 * MS, "$-1\r\n")));
    List<LatencyFact> out = facts.readValuesToList();
    assertEquals(2, out.size());
    assertEquals(Status.TIMEOUT, out.get(0).getStatus());
    assertEquals("next", out.get(1).getResource());
    assertEquals(MS, out.get(1).getLatencyNs());
  }

  @Test
  void endOfCaptureClosesTheAgentsConnections() {
    Conn c = new Conn("host1", 5, 50005, 6379);
    pipe(c, batch(c.client(T0, resp("GET", "never-answered"))));
    Conn marker = new Conn("host1", 0, 0, 0);
    segments.pipeInput(marker.keyBytes, Conn.endOfCapture(T0 + 5 * MS), T0 / MS + 5);
    List<LatencyFact> out = facts.readValuesToList();
    assertEquals(1, out.size());
    assertEquals(Status.TIMEOUT, out.get(0).getStatus());
  }

  @Test
  void authPasswordNeverLeavesTheProcessor() {
    Conn c = new Conn("host1", 5, 50006, 6379);
    pipe(c, batch(c.client(T0, resp("AUTH", "s3cret-pass")), c.server(T0 + MS, "-WRONGPASS invalid username-password pair\r\n")));
    LatencyFact f = facts.readValue();
    assertEquals("AUTH", f.getCommand());
    assertEquals(Status.ERROR, f.getStatus());
    assertFalse(f.toString().contains("s3cret-pass"), f.toString());
  }

  @Test
  void factIdsAreDeterministicAndDistinct() {
    Conn c = new Conn("host1", 5, 50007, 6379);
    pipe(c, batch(c.client(T0, resp("PING") + resp("PING")), c.server(T0 + MS, "+PONG\r\n+PONG\r\n")));
    List<LatencyFact> out = facts.readValuesToList();
    assertEquals(2, out.size());
    assertFalse(out.get(0).getId().equals(out.get(1).getId()));
    assertEquals(32, out.get(0).getId().length());
  }
}
