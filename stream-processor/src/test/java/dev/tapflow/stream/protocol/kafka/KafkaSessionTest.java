package dev.tapflow.stream.protocol.kafka;

import static dev.tapflow.stream.protocol.kafka.KafkaWire.concat;
import static dev.tapflow.stream.protocol.kafka.KafkaWire.rawRequest;
import static dev.tapflow.stream.protocol.kafka.KafkaWire.rawResponse;
import static dev.tapflow.stream.protocol.kafka.KafkaWire.request;
import static dev.tapflow.stream.protocol.kafka.KafkaWire.response;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.FactStatus;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.protocol.testing.SessionFeeder;
import dev.tapflow.stream.protocol.testing.SessionRecording;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.compress.Compression;
import org.apache.kafka.common.message.ApiVersionsRequestData;
import org.apache.kafka.common.message.ApiVersionsResponseData;
import org.apache.kafka.common.message.MetadataRequestData;
import org.apache.kafka.common.message.MetadataResponseData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.ProduceResponseData;
import org.apache.kafka.common.message.SaslHandshakeRequestData;
import org.apache.kafka.common.message.SaslHandshakeResponseData;
import org.apache.kafka.common.record.internal.MemoryRecords;
import org.apache.kafka.common.record.internal.SimpleRecord;
import org.junit.jupiter.api.Test;

/** KafkaSession and KafkaDecoder on frames built with kafka-clients (or by hand): pairing, every anomaly, every limit. */
class KafkaSessionTest {

  private static final long T0 = 1_700_000_000_000_000_000L;
  private static final long MS = 1_000_000L;

  // ---- frames ------------------------------------------------------------------------------

  static byte[] apiVersionsRequest(int corr) {
    return request(new ApiVersionsRequestData().setClientSoftwareName("tapflow-test").setClientSoftwareVersion("1"), 3,
        "client-1", corr);
  }

  static byte[] apiVersionsResponse(int corr) {
    return response(new ApiVersionsResponseData(), 3, corr);
  }

  static byte[] metadataRequest(int corr, String... topics) {
    MetadataRequestData d = new MetadataRequestData();
    for (String t : topics) {
      d.topics().add(new MetadataRequestData.MetadataRequestTopic().setName(t));
    }
    return request(d, 12, "client-1", corr);
  }

  static byte[] metadataResponse(int corr, String topic, Uuid id) {
    MetadataResponseData d = new MetadataResponseData();
    d.topics().add(new MetadataResponseData.MetadataResponseTopic().setName(topic).setTopicId(id));
    return response(d, 12, corr);
  }

  /** Produce v9 (topics by name) or v13 (by id) with {@code records} records per partition. */
  static byte[] produceRequest(int corr, int acks, int version, String topic, Uuid id, int records, int... partitions) {
    ProduceRequestData d = new ProduceRequestData().setAcks((short) acks).setTimeoutMs(30000);
    ProduceRequestData.TopicProduceData t = new ProduceRequestData.TopicProduceData();
    if (version >= 13) {
      t.setTopicId(id);
    } else {
      t.setName(topic);
    }
    for (int p : partitions) {
      SimpleRecord[] rs = new SimpleRecord[records];
      for (int i = 0; i < records; i++) {
        rs[i] = new SimpleRecord(("v" + i).getBytes(StandardCharsets.UTF_8));
      }
      t.partitionData().add(new ProduceRequestData.PartitionProduceData().setIndex(p)
          .setRecords(MemoryRecords.withRecords(Compression.NONE, rs)));
    }
    d.topicData().add(t);
    return request(d, version, "client-1", corr);
  }

  static byte[] produceResponse(int corr, int version, String topic, int errorCode, int... partitions) {
    ProduceResponseData d = new ProduceResponseData();
    ProduceResponseData.TopicProduceResponse t = new ProduceResponseData.TopicProduceResponse().setName(topic);
    for (int p : partitions) {
      t.partitionResponses().add(new ProduceResponseData.PartitionProduceResponse().setIndex(p)
          .setErrorCode((short) errorCode));
    }
    d.responses().add(t);
    return response(d, version, corr);
  }

  // ---- a connection driven by hand ---------------------------------------------------------

  /** Feeds one connection as the tracker does, keeping stream offsets; optionally round-trips the state after each call. */
  private static final class Conn {
    final SessionLimits limits;
    final int maxDecoded;
    final boolean roundTrip;
    ProtocolSession s;
    final SessionRecording out = new SessionRecording();
    long c;
    long sv;

    Conn() {
      this(SessionLimits.DEFAULTS, KafkaDecoder.DEFAULT_MAX_DECODED_FRAME, true);
    }

    Conn(SessionLimits limits, int maxDecoded, boolean roundTrip) {
      this.limits = limits;
      this.maxDecoded = maxDecoded;
      this.roundTrip = roundTrip;
      this.s = new KafkaSession(limits, maxDecoded);
    }

    Conn client(long ts, byte[] b) {
      s.clientData(b, 0, b.length, c, ts, out);
      c += b.length;
      return after();
    }

    Conn server(long ts, byte[] b) {
      s.serverData(b, 0, b.length, sv, ts, out);
      sv += b.length;
      return after();
    }

    Conn clientGap(long n, long ts) {
      s.gap(true, c, n, ts, out);
      c += n;
      return after();
    }

    Conn serverGap(long n, long ts) {
      s.gap(false, sv, n, ts, out);
      sv += n;
      return after();
    }

    Conn close(long ts) {
      s.close(ts, out);
      assertEquals(0, s.pendingRequests());
      return this;
    }

    private Conn after() {
      if (roundTrip) {
        s = SessionFeeder.roundTrip(KafkaFixtures.sessions(limits, maxDecoded), s);
      }
      return this;
    }

    Exchange only() {
      assertEquals(1, out.exchanges.size(), out.exchanges.toString());
      return out.exchanges.get(0);
    }
  }

  // ---- pairing -----------------------------------------------------------------------------

  @Test
  void requestAndResponsePairByCorrelationId() {
    Conn k = new Conn().client(T0, apiVersionsRequest(7)).server(T0 + 3 * MS, apiVersionsResponse(7)).close(T0 + 4 * MS);
    Exchange x = k.only();
    assertEquals("ApiVersions", x.command());
    assertEquals(FactStatus.OK, x.status());
    assertEquals(Exchange.Pairing.ID, x.pairing());
    assertEquals(3 * MS, x.responseFirstNs() - x.requestLastNs());
    assertEquals(apiVersionsRequest(7).length, x.requestBytes());
    assertEquals(apiVersionsResponse(7).length, x.responseBytes());
    assertEquals("client_software=tapflow-test/1", x.args());
    assertEquals(Map.of("api_version", "3", "client_id", "client-1", "correlation_id", "7", "body_decoded", "true",
        "throttle_ms", "0"), x.detail());
    assertEquals(List.of(), k.out.anomalies);
  }

  @Test
  void pipelinedRequestsInOneSegmentAndResponsesInOne() {
    Conn k = new Conn()
        .client(T0, concat(metadataRequest(1, "orders"), produceRequest(2, -1, 9, "orders", null, 3, 0, 1, 2)))
        .server(T0 + MS, concat(metadataResponse(1, "orders", Uuid.randomUuid()), produceResponse(2, 9, "orders", 0, 0, 1, 2)))
        .close(T0 + 2 * MS);
    assertEquals(List.of("Metadata OK", "Produce OK"), k.out.summary());
    Exchange produce = k.out.exchanges.get(1);
    assertEquals("orders[0..2]", produce.resource());
    assertEquals("9", produce.detail().get("records"));
    assertEquals("acks=-1", produce.args());
  }

  @Test
  void errorCodesMakeAnErrorFact() {
    Conn k = new Conn().client(T0, produceRequest(1, 1, 9, "orders", null, 1, 4, 5))
        .server(T0 + MS, produceResponse(1, 9, "orders", 6, 4, 5)).close(T0 + 2 * MS);
    Exchange x = k.only();
    assertEquals(FactStatus.ERROR, x.status());
    assertEquals("NOT_LEADER_OR_FOLLOWER", x.error());
    assertEquals("6", x.detail().get("error_codes"));
    assertEquals("orders-4,orders-5", x.resource());
  }

  @Test
  void produceWithAcksZeroIsNoReplyAtOnce() {
    Conn k = new Conn().client(T0, produceRequest(1, 0, 9, "events", null, 5, 0));
    Exchange x = k.only();
    assertEquals(FactStatus.NO_REPLY, x.status());
    assertEquals(Exchange.Pairing.NONE, x.pairing());
    assertEquals("5", x.detail().get("records"));
    assertEquals(0, k.s.pendingRequests());
  }

  @Test
  void topicIdsAreNamedFromThisConnectionsMetadata() {
    Uuid orders = Uuid.randomUuid();
    Uuid other = Uuid.randomUuid();
    Conn k = new Conn()
        .client(T0, metadataRequest(1, "orders")).server(T0 + MS, metadataResponse(1, "orders", orders))
        .client(T0 + 2 * MS, produceRequest(2, -1, 13, null, orders, 1, 0, 1))
        .client(T0 + 2 * MS, produceRequest(3, -1, 13, null, other, 1, 7))
        .server(T0 + 3 * MS, produceResponse(2, 13, "", 0, 0, 1)).server(T0 + 3 * MS, produceResponse(3, 13, "", 0, 7))
        .close(T0 + 4 * MS);
    assertEquals("orders-0,orders-1", k.out.exchanges.get(1).resource());
    assertEquals("id:" + other + "-7", k.out.exchanges.get(2).resource(), "an id this connection never saw named");
  }

  @Test
  void responsesAnsweredOutOfTurnMeanTheSkippedGotNone() {
    Conn k = new Conn().client(T0, concat(apiVersionsRequest(1), apiVersionsRequest(2)))
        .server(T0 + MS, apiVersionsResponse(2)).server(T0 + 2 * MS, apiVersionsResponse(1)).close(T0 + 3 * MS);
    assertEquals(List.of("ApiVersions TIMEOUT", "ApiVersions OK"), k.out.summary());
    assertEquals(List.of(KafkaSession.MISSING_RESPONSE, KafkaSession.ORPHAN_RESPONSE), k.out.anomalyNames());
  }

  @Test
  void orphansAreReportedOncePerEpisode() {
    Conn k = new Conn().client(T0, apiVersionsRequest(1)).server(T0 + MS, apiVersionsResponse(1))
        .server(T0 + 2 * MS, apiVersionsResponse(5)).server(T0 + 3 * MS, apiVersionsResponse(6))
        .client(T0 + 4 * MS, apiVersionsRequest(2)).server(T0 + 5 * MS, apiVersionsResponse(2))
        .server(T0 + 6 * MS, apiVersionsResponse(9)).close(T0 + 7 * MS);
    assertEquals(List.of("ApiVersions OK", "ApiVersions OK"), k.out.summary());
    assertEquals(List.of(KafkaSession.ORPHAN_RESPONSE, KafkaSession.ORPHAN_RESPONSE), k.out.anomalyNames(),
        "one for 5 and 6, one for 9 after a pairing");
  }

  @Test
  void aResponseCapturedBeforeItsRequestEndedIsAnOrphan() {
    Conn k = new Conn().client(T0 + 5 * MS, apiVersionsRequest(1)).server(T0, apiVersionsResponse(1)).close(T0 + 6 * MS);
    assertEquals(List.of("ApiVersions TIMEOUT"), k.out.summary());
    assertEquals(List.of(KafkaSession.ORPHAN_RESPONSE), k.out.anomalyNames());
  }

  @Test
  void duplicateCorrelationIdsPairInOrder() {
    Conn k = new Conn().client(T0, apiVersionsRequest(4)).client(T0 + MS, metadataRequest(4, "a"))
        .server(T0 + 2 * MS, apiVersionsResponse(4)).server(T0 + 3 * MS, metadataResponse(4, "a", Uuid.randomUuid()))
        .close(T0 + 4 * MS);
    assertEquals(List.of("ApiVersions OK", "Metadata OK"), k.out.summary());
    assertEquals(List.of(KafkaSession.DUPLICATE_CORRELATION_ID), k.out.anomalyNames());
  }

  @Test
  void pendingRequestsAreBounded() {
    SessionLimits two = new SessionLimits(2, 512L << 20, 1 << 20, 64, 65536, 256);
    Conn k = new Conn(two, KafkaDecoder.DEFAULT_MAX_DECODED_FRAME, true);
    for (int i = 1; i <= 4; i++) {
      k.client(T0 + i, apiVersionsRequest(i));
    }
    assertEquals(List.of("ApiVersions TIMEOUT", "ApiVersions TIMEOUT"), k.out.summary());
    assertEquals(List.of(KafkaSession.TOO_MANY_PENDING), k.out.anomalyNames(), "once per episode");
    assertEquals(2, k.s.pendingRequests());
    k.server(T0 + 10, apiVersionsResponse(3)).close(T0 + 11);
    assertEquals("ApiVersions OK", k.out.summary().get(2));
  }

  @Test
  void expireAndCloseTimeOutWhatIsPending() {
    Conn k = new Conn().client(T0, apiVersionsRequest(1)).client(T0 + 10 * MS, apiVersionsRequest(2));
    k.s.expire(T0 + 5 * MS, k.out);
    assertEquals(List.of("ApiVersions TIMEOUT"), k.out.summary());
    k.close(T0 + 20 * MS);
    assertEquals(List.of("ApiVersions TIMEOUT", "ApiVersions TIMEOUT"), k.out.summary());
    assertFalse(k.out.exchanges.get(1).responseGap());
  }

  // ---- versions and bodies -----------------------------------------------------------------

  /** Produce v2: removed from kafka-clients 4 (it throws), still sent by old clients and accepted by brokers. */
  @Test
  void removedVersionsGiveAFactFromTheHeader() {
    byte[] body = ByteBuffer.allocate(10).putShort((short) 1).putInt(1500).putInt(0).array(); // acks, timeout, topics[0]
    byte[] resp = ByteBuffer.allocate(8).putInt(0).putInt(0).array(); // responses[0], throttle
    Conn k = new Conn().client(T0, rawRequest(0, 2, 77, "old-client", body)).server(T0 + MS, rawResponse(77, resp))
        .close(T0 + 2 * MS);
    Exchange x = k.only();
    assertEquals("Produce", x.command());
    assertEquals(FactStatus.OK, x.status());
    assertEquals("acks=1", x.args(), "read in place");
    assertEquals(Map.of("api_version", "2", "client_id", "old-client", "correlation_id", "77", "body_decoded", "false"),
        x.detail());
    assertEquals(List.of(), k.out.anomalies);
  }

  @Test
  void acksAreReadInPlaceForEveryProduceVersion() {
    for (int v : new int[] {3, 8, 9, 13}) {
      byte[] frame = produceRequest(1, 0, v, "t", Uuid.randomUuid(), 1, 0);
      byte[] content = Arrays.copyOfRange(frame, 4, frame.length);
      assertEquals(0, KafkaHeaders.produceAcks(content, content.length, (short) v), "v" + v);
    }
  }

  @Test
  void versionsNewerThanKafkaClientsAndUnknownApisAfterTheFirstFrame() {
    Conn k = new Conn().client(T0, apiVersionsRequest(1)).server(T0 + MS, apiVersionsResponse(1))
        .client(T0 + 2 * MS, rawRequest(3, 40, 2, "future", new byte[] {0, 0}))
        .client(T0 + 2 * MS, rawRequest(400, 0, 3, "future", new byte[] {1}))
        .server(T0 + 3 * MS, rawResponse(2, new byte[8])).server(T0 + 3 * MS, rawResponse(3, new byte[2]))
        .close(T0 + 4 * MS);
    assertEquals(List.of("ApiVersions OK", "Metadata OK", "ApiKey(400) OK"), k.out.summary());
    assertEquals("false", k.out.exchanges.get(1).detail().get("body_decoded"));
    assertEquals("40", k.out.exchanges.get(1).detail().get("api_version"));
    assertEquals(List.of(), k.out.anomalies);
  }

  @Test
  void aBodyOfASupportedVersionThatDoesNotParseIsAnAnomaly() {
    byte[] good = apiVersionsRequest(1);
    byte[] extra = KafkaWire.sized(concat(Arrays.copyOfRange(good, 4, good.length), new byte[] {1, 2, 3}));
    Conn k = new Conn().client(T0, extra).server(T0 + MS, apiVersionsResponse(1))
        .client(T0 + 2 * MS, rawRequest(3, 12, 2, "client-1", new byte[] {(byte) 0xff, 0x7f}))
        .server(T0 + 3 * MS, rawResponse(2, new byte[] {9}))
        .close(T0 + 4 * MS);
    assertEquals(List.of("ApiVersions OK", "Metadata OK"), k.out.summary());
    assertEquals(List.of(KafkaSession.BAD_BODY, KafkaSession.BAD_BODY, KafkaSession.BAD_BODY), k.out.anomalyNames());
    assertTrue(k.out.anomalies.get(0).detail().contains("does not consume"), k.out.anomalies.toString());
    assertTrue(k.out.anomalies.get(1).detail().contains("does not parse"), k.out.anomalies.toString());
    assertEquals("false", k.out.exchanges.get(0).detail().get("body_decoded"));
  }

  // ---- frames and limits -------------------------------------------------------------------

  @Test
  void framesOverTheDecodeBoundAreStreamedThrough() {
    Uuid id = Uuid.randomUuid();
    Conn k = new Conn(SessionLimits.DEFAULTS, 64, true)
        .client(T0, produceRequest(1, -1, 9, "orders", null, 50, 0, 1, 2)).server(T0 + MS, produceResponse(1, 9, "orders", 0, 0, 1, 2))
        .client(T0 + 2 * MS, produceRequest(2, 0, 13, null, id, 50, 0)).close(T0 + 3 * MS);
    assertEquals(List.of("Produce OK", "Produce NO_REPLY"), k.out.summary());
    Exchange x = k.out.exchanges.get(0);
    assertEquals("false", x.detail().get("body_decoded"));
    assertEquals("client-1", x.detail().get("client_id"));
    assertEquals("acks=-1", x.args());
    assertNull(x.resource());
    assertEquals(produceRequest(1, -1, 9, "orders", null, 50, 0, 1, 2).length, x.requestBytes());
    assertEquals(List.of(), k.out.anomalies);
  }

  @Test
  void framesOverTheMessageLimitAreSkippedByLength() {
    SessionLimits small = new SessionLimits(10_000, 200, 1 << 20, 64, 65536, 256);
    Conn k = new Conn(small, KafkaDecoder.DEFAULT_MAX_DECODED_FRAME, true)
        .client(T0, apiVersionsRequest(1)).server(T0 + MS, apiVersionsResponse(1))
        .client(T0 + 2 * MS, produceRequest(2, -1, 9, "orders", null, 40, 0))
        .client(T0 + 2 * MS, apiVersionsRequest(3))
        .server(T0 + 3 * MS, produceResponse(2, 9, "orders", 0, 0)).server(T0 + 3 * MS, apiVersionsResponse(3))
        .close(T0 + 4 * MS);
    assertEquals(List.of("ApiVersions OK", "Produce OK", "ApiVersions OK"), k.out.summary());
    assertEquals(List.of(KafkaSession.FRAME_TOO_LARGE), k.out.anomalyNames());
    assertEquals("false", k.out.exchanges.get(1).detail().get("body_decoded"));
  }

  @Test
  void aStreamThatStartsMidFrameResynchronisesAtTheNextFrame() {
    byte[] first = metadataRequest(1, "orders", "events");
    byte[] tail = Arrays.copyOfRange(first, 9, first.length);
    Conn k = new Conn().client(T0, concat(tail, apiVersionsRequest(2))).server(T0 + MS, apiVersionsResponse(2))
        .close(T0 + 2 * MS);
    assertEquals(List.of("ApiVersions OK"), k.out.summary());
    assertEquals(List.of(KafkaSession.BAD_FRAME), k.out.anomalyNames());
    assertEquals(0, k.out.anomalies.get(0).streamOffset());
    assertTrue(k.out.anomalies.get(0).detail().contains("mid-connection"));
    assertEquals(tail.length, k.only().requestOffset());
  }

  @Test
  void aServerStreamThatStartsMidFrameFindsTheResponseAPendingRequestAwaits() {
    byte[] old = response(new MetadataResponseData().setClusterId("c"), 12, 40);
    Conn k = new Conn().client(T0, apiVersionsRequest(41))
        .server(T0 + MS, concat(Arrays.copyOfRange(old, 6, old.length), apiVersionsResponse(41))).close(T0 + 2 * MS);
    assertEquals(List.of("ApiVersions OK"), k.out.summary());
    assertEquals(List.of(KafkaSession.BAD_FRAME), k.out.anomalyNames());
  }

  @Test
  void garbageBetweenFramesIsSkippedWithOneAnomaly() {
    byte[] junk = new byte[300];
    Arrays.fill(junk, (byte) 0xee);
    Conn k = new Conn().client(T0, apiVersionsRequest(1)).server(T0 + MS, apiVersionsResponse(1))
        .client(T0 + 2 * MS, concat(junk, apiVersionsRequest(2))).server(T0 + 3 * MS, apiVersionsResponse(2))
        .close(T0 + 4 * MS);
    assertEquals(List.of("ApiVersions OK", "ApiVersions OK"), k.out.summary());
    assertEquals(List.of(KafkaSession.BAD_FRAME), k.out.anomalyNames());
    assertEquals(apiVersionsRequest(1).length, k.out.anomalies.get(0).streamOffset());
  }

  /**
   * Sliding past a candidate that needed 30 bytes to be refused leaves bytes of what follows
   * in hand: a short frame found among them gives its tail back as the next frame's start.
   */
  @Test
  void aShortFrameFoundWhileSlidingKeepsTheBytesAfterIt() {
    // no frame (negative size), then a candidate that wants 16 client id bytes before it is refused
    byte[] junk = KafkaWire.bytes(0xff, 0xff, 0xff, 0xff, 0, 0, 0x7f, 0, 0, 0x12, 0, 0, 0, 0, 0, 5, 0, 0x10);
    byte[] b = rawRequest(18, 0, 2, "c", new byte[0]); // ApiVersions v0: 15 bytes
    byte[] c = rawRequest(18, 0, 3, "c", new byte[0]);
    Conn k = new Conn().client(T0, rawRequest(18, 0, 1, "c", new byte[0])).server(T0, apiVersionsV0Response(1))
        .client(T0 + MS, concat(junk, b, c))
        .server(T0 + 2 * MS, concat(apiVersionsV0Response(2), apiVersionsV0Response(3))).close(T0 + 3 * MS);
    assertEquals(List.of("ApiVersions OK", "ApiVersions OK", "ApiVersions OK"), k.out.summary());
    assertEquals(List.of(KafkaSession.BAD_FRAME), k.out.anomalyNames());
    assertEquals(15 + junk.length + 15, k.out.exchanges.get(2).requestOffset());
  }

  static byte[] apiVersionsV0Response(int corr) {
    return response(new ApiVersionsResponseData(), 0, corr);
  }

  // ---- gaps --------------------------------------------------------------------------------

  @Test
  void aGapInsideARequestKeepsItsFramingAndItsPlace() {
    byte[] req = produceRequest(1, -1, 9, "orders", null, 20, 0);
    Conn k = new Conn().client(T0, Arrays.copyOfRange(req, 0, 100)).clientGap(50, T0 + MS)
        .client(T0 + MS, Arrays.copyOfRange(req, 150, req.length)).client(T0 + MS, apiVersionsRequest(2))
        .server(T0 + 2 * MS, produceResponse(1, 9, "orders", 0, 0)).server(T0 + 2 * MS, apiVersionsResponse(2))
        .close(T0 + 3 * MS);
    assertEquals(List.of("Produce OK", "ApiVersions OK"), k.out.summary());
    Exchange x = k.out.exchanges.get(0);
    assertTrue(x.requestGap());
    assertEquals("false", x.detail().get("body_decoded"));
    assertEquals("client-1", x.detail().get("client_id"));
    assertEquals(req.length, x.requestBytes());
    assertEquals(List.of(KafkaSession.GAP), k.out.anomalyNames());
  }

  @Test
  void aGapThatCutsAHeaderDropsItAndResynchronises() {
    byte[] req = apiVersionsRequest(1);
    Conn k = new Conn().client(T0, apiVersionsRequest(0)).server(T0, apiVersionsResponse(0))
        .client(T0, Arrays.copyOfRange(req, 0, 6)).clientGap(10, T0 + MS)
        .client(T0 + MS, Arrays.copyOfRange(req, 16, req.length)).client(T0 + MS, apiVersionsRequest(2))
        .server(T0 + 2 * MS, apiVersionsResponse(1)).server(T0 + 2 * MS, apiVersionsResponse(2)).close(T0 + 3 * MS);
    assertEquals(List.of("ApiVersions OK", "ApiVersions OK"), k.out.summary());
    assertEquals("2", k.out.exchanges.get(1).detail().get("correlation_id"));
    assertEquals(List.of(KafkaSession.GAP, KafkaSession.RESPONSE_TO_LOST_REQUEST), k.out.anomalyNames(),
        "the answer to the request the gap cut is no orphan");
    assertTrue(k.out.anomalies.get(0).detail().contains("partial frame dropped"));
  }

  /** A server stream's first frame must answer a pending request: one that does not is no frame start (its request may be lost, or the capture began mid-frame). */
  @Test
  void aFirstResponseThatAnswersNothingIsNoFrameStart() {
    Conn k = new Conn().clientGap(apiVersionsRequest(1).length, T0).client(T0, apiVersionsRequest(2))
        .server(T0 + MS, concat(apiVersionsResponse(1), apiVersionsResponse(2))).close(T0 + 2 * MS);
    assertEquals(List.of("ApiVersions OK"), k.out.summary());
    assertEquals(List.of(KafkaSession.GAP, KafkaSession.BAD_FRAME), k.out.anomalyNames());
  }

  @Test
  void aGapPastTheEndOfAFrameEndsItAndResynchronises() {
    byte[] a = produceRequest(1, -1, 9, "orders", null, 5, 0);
    byte[] b = apiVersionsRequest(2);
    byte[] c = apiVersionsRequest(3);
    int cut = a.length - 10;
    Conn k = new Conn().client(T0, apiVersionsRequest(0)).server(T0, apiVersionsResponse(0))
        .client(T0, Arrays.copyOfRange(a, 0, cut)).clientGap(10 + 12, T0 + MS)
        .client(T0 + MS, Arrays.copyOfRange(b, 12, b.length)).client(T0 + MS, c)
        .server(T0 + 2 * MS, concat(produceResponse(1, 9, "orders", 0, 0), apiVersionsResponse(2), apiVersionsResponse(3)))
        .close(T0 + 3 * MS);
    assertEquals(List.of("ApiVersions OK", "Produce OK", "ApiVersions OK"), k.out.summary());
    assertTrue(k.out.exchanges.get(1).requestGap());
    assertEquals("3", k.out.exchanges.get(2).detail().get("correlation_id"));
    assertEquals(List.of(KafkaSession.GAP, KafkaSession.RESPONSE_TO_LOST_REQUEST), k.out.anomalyNames());
  }

  @Test
  void aServerGapMayHaveHeldAnswers() {
    byte[] r1 = apiVersionsResponse(1);
    Conn k = new Conn().client(T0, concat(apiVersionsRequest(1), apiVersionsRequest(2), apiVersionsRequest(3)))
        .serverGap(r1.length, T0 + MS).server(T0 + 2 * MS, apiVersionsResponse(2)).close(T0 + 3 * MS);
    assertEquals(List.of("ApiVersions TIMEOUT", "ApiVersions OK", "ApiVersions TIMEOUT"), k.out.summary());
    assertTrue(k.out.exchanges.get(0).responseGap(), "its answer was in the gap");
    assertTrue(k.out.exchanges.get(2).responseGap(), "pending at the gap: its answer may have been too");
    assertEquals(List.of(KafkaSession.GAP), k.out.anomalyNames(), "no missing-response anomaly: the gap says it");
  }

  @Test
  void aConnectionThatEndsInsideAFrame() {
    byte[] req = apiVersionsRequest(1);
    Conn k = new Conn().client(T0, Arrays.copyOfRange(req, 0, req.length - 3)).close(T0 + MS);
    assertEquals(List.of(), k.out.exchanges);
    assertEquals(List.of(KafkaSession.INCOMPLETE_AT_CLOSE), k.out.anomalyNames());
  }

  // ---- SASL --------------------------------------------------------------------------------

  /** SaslHandshake v0 (KIP-43): after it, raw size-prefixed tokens without Kafka headers; never read, never a fact. */
  @Test
  void rawSaslTokensAfterAHandshakeV0AreDroppedUnread() {
    String secret = "raw-token-secret-password";
    byte[] token = KafkaWire.sized(("\0alice\0" + secret).getBytes(StandardCharsets.UTF_8));
    Conn k = new Conn()
        .client(T0, request(new SaslHandshakeRequestData().setMechanism("PLAIN"), 0, "client-1", 1))
        .server(T0 + MS, response(new SaslHandshakeResponseData().setMechanisms(List.of("PLAIN")), 0, 1))
        .client(T0 + 2 * MS, token).server(T0 + 3 * MS, KafkaWire.sized(new byte[0]))
        .client(T0 + 4 * MS, metadataRequest(2, "orders")).server(T0 + 5 * MS, metadataResponse(2, "orders", Uuid.randomUuid()))
        .close(T0 + 6 * MS);
    assertEquals(List.of("SaslHandshake OK", "Metadata OK"), k.out.summary());
    assertEquals("mechanism=PLAIN", k.out.exchanges.get(0).args());
    assertEquals(List.of(), k.out.anomalies);
    assertFalse(k.out.toString().contains(secret));
    k.out.exchanges.forEach(x -> assertFalse(x.toString().contains(secret)));
  }

  /**
   * A raw SASL token and its answer arriving one byte at a time, the state saved after every
   * byte: no saved state (it goes to a changelog topic) holds any piece of the password or of
   * the server's token, and what follows decodes as without the saves.
   */
  @Test
  void rawSaslTokensInProgressAreNotInTheSavedState() throws IOException {
    String secret = "raw-token-secret-password";
    String serverToken = "server-token-signature";
    Conn k = new Conn()
        .client(T0, request(new SaslHandshakeRequestData().setMechanism("PLAIN"), 0, "client-1", 1))
        .server(T0 + MS, response(new SaslHandshakeResponseData().setMechanisms(List.of("PLAIN")), 0, 1));
    for (byte[] token : List.of(KafkaWire.sized(("\0alice\0" + secret).getBytes(StandardCharsets.UTF_8)),
        KafkaWire.sized(serverToken.getBytes(StandardCharsets.UTF_8)))) {
      boolean client = token.length > serverToken.length() + 4;
      for (int i = 0; i < token.length; i++) {
        byte[] one = {token[i]};
        if (client) {
          k.client(T0 + 2 * MS, one);
        } else {
          k.server(T0 + 3 * MS, one);
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        k.s.writeTo(new DataOutputStream(bytes));
        String state = bytes.toString(StandardCharsets.ISO_8859_1);
        for (String s : List.of(secret, serverToken)) {
          for (int j = 0; j + 6 <= s.length(); j++) {
            assertFalse(state.contains(s.substring(j, j + 6)), "a piece of " + s + " after byte " + i);
          }
        }
      }
    }
    k.client(T0 + 4 * MS, metadataRequest(2, "orders")).server(T0 + 5 * MS, metadataResponse(2, "orders", Uuid.randomUuid()))
        .close(T0 + 6 * MS);
    assertEquals(List.of("SaslHandshake OK", "Metadata OK"), k.out.summary());
    assertEquals(List.of(), k.out.anomalies);
  }

  // ---- state -------------------------------------------------------------------------------

  @Test
  void theStateOfAnIdleConnectionIsSmall() throws IOException {
    Conn k = new Conn().client(T0, apiVersionsRequest(1)).server(T0 + MS, apiVersionsResponse(1));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    k.s.writeTo(new DataOutputStream(bytes));
    assertTrue(bytes.size() <= 64, "idle state " + bytes.size() + " bytes");
  }

  @Test
  void aFrameHalfReadSurvivesARestart() throws IOException {
    byte[] req = produceRequest(1, -1, 9, "orders", null, 30, 0, 1);
    Conn k = new Conn(SessionLimits.DEFAULTS, KafkaDecoder.DEFAULT_MAX_DECODED_FRAME, false)
        .client(T0, Arrays.copyOfRange(req, 0, req.length / 2));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    k.s.writeTo(new DataOutputStream(bytes));
    assertTrue(bytes.size() < req.length + 100, "the half frame and little else: " + bytes.size());
    k.s = SessionFeeder.roundTrip(KafkaFixtures.sessions(SessionLimits.DEFAULTS), k.s);
    k.client(T0 + MS, Arrays.copyOfRange(req, req.length / 2, req.length))
        .server(T0 + 2 * MS, produceResponse(1, 9, "orders", 0, 0, 1)).close(T0 + 3 * MS);
    assertEquals("60", k.only().detail().get("records"));
    assertEquals("true", k.only().detail().get("body_decoded"));
  }
}
