package dev.tapflow.stream.topology;

import static dev.tapflow.stream.topology.Conn.MS;
import static dev.tapflow.stream.topology.Conn.batch;
import static dev.tapflow.stream.topology.Conn.resp;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Segment;
import dev.tapflow.schemas.SegmentBatch;
import dev.tapflow.schemas.VantageSetting;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The vantage rule, order of evidence: the agent's --vantage, then its local addresses, then
 * the handshake's timing (the fixtures' real handshakes are in VantageJoinTopologyTest; here
 * the corner cases).
 */
class VantageRuleTest {

  private static final long T0 = 1_704_067_200_000L * MS;

  /** One GET on a connection whose handshake took {@code synToSynAck}, then {@code synAckToData} to the first request. */
  private static String vantage(long synToSynAck, long synAckToData, VantageSetting setting, int local) {
    Conn c = new Conn("agent", 5, 40000, 6379);
    Segment syn = c.syn(T0);
    Segment synAck = c.synAck(T0 + synToSynAck);
    long data = T0 + synToSynAck + synAckToData;
    SegmentBatch b = batch(syn, synAck, c.client(data, resp("GET", "k")), c.server(data + MS, "$-1\r\n"));
    b.setVantage(setting);
    b.setLocalEndpoints(local);
    List<LatencyFact> facts = new ArrayList<>();
    new ConnectionEngine(ProcessorConfig.defaults()).onBatch(c.keyBytes, c.key, b, new InMemoryStore(),
        new ConnectionEngine.Output() {
          @Override
          public void fact(byte[] key, LatencyFact fact) {
            facts.add(fact);
          }

          @Override
          public void decodeError(byte[] key, DecodeError error) {}
        });
    assertEquals(1, facts.size());
    return facts.get(0).getVantage();
  }

  @Test
  void handshakeTiming() {
    assertEquals("client", vantage(2 * MS, 50_000, VantageSetting.AUTO, 0), "SYN/ACK a round trip after the SYN");
    assertEquals("server", vantage(20_000, 2 * MS, VantageSetting.AUTO, 0), "first bytes a round trip after the SYN/ACK");
    assertEquals("unknown", vantage(MS, MS, VantageSetting.AUTO, 0), "neither gap twice the other");
  }

  @Test
  void theAgentsWordComesFirstThenItsAddresses() {
    assertEquals("server", vantage(2 * MS, 50_000, VantageSetting.SERVER, 1));
    assertEquals("client", vantage(20_000, 2 * MS, VantageSetting.CLIENT, 2));
    // Conn: endpoint a is the client, b the server
    assertEquals("server", vantage(2 * MS, 50_000, VantageSetting.AUTO, 2), "server address local");
    assertEquals("client", vantage(20_000, 2 * MS, VantageSetting.AUTO, 1), "client address local");
    assertEquals("client", vantage(2 * MS, 50_000, VantageSetting.AUTO, 3), "both local: the handshake decides");
  }
}
