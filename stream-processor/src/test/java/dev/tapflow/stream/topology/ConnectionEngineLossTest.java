package dev.tapflow.stream.topology;

import static dev.tapflow.stream.topology.Conn.MS;
import static dev.tapflow.stream.topology.Conn.batch;
import static dev.tapflow.stream.topology.Conn.resp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.Status;
import dev.tapflow.stream.tcp.ReassemblyLimits;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The engine on connections whose capture lost packets (segments built but never fed, as a
 * dropping capture would): what the peer acknowledged is declared lost at once, so later
 * requests reach the session before the replies that answer them, and times stay the
 * packets' own.
 */
class ConnectionEngineLossTest {

  private static final long T0 = 1_704_067_200_000L * MS;

  private final FactCollector out = new FactCollector();
  private final List<LatencyFact> facts = out.facts();
  private final List<DecodeError> errors = out.errors();
  private final InMemoryStore store = new InMemoryStore();

  private void feed(ConnectionEngine engine, Conn c, Segment... segments) {
    engine.onBatch(c.keyBytes, c.key, batch(segments), store, out);
  }

  private List<String> errorNames() {
    return errors.stream().map(DecodeError::getName).toList();
  }

  @Test
  void aLostRequestSegmentIsAGapAsSoonAsTheServerAcknowledgesIt() {
    ConnectionEngine engine = new ConnectionEngine(ProcessorConfig.defaults());
    Conn c = new Conn("host1", 5, 50100, 6379);
    feed(engine, c, c.syn(T0), c.synAck(T0 + MS));
    feed(engine, c, c.client(T0 + 2 * MS, resp("GET", "a")), c.server(T0 + 3 * MS, "$1\r\n1\r\n"));
    c.client(T0 + 4 * MS, resp("GET", "lost")); // never captured
    Segment lostReply = c.server(T0 + 5 * MS, "$1\r\n2\r\n"); // answers the lost GET, and acks it
    Segment next = c.client(T0 + 6 * MS, resp("GET", "c"));
    Segment reply = c.server(T0 + 8 * MS, "$1\r\n3\r\n");
    feed(engine, c, lostReply, next, reply, c.client(T0 + 9 * MS, resp("PING"))); // the client moves on
    assertEquals(List.of("GET a OK", "GET c OK"), facts.stream().map(f -> f.getCommand() + " " + f.getResource() + " " + f.getStatus()).toList());
    LatencyFact getC = facts.get(1);
    assertEquals(T0 + 6 * MS, getC.getRequestLastNs());
    assertEquals(2 * MS, (long) getC.getLatencyNs());
    assertEquals("after_gap", getC.getPairing());
    assertTrue(errorNames().contains("TCP_GAP"), errorNames().toString());
    assertTrue(errorNames().contains("RESP_RESPONSE_TO_LOST_REQUEST"), errorNames().toString());
    assertTrue(errors.stream().anyMatch(e -> e.getName().equals("TCP_GAP") && e.getDetail().contains("acked_not_captured")));
  }

  @Test
  void requestsBehindALostSegmentReachTheSessionBeforeTheRepliesThatAckThem() {
    ConnectionEngine engine = new ConnectionEngine(ProcessorConfig.defaults());
    Conn c = new Conn("host1", 5, 50103, 6379);
    feed(engine, c, c.syn(T0), c.synAck(T0 + MS));
    // a value too big for one segment: its middle segment is lost, its tail waits behind the hole
    feed(engine, c, c.client(T0 + 2 * MS, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n01"));
    c.client(T0 + 3 * MS, "23456"); // never captured
    Segment tail = c.client(T0 + 4 * MS, "789\r\n");
    Segment ok = c.server(T0 + 9 * MS, "+OK\r\n"); // acks the whole request
    feed(engine, c, tail, ok);
    assertEquals(1, facts.size(), errorNames().toString());
    LatencyFact set = facts.get(0);
    assertEquals(Status.OK, set.getStatus());
    assertTrue(set.getRequestGap());
    assertEquals(T0 + 4 * MS, set.getRequestLastNs(), "the tail keeps its own capture time, not the gap's");
    assertEquals(5 * MS, (long) set.getLatencyNs());
    assertEquals(List.of("TCP_GAP"), errorNames(), "framing survived: only the TCP layer reports the gap");
  }

  @Test
  void aLostReplySegmentInsideAValueKeepsThePair() {
    ConnectionEngine engine = new ConnectionEngine(ProcessorConfig.defaults());
    Conn c = new Conn("host1", 5, 50101, 6379);
    feed(engine, c, c.syn(T0), c.synAck(T0 + MS), c.client(T0 + 2 * MS, resp("GET", "big")));
    Segment head = c.server(T0 + 3 * MS, "$12\r\nhello");
    c.server(T0 + 4 * MS, " wor"); // lost by the capture
    Segment tail = c.server(T0 + 5 * MS, "ld!\r\n");
    Segment nextRequest = c.client(T0 + 6 * MS, resp("PING")); // acks the whole reply
    feed(engine, c, head, tail, nextRequest, c.server(T0 + 7 * MS, "+PONG\r\n"));
    assertEquals(2, facts.size(), facts.toString());
    LatencyFact get = facts.get(0);
    assertEquals(Status.OK, get.getStatus());
    assertTrue(get.getResponseGap());
    assertFalse(get.getRequestGap());
    assertEquals(MS, (long) get.getLatencyNs());
    assertEquals(T0 + 5 * MS, (long) get.getResponseLastNs());
    assertEquals("order", facts.get(1).getPairing());
    assertFalse(facts.get(1).getLoss());
  }

  @Test
  void garbageOnARedisPortIsNotThisProtocolAndThenCostsOnlyCounters() {
    ConnectionEngine engine = new ConnectionEngine(ProcessorConfig.defaults());
    Conn c = new Conn("host1", 5, 50102, 6379);
    feed(engine, c, c.syn(T0), c.synAck(T0 + MS));
    StringBuilder junk = new StringBuilder();
    for (int i = 0; i < 1000; i++) {
      junk.append("\u0001\u0002 not resp at all ").append(i).append('\n');
    }
    for (int i = 0; i < 5; i++) {
      feed(engine, c, c.server(T0 + (2 + i) * MS, junk.toString()));
    }
    assertEquals(1, errorNames().stream().filter("NOT_THIS_PROTOCOL"::equals).count(), errorNames().toString());
    int before = errors.size();
    feed(engine, c, c.server(T0 + 10 * MS, junk.toString()), c.client(T0 + 11 * MS, resp("PING")));
    assertEquals(before, errors.size(), "an undecodable connection raises nothing more");
    assertTrue(facts.isEmpty());
  }

  @Test
  void connectionsBeyondTheTaskBoundAreCountedNotTracked() {
    ProcessorConfig base = ProcessorConfig.defaults();
    ReassemblyLimits two = new ReassemblyLimits(1 << 20, 1024, 1_000_000_000L, 2);
    ProcessorConfig config = new ProcessorConfig(base.segmentsTopic(), base.factsTopic(), base.decodeErrorsTopic(),
        base.window(), base.punctuateInterval(), base.idleEviction(), base.serverPorts(), base.sessionLimits(), two,
        base.keyPolicy());
    ConnectionEngine engine = new ConnectionEngine(config);
    for (int i = 0; i < 4; i++) {
      Conn c = new Conn("host1", 5 + i, 50200 + i, 6379);
      feed(engine, c, c.syn(T0), c.synAck(T0 + MS), c.client(T0 + 2 * MS, resp("PING")));
    }
    assertEquals(2, store.size());
    assertEquals(2L, engine.anomalyCounts().get(ConnectionEngine.TOO_MANY_CONNECTIONS));
  }

}
