package dev.tapflow.stream.topology;

import static dev.tapflow.stream.topology.Conn.MS;
import static dev.tapflow.stream.topology.UdpFlow.batch;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.Status;
import dev.tapflow.stream.tcp.ReassemblyLimits;
import dev.tapflow.stream.udp.UdpFlowTracker;
import java.io.ByteArrayOutputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * UDP flows through the engine: who is the client, which protocol, one fact per request, the
 * window and the end of capture, what is kept in the store and for how long.
 */
class UdpFlowsTest {

  private static final long T0 = 1_704_067_200_000L * MS;

  private final FactCollector out = new FactCollector();
  private final List<LatencyFact> facts = out.facts();
  private final List<DecodeError> errors = out.errors();
  private final InMemoryStore store = new InMemoryStore();
  private final ConnectionEngine engine = new ConnectionEngine(ProcessorConfig.defaults());

  private void feed(ConnectionEngine e, UdpFlow f, Segment... datagrams) {
    e.onBatch(f.keyBytes, f.key, batch(datagrams), store, out);
  }

  private void feed(UdpFlow f, Segment... datagrams) {
    feed(engine, f, datagrams);
  }

  static byte[] query(int id, String name, int type) {
    try {
      Message m = Message.newQuery(Record.newRecord(Name.fromString(name), type, DClass.IN));
      m.getHeader().setID(id);
      return m.toWire();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static byte[] answer(int id, String name, int type) {
    try {
      Message m = new Message(id);
      m.getHeader().setFlag(Flags.QR);
      m.addRecord(Record.newRecord(Name.fromString(name), type, DClass.IN), Section.QUESTION);
      return m.toWire();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  private List<String> summary() {
    return facts.stream().map(f -> f.getProtocol() + " " + f.getClientIp() + ":" + f.getClientPort() + ">"
        + f.getServerIp() + ":" + f.getServerPort() + " " + f.getCommand() + " " + f.getStatus()).toList();
  }

  private List<String> errorNames() {
    return errors.stream().map(DecodeError::getName).toList();
  }

  @Test
  void aDnsQueryOnPort53IsOneFactAndTheFlowIsKeptUntilItIsQuiet() {
    UdpFlow f = new UdpFlow("host1", 5, 40000, 53);
    feed(f, f.ab(T0, query(1, "a.example.", Type.A)), f.ba(T0 + 2 * MS, answer(1, "a.example.", Type.A)));
    assertEquals(List.of("dns 10.0.0.5:40000>10.0.1.1:53 A OK"), summary());
    LatencyFact x = facts.get(0);
    assertEquals(2 * MS, (long) x.getLatencyNs());
    assertEquals("id", x.getPairing());
    assertEquals(Map.of("id", "1", "qclass", "IN", "rcode", "NOERROR", "answers", "0", "transport", "udp"), x.getDetail());
    assertEquals(1, store.size(), "kept: a duplicate answer would still be recognised");
    engine.onStreamTime(T0 + 20_000 * MS, store, out);
    assertEquals(1, store.size());
    engine.onStreamTime(T0 + 31_000 * MS, store, out);
    assertEquals(0, store.size(), "quiet for longer than " + UdpFlowTracker.QUIET_FLOW_NS / 1_000_000_000 + " s with nothing pending");
    assertEquals(List.of(), errors);
  }

  @Test
  void anUnansweredQueryTimesOutByStreamTimeAndAtTheEndOfTheCapture() {
    UdpFlow f = new UdpFlow("host1", 5, 40001, 53);
    UdpFlow g = new UdpFlow("host1", 6, 40002, 53);
    feed(f, f.ab(T0, query(1, "slow.example.", Type.A)));
    feed(g, g.ab(T0 + 10_000 * MS, query(2, "never.example.", Type.AAAA)));
    engine.onStreamTime(T0 + 59_000 * MS, store, out);
    assertTrue(facts.isEmpty());
    engine.onStreamTime(T0 + 60_000 * MS + 500 * MS, store, out);
    assertEquals(List.of("dns 10.0.0.5:40001>10.0.1.1:53 A TIMEOUT"), summary(), "older than the 60 s window");
    assertEquals(1, store.size(), "the other is still pending");
    engine.endOfCapture("host1", T0 + 60_600 * MS, store, out);
    assertEquals(2, facts.size());
    assertEquals(Status.TIMEOUT, facts.get(1).getStatus());
    assertNull(facts.get(1).getLatencyNs());
    assertEquals(0, store.size());
  }

  @Test
  void aLateAnswerAfterTheWindowIsAnOrphan() {
    UdpFlow f = new UdpFlow("host1", 5, 40003, 53);
    feed(f, f.ab(T0, query(9, "late.example.", Type.A)));
    feed(f, f.ba(T0 + 61_000 * MS, answer(9, "late.example.", Type.A)));
    assertEquals(List.of("dns 10.0.0.5:40003>10.0.1.1:53 A TIMEOUT"), summary());
    assertEquals(List.of("DNS_ORPHAN_RESPONSE"), errorNames());
  }

  @Test
  void onAnUnknownPortTheContentDecidesProtocolAndClient() {
    // b (10.0.1.1:5300) asks, a (10.0.0.5:40004) answers: the sender of the query is the client
    UdpFlow f = new UdpFlow("host1", 5, 40004, 5300);
    feed(f, f.ba(T0, query(3, "odd.example.", Type.TXT)), f.ab(T0 + MS, answer(3, "odd.example.", Type.TXT)));
    assertEquals(List.of("dns 10.0.1.1:5300>10.0.0.5:40004 TXT OK"), summary());
    // an answer first: its sender is the server
    UdpFlow g = new UdpFlow("host1", 6, 40005, 5301);
    feed(g, g.ab(T0, answer(4, "first.example.", Type.A)));
    assertEquals(List.of("DNS_ORPHAN_RESPONSE"), errorNames());
    assertEquals("10.0.0.6", errors.get(0).getServerIp());
  }

  @Test
  void aConfiguredPortDecidesForUdpToo() {
    ConnectionEngine configured = new ConnectionEngine(ProcessorConfig.defaults().withServerPorts(Map.of("dns", List.of(5353))));
    UdpFlow f = new UdpFlow("host1", 5, 5353, 60000); // the server's port sorts first
    feed(configured, f, f.ba(T0, query(5, "x.example.", Type.A)), f.ab(T0 + MS, answer(5, "x.example.", Type.A)));
    assertEquals(List.of("dns 10.0.1.1:60000>10.0.0.5:5353 A OK"), summary());
  }

  @Test
  void flowsNoProtocolRecognisesCostOnlyACounter() {
    UdpFlow f = new UdpFlow("host1", 5, 40006, 40007);
    feed(f, f.ab(T0, "hello there, not a protocol we know".getBytes()), f.ba(T0 + MS, new byte[] {1, 2, 3}));
    assertEquals(0, store.size());
    assertEquals(2L, engine.anomalyCounts().get(ConnectionEngine.UDP_NOT_DECODED));
    assertTrue(errors.isEmpty() && facts.isEmpty());
  }

  @Test
  void multicastFlowsAreNotDecoded() throws UnknownHostException {
    UdpFlow mdns = new UdpFlow("host1", new byte[] {(byte) 192, (byte) 168, 0, 2}, 5353,
        InetAddress.getByName("224.0.0.251").getAddress(), 5353);
    feed(mdns, mdns.ab(T0, query(0, "printer.local.", Type.A)));
    assertEquals(0, store.size());
    assertTrue(facts.isEmpty());
  }

  @Test
  void garbageOnPort53IsGivenUpAfterABoundedNumberOfDatagrams() {
    UdpFlow f = new UdpFlow("host1", 5, 40008, 53);
    for (int i = 0; i < 100; i++) {
      feed(f, f.ab(T0 + i * MS, "this is not a dns message, not at all".getBytes()));
    }
    assertEquals(1, errorNames().stream().filter("NOT_THIS_PROTOCOL"::equals).count(), errorNames().toString());
    assertTrue(errorNames().stream().filter("DNS_MALFORMED"::equals).count() <= 65);
    assertTrue(facts.isEmpty());
    assertEquals(1, store.size(), "remembered as undecodable until quiet");
    assertTrue(store.get(f.keyBytes).length < 200, "and small: " + store.get(f.keyBytes).length + " bytes");
  }

  @Test
  void udpFlowsCountAgainstTheTaskBound() {
    ProcessorConfig base = ProcessorConfig.defaults();
    ReassemblyLimits two = new ReassemblyLimits(1 << 20, 1024, 1_000_000_000L, 2);
    ConnectionEngine bounded = new ConnectionEngine(new ProcessorConfig(base.segmentsTopic(), base.factsTopic(),
        base.decodeErrorsTopic(), base.window(), base.punctuateInterval(), base.idleEviction(), base.serverPorts(),
        base.sessionLimits(), two, base.keyPolicy()));
    for (int i = 0; i < 4; i++) {
      UdpFlow f = new UdpFlow("host1", 5 + i, 41000 + i, 53);
      feed(bounded, f, f.ab(T0, query(i, "q.example.", Type.A)));
    }
    assertEquals(2, store.size());
    assertEquals(2L, bounded.anomalyCounts().get(ConnectionEngine.TOO_MANY_CONNECTIONS));
  }

  @Test
  void aSnapLengthCutIsSaidAndTheFactCarriesIt() {
    UdpFlow f = new UdpFlow("host1", 5, 40009, 53);
    byte[] a = answer(6, "cut.example.", Type.A);
    feed(f, f.ab(T0, query(6, "cut.example.", Type.A)),
        f.datagram(false, T0 + MS, java.util.Arrays.copyOf(a, a.length - 3), a.length));
    assertEquals(List.of("dns 10.0.0.5:40009>10.0.1.1:53 A OK"), summary());
    assertTrue(facts.get(0).getResponseGap());
    assertTrue(errorNames().contains(UdpFlowTracker.TRUNCATED), errorNames().toString());
  }

  /**
   * A UDP fact's id comes from its datagram's packet number and capture time: the same
   * whatever was processed before, and different for two queries captured at the same time.
   */
  @Test
  void factIdsAreStableWhereverProcessingStartsAndDistinctAtTheSameInstant() {
    UdpFlow f = new UdpFlow("host1", 5, 40010, 53);
    Segment q1 = f.ab(T0, query(1, "a.example.", Type.A));
    Segment q2 = f.ab(T0, query(2, "b.example.", Type.A));
    Segment r1 = f.ba(T0 + MS, answer(1, "a.example.", Type.A));
    Segment r2 = f.ba(T0 + MS, answer(2, "b.example.", Type.A));
    feed(f, q1, q2, r1, r2);
    assertEquals(2, facts.size());
    assertNotEquals(facts.get(0).getId(), facts.get(1).getId());
    String second = facts.get(1).getId();
    FactCollector later = new FactCollector();
    new ConnectionEngine(ProcessorConfig.defaults()).onBatch(f.keyBytes, f.key, batch(q2, r2), new InMemoryStore(), later);
    assertEquals(second, later.facts().get(0).getId(), "processing started at the second query");
  }

  @Test
  void memcachedOverUdpOnItsPort() {
    UdpFlow f = new UdpFlow("host1", 5, 11211, 50000); // the server's port sorts first
    byte[] get = ByteBuffer.allocate(8 + 8).putShort((short) 7).putShort((short) 0).putShort((short) 1)
        .putShort((short) 0).put("get k\r\n\0".getBytes(), 0, 7).array();
    ByteArrayOutputStream end = new ByteArrayOutputStream();
    end.writeBytes(new byte[] {0, 7, 0, 0, 0, 1, 0, 0});
    end.writeBytes("END\r\n".getBytes());
    feed(f, f.ba(T0, java.util.Arrays.copyOf(get, 15)), f.ab(T0 + MS, end.toByteArray()));
    assertEquals(List.of("memcached 10.0.1.1:50000>10.0.0.5:11211 GET OK"), summary());
    assertEquals("7", facts.get(0).getDetail().get("request_id"));
  }

  @Test
  void theWindowCanBeShorterThanTheQuietBound() {
    ConnectionEngine shortWindow = new ConnectionEngine(ProcessorConfig.defaults().withWindow(Duration.ofSeconds(2)));
    UdpFlow f = new UdpFlow("host1", 5, 40011, 53);
    feed(shortWindow, f, f.ab(T0, query(1, "a.example.", Type.A)));
    shortWindow.onStreamTime(T0 + 5_000 * MS, store, out);
    assertEquals(List.of("dns 10.0.0.5:40011>10.0.1.1:53 A TIMEOUT"), summary());
    assertEquals(1, store.size(), "nothing pending, not yet quiet for long");
  }
}
