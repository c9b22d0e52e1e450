package dev.tapflow.stream.topology;

import dev.tapflow.schemas.AvroSerde;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import dev.tapflow.schemas.VantagePair;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.JoinWindows;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.StreamJoined;
import org.apache.kafka.streams.state.Stores;

/**
 * The vantage join: a request captured by an agent on the client's host and by one on the
 * server's host gives one {@link VantagePair}, the client-side latency split into the
 * server's part and the network's.
 *
 * <pre>
 * tapflow.facts.v1 (read back by the same application)
 *   -> client-side facts with a response, re-keyed by the join key -> repartition
 *   -> server-side facts with a response, re-keyed by the join key -> repartition
 *   -> windowed join (|request time difference| <= skew, grace)    (stores vantage-join-this/other-join)
 *   -> VantageSkewMonitor (store vantage-skew: clock offsets per agent pair; log line on skew)
 *   -> tapflow.vantage-pairs.v1 (join key, VantagePair)
 * </pre>
 *
 * The keys of the two sides really differ from the facts' (each fact is keyed by its own
 * agent's connection), so this is the DSL's windowed stream-stream join over a repartition,
 * as DESIGN.md says; it runs in the same Kafka Streams application as the facts, under the
 * same exactly_once_v2.
 *
 * <p><b>Join key</b>: TCP: client ip:port, server ip:port and the absolute sequence number of
 * the request's first byte ({@code request_seq}), which every capture point of the connection
 * agrees on (no NAT between them). UDP: the 5-tuple, the protocol and the request's id (DNS
 * transaction id, memcached UDP request id), with the join window as the time proximity.
 * The window compares the two facts' record times (each agent's request time on its own
 * clock), so it is the clock skew tolerated; the split itself uses only differences taken on
 * one clock.
 */
public final class VantageJoin {

  private VantageJoin() {}

  /** Adds the join to {@code builder}: reads {@code factsTopic}, writes {@code config.topic()}. */
  public static void define(StreamsBuilder builder, String factsTopic, VantageJoinConfig config,
      VantageJoinCounters counters) {
    AvroSerde<LatencyFact> facts = AvroSerde.latencyFact();
    KStream<byte[], LatencyFact> all = builder.stream(factsTopic,
        Consumed.with(Serdes.ByteArray(), facts).withName("vantage-facts"));
    KStream<String, LatencyFact> client = side(all, "client");
    KStream<String, LatencyFact> server = side(all, "server");
    JoinWindows window = JoinWindows.ofTimeDifferenceAndGrace(config.skew(), config.grace());
    builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(VantageJoinConfig.SKEW_STORE),
        Serdes.String(), Serdes.ByteArray()).withCachingEnabled());
    client.join(server, VantageJoin::pair, window,
            StreamJoined.with(Serdes.String(), facts, facts).withName(VantageJoinConfig.JOIN_NAME)
                .withStoreName(VantageJoinConfig.JOIN_NAME))
        .filter((k, p) -> p != null, Named.as("vantage-pairs-formed"))
        .processValues(() -> new VantageSkewMonitor(config, counters), Named.as("vantage-skew"),
            VantageJoinConfig.SKEW_STORE)
        .to(config.topic(), Produced.with(Serdes.String(), AvroSerde.vantagePair()).withName("vantage-pairs-sink"));
  }

  private static KStream<String, LatencyFact> side(KStream<byte[], LatencyFact> all, String vantage) {
    return all.filter((k, f) -> f != null && vantage.equals(f.getVantage()) && joinable(f),
            Named.as("vantage-" + vantage + "-facts"))
        .selectKey((k, f) -> joinKey(f), Named.as("vantage-" + vantage + "-key"));
  }

  /** A fact that can be one half of a pair: answered (a latency to split) and with a join key. */
  static boolean joinable(LatencyFact f) {
    return f.getLatencyNs() != null && f.getResponseFirstNs() != null
        && (f.getStatus() == Status.OK || f.getStatus() == Status.ERROR) && joinKey(f) != null;
  }

  /** The join key (see the class comment), or null when the fact has none. */
  static String joinKey(LatencyFact f) {
    StringBuilder b = new StringBuilder(64);
    if (f.getRequestSeq() != null) {
      b.append("tcp|");
    } else {
      String id = f.getDetail().get("transport") == null ? null
          : f.getDetail().get("request_id") != null ? f.getDetail().get("request_id") : f.getDetail().get("id");
      if (id == null || !"udp".equals(f.getDetail().get("transport"))) {
        return null;
      }
      b.append("udp|").append(f.getProtocol()).append('|').append(id).append('|');
    }
    b.append(f.getClientIp()).append('|').append(f.getClientPort()).append('|')
        .append(f.getServerIp()).append('|').append(f.getServerPort());
    if (f.getRequestSeq() != null) {
      b.append('|').append(f.getRequestSeq());
    }
    return b.toString();
  }

  /**
   * The pair of a client-side and a server-side fact of one request, or null when both came
   * from the same agent (it cannot be on both sides).
   *
   * <p>T1 = the client's request_last_ns (the request left), T2 = the server's request_last_ns
   * (it arrived), T3 = the server's response_first_ns (the answer left), T4 = the client's
   * response_first_ns (it arrived). {@code network_ns = (T4 - T1) - (T3 - T2)}; the clock
   * offset (server minus client) is NTP's {@code ((T2 - T1) + (T3 - T4)) / 2}, exact when the
   * request and the response take as long across the network.
   */
  static VantagePair pair(LatencyFact c, LatencyFact s) {
    if (c.getAgent().equals(s.getAgent())) {
      return null;
    }
    long t1 = c.getRequestLastNs();
    long t2 = s.getRequestLastNs();
    long t3 = s.getResponseFirstNs();
    long t4 = c.getResponseFirstNs();
    long clientLatency = c.getLatencyNs();
    long serverLatency = s.getLatencyNs();
    return VantagePair.newBuilder()
        .setId(pairId(c.getId(), s.getId()))
        .setClientFactId(c.getId())
        .setServerFactId(s.getId())
        .setClientAgent(c.getAgent())
        .setServerAgent(s.getAgent())
        .setProtocol(c.getProtocol())
        .setClientIp(c.getClientIp())
        .setClientPort(c.getClientPort())
        .setServerIp(c.getServerIp())
        .setServerPort(c.getServerPort())
        .setCommand(c.getCommand())
        .setResource(c.getResource())
        .setStatus(c.getStatus().name())
        .setRequestSeq(c.getRequestSeq())
        .setClientRequestFirstNs(c.getRequestFirstNs())
        .setClientRequestLastNs(t1)
        .setClientResponseFirstNs(t4)
        .setServerRequestFirstNs(s.getRequestFirstNs())
        .setServerRequestLastNs(t2)
        .setServerResponseFirstNs(t3)
        .setClientLatencyNs(clientLatency)
        .setServerLatencyNs(serverLatency)
        .setNetworkNs(clientLatency - serverLatency)
        .setClockOffsetNs(Math.floorDiv((t2 - t1) + (t3 - t4), 2))
        .setLoss(c.getLoss() || s.getLoss())
        .build();
  }

  /** The first 128 bits of SHA-256 over both fact ids, hex. */
  static String pairId(String clientFactId, String serverFactId) {
    MessageDigest sha = FactMapper.sha256();
    sha.update(clientFactId.getBytes(StandardCharsets.UTF_8));
    sha.update((byte) 0);
    sha.update(serverFactId.getBytes(StandardCharsets.UTF_8));
    return FactMapper.first128Hex(sha);
  }
}
