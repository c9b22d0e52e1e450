package dev.tapflow.stream.protocol.kafka;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.message.AddOffsetsToTxnRequestData;
import org.apache.kafka.common.message.AddPartitionsToTxnRequestData;
import org.apache.kafka.common.message.ApiVersionsRequestData;
import org.apache.kafka.common.message.ConsumerGroupDescribeRequestData;
import org.apache.kafka.common.message.ConsumerGroupHeartbeatRequestData;
import org.apache.kafka.common.message.CreatePartitionsRequestData;
import org.apache.kafka.common.message.CreateTopicsRequestData;
import org.apache.kafka.common.message.DeleteRecordsRequestData;
import org.apache.kafka.common.message.DeleteTopicsRequestData;
import org.apache.kafka.common.message.DescribeConfigsRequestData;
import org.apache.kafka.common.message.DescribeGroupsRequestData;
import org.apache.kafka.common.message.DescribeTopicPartitionsRequestData;
import org.apache.kafka.common.message.EndTxnRequestData;
import org.apache.kafka.common.message.FetchRequestData;
import org.apache.kafka.common.message.FetchResponseData;
import org.apache.kafka.common.message.FindCoordinatorRequestData;
import org.apache.kafka.common.message.HeartbeatRequestData;
import org.apache.kafka.common.message.InitProducerIdRequestData;
import org.apache.kafka.common.message.JoinGroupRequestData;
import org.apache.kafka.common.message.LeaveGroupRequestData;
import org.apache.kafka.common.message.ListOffsetsRequestData;
import org.apache.kafka.common.message.MetadataRequestData;
import org.apache.kafka.common.message.MetadataResponseData;
import org.apache.kafka.common.message.OffsetCommitRequestData;
import org.apache.kafka.common.message.OffsetFetchRequestData;
import org.apache.kafka.common.message.ProduceRequestData;
import org.apache.kafka.common.message.SaslHandshakeRequestData;
import org.apache.kafka.common.message.SyncGroupRequestData;
import org.apache.kafka.common.message.TxnOffsetCommitRequestData;
import org.apache.kafka.common.message.WriteTxnMarkersRequestData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.protocol.ByteBufferAccessor;
import org.apache.kafka.common.protocol.Errors;
import org.apache.kafka.common.record.internal.BaseRecords;
import org.apache.kafka.common.record.internal.RecordBatch;
import org.apache.kafka.common.record.internal.Records;
import org.apache.kafka.common.requests.AbstractRequest;
import org.apache.kafka.common.requests.AbstractResponse;
import org.apache.kafka.common.requests.FetchResponse;
import org.apache.kafka.common.requests.MetadataResponse;
import org.apache.kafka.common.requests.RequestHeader;

/**
 * What Kafka requests and responses say, read with kafka-clients' own protocol classes:
 * {@code RequestHeader.parse} and {@code AbstractRequest.parseRequest} for requests,
 * {@code AbstractResponse.parseResponse} with the request's api key and version for
 * responses. The only class of the decoder that imports Kafka types (and only
 * {@code org.apache.kafka.common} protocol, message, record and request classes).
 *
 * <p>A body is decoded only when its frame is whole, kafka-clients supports the version
 * (removed versions such as Produce v0–v2 and Fetch v0–v3 throw, and so do versions newer
 * than it), the parse does not throw, and it consumes the frame exactly (some parsers of
 * removed versions "succeed" on garbage). Otherwise the fact carries the header's fields
 * and {@code body_decoded=false}.
 *
 * <p>SASL: nothing of a SaslAuthenticate body is read into a result (its auth bytes hold
 * PLAIN passwords and SCRAM proofs), and of a SaslHandshake only the mechanism name.
 * No result ever carries a server's error message, only error names and codes.
 */
final class KafkaApis {

  static final short SASL_HANDSHAKE = ApiKeys.SASL_HANDSHAKE.id;
  static final short SASL_AUTHENTICATE = ApiKeys.SASL_AUTHENTICATE.id;
  static final short PRODUCE = ApiKeys.PRODUCE.id;
  /** Error names on a fact; more are counted. */
  static final int MAX_ERRORS_LISTED = 4;
  /** Versions beyond kafka-clients' latest that still look like a request at an untrusted position. */
  private static final int FUTURE_VERSIONS = 2;

  private KafkaApis() {}

  /** Why a body was not decoded, when that is worth an anomaly. */
  enum BodyProblem {
    NONE,
    /** a version kafka-clients supports that did not parse */
    PARSE_FAILED,
    /** parsed, but not exactly the frame's bytes */
    NOT_CONSUMED
  }

  /**
   * What a request says.
   *
   * @param acks         a Produce request's acks, else {@link KafkaHeaders#ACKS_UNKNOWN}
   * @param records      records in a Produce request, or -1
   * @param namedTopics  a Metadata request that names its topics (its response may teach topic ids)
   */
  record Request(String resource, String args, boolean decoded, BodyProblem problem, short acks, long records,
      boolean namedTopics) {}

  /**
   * What a response says.
   *
   * @param errors       names of the error codes other than NONE (top level and per partition), or null
   * @param errorCodes   those codes, comma-separated, or null
   * @param throttleMs   throttle time, or -1 when not decoded
   * @param records      records in a Fetch response, or -1
   * @param resource     the topics and partitions a Fetch response carries (for a request that named none), or null
   * @param topicIds     topic id (as kafka-clients prints it) to name, from a Metadata response, or empty
   */
  record Response(boolean decoded, BodyProblem problem, String errors, String errorCodes, int throttleMs, long records,
      String resource, Map<String, String> topicIds) {}

  /** The api key's name ({@code Produce}, {@code Fetch}, ...), or {@code ApiKey(n)} for one kafka-clients does not know. */
  static String name(short apiKey) {
    return ApiKeys.hasId(apiKey) ? ApiKeys.forId(apiKey).name : "ApiKey(" + apiKey + ")";
  }

  /** A known api key with a version kafka-clients knows, one removed, or one a little newer. */
  static boolean plausibleVersion(int apiKey, int version) {
    return ApiKeys.hasId(apiKey) && version >= 0 && version <= ApiKeys.forId(apiKey).latestVersion() + FUTURE_VERSIONS;
  }

  static boolean isSasl(short apiKey) {
    return apiKey == SASL_HANDSHAKE || apiKey == SASL_AUTHENTICATE;
  }

  private static boolean parseable(short apiKey, short version) {
    return ApiKeys.hasId(apiKey) && ApiKeys.forId(apiKey).isVersionSupported(version);
  }

  // ---- requests ----------------------------------------------------------------------------

  static Request request(KafkaFrame f, Function<String, String> topicNames, int maxArgChars) {
    short key = KafkaHeaders.apiKey(f.bytes());
    short version = KafkaHeaders.apiVersion(f.bytes());
    short acks = key == PRODUCE ? KafkaHeaders.produceAcks(f.bytes(), f.kept(), version) : KafkaHeaders.ACKS_UNKNOWN;
    if (!f.whole() || !parseable(key, version)) {
      return new Request(null, acks == KafkaHeaders.ACKS_UNKNOWN ? null : "acks=" + acks, false, BodyProblem.NONE,
          acks, -1, false);
    }
    ApiMessage data;
    try {
      ByteBuffer buf = ByteBuffer.wrap(f.bytes(), 0, f.kept());
      RequestHeader.parse(buf);
      data = AbstractRequest.parseRequest(ApiKeys.forId(key), version, new ByteBufferAccessor(buf)).request.data();
      if (buf.hasRemaining()) {
        return new Request(null, null, false, BodyProblem.NOT_CONSUMED, acks, -1, false);
      }
    } catch (RuntimeException e) {
      return new Request(null, null, false, BodyProblem.PARSE_FAILED, acks, -1, false);
    }
    Described d = new Described(topicNames);
    try {
      describe(ApiKeys.forId(key), data, d);
    } catch (RuntimeException e) {
      return new Request(null, null, false, BodyProblem.PARSE_FAILED, acks, -1, false); // a field the parse let through
    }
    String args = d.args.isEmpty() ? null : String.join(" ", d.args);
    if (args != null && args.length() > maxArgChars) {
      args = args.substring(0, maxArgChars) + "...";
    }
    String resource = d.topics.isEmpty() ? d.name : d.topics.summary();
    return new Request(resource, args, true, BodyProblem.NONE, d.acks, d.records, d.namedTopics);
  }

  /** What {@link #describe} found in a request. */
  private static final class Described {
    final Function<String, String> topicNames;
    final KafkaResource topics = new KafkaResource();
    final List<String> args = new ArrayList<>();
    /** a group, transactional id or coordinator key: the resource when no topic is named */
    String name;
    short acks = KafkaHeaders.ACKS_UNKNOWN;
    long records = -1;
    boolean namedTopics;

    Described(Function<String, String> topicNames) {
      this.topicNames = topicNames;
    }

    /**
     * A topic named by name, or (newer versions) by id: the name this connection learned for
     * it, else {@code id:<topic id>} (a colon is not allowed in topic names).
     */
    String topic(String name, Uuid id) {
      if (name != null && !name.isEmpty()) {
        return name;
      }
      if (id == null || id.equals(Uuid.ZERO_UUID)) {
        return name;
      }
      String known = topicNames.apply(id.toString());
      return known != null ? known : "id:" + id;
    }

    void arg(String key, Object value) {
      if (value != null) {
        args.add(key + "=" + KafkaHeaders.printable(value.toString()));
      }
    }

    void group(String group) {
      if (group != null) {
        name = KafkaHeaders.printable(group);
        arg("group", group);
      }
    }

    void transactionalId(String id) {
      if (id != null) {
        if (name == null) {
          name = KafkaHeaders.printable(id);
        }
        arg("transactional_id", id);
      }
    }
  }

  /** Resource and arguments of one request, by api. SASL bodies: the handshake's mechanism only. */
  private static void describe(ApiKeys api, ApiMessage m, Described d) {
    switch (api) {
      case PRODUCE -> {
        ProduceRequestData r = (ProduceRequestData) m;
        d.acks = r.acks();
        d.arg("acks", r.acks());
        d.transactionalId(r.transactionalId());
        long records = 0;
        for (ProduceRequestData.TopicProduceData t : r.topicData()) {
          String topic = d.topic(t.name(), t.topicId());
          for (ProduceRequestData.PartitionProduceData p : t.partitionData()) {
            d.topics.partition(topic, p.index());
            long n = count(p.records());
            records = records < 0 || n < 0 ? -1 : records + n;
          }
        }
        d.records = records;
      }
      case FETCH -> {
        FetchRequestData r = (FetchRequestData) m;
        d.arg("max_wait_ms", r.maxWaitMs());
        for (FetchRequestData.FetchTopic t : r.topics()) {
          String topic = d.topic(t.topic(), t.topicId());
          t.partitions().forEach(p -> d.topics.partition(topic, p.partition()));
        }
      }
      case LIST_OFFSETS -> ((ListOffsetsRequestData) m).topics()
          .forEach(t -> t.partitions().forEach(p -> d.topics.partition(t.name(), p.partitionIndex())));
      case METADATA -> {
        MetadataRequestData r = (MetadataRequestData) m;
        if (r.topics() == null) {
          d.args.add("all_topics");
        } else {
          r.topics().forEach(t -> d.topics.topic(d.topic(t.name(), t.topicId())));
          d.namedTopics = !r.topics().isEmpty();
        }
      }
      case OFFSET_COMMIT -> {
        OffsetCommitRequestData r = (OffsetCommitRequestData) m;
        d.group(r.groupId());
        for (OffsetCommitRequestData.OffsetCommitRequestTopic t : r.topics()) {
          String topic = d.topic(t.name(), t.topicId());
          t.partitions().forEach(p -> d.topics.partition(topic, p.partitionIndex()));
        }
      }
      case OFFSET_FETCH -> {
        OffsetFetchRequestData r = (OffsetFetchRequestData) m;
        d.group(r.groupId() == null || r.groupId().isEmpty() ? null : r.groupId());
        if (r.topics() != null) {
          r.topics().forEach(t -> t.partitionIndexes().forEach(p -> d.topics.partition(t.name(), p)));
        }
        for (OffsetFetchRequestData.OffsetFetchRequestGroup g : r.groups()) {
          d.group(g.groupId());
          if (g.topics() != null) {
            for (OffsetFetchRequestData.OffsetFetchRequestTopics t : g.topics()) {
              String topic = d.topic(t.name(), t.topicId());
              t.partitionIndexes().forEach(p -> d.topics.partition(topic, p));
            }
          }
        }
      }
      case FIND_COORDINATOR -> {
        FindCoordinatorRequestData r = (FindCoordinatorRequestData) m;
        List<String> keys = r.coordinatorKeys().isEmpty() ? List.of(r.key()) : r.coordinatorKeys();
        d.name = KafkaHeaders.printable(String.join(",", keys));
        d.arg("key_type", r.keyType() == 1 ? "transaction" : r.keyType() == 0 ? "group" : Byte.toString(r.keyType()));
      }
      case JOIN_GROUP -> d.group(((JoinGroupRequestData) m).groupId());
      case SYNC_GROUP -> d.group(((SyncGroupRequestData) m).groupId());
      case HEARTBEAT -> d.group(((HeartbeatRequestData) m).groupId());
      case LEAVE_GROUP -> d.group(((LeaveGroupRequestData) m).groupId());
      case CONSUMER_GROUP_HEARTBEAT -> {
        ConsumerGroupHeartbeatRequestData r = (ConsumerGroupHeartbeatRequestData) m;
        d.group(r.groupId());
        d.arg("member_epoch", r.memberEpoch());
      }
      case DESCRIBE_GROUPS -> d.name = KafkaHeaders.printable(String.join(",", ((DescribeGroupsRequestData) m).groups()));
      case CONSUMER_GROUP_DESCRIBE ->
          d.name = KafkaHeaders.printable(String.join(",", ((ConsumerGroupDescribeRequestData) m).groupIds()));
      case INIT_PRODUCER_ID -> d.transactionalId(((InitProducerIdRequestData) m).transactionalId());
      case ADD_PARTITIONS_TO_TXN -> {
        AddPartitionsToTxnRequestData r = (AddPartitionsToTxnRequestData) m;
        d.transactionalId(r.v3AndBelowTransactionalId() == null || r.v3AndBelowTransactionalId().isEmpty()
            ? null : r.v3AndBelowTransactionalId());
        r.v3AndBelowTopics().forEach(t -> t.partitions().forEach(p -> d.topics.partition(t.name(), p)));
        for (AddPartitionsToTxnRequestData.AddPartitionsToTxnTransaction x : r.transactions()) {
          d.transactionalId(x.transactionalId());
          x.topics().forEach(t -> t.partitions().forEach(p -> d.topics.partition(t.name(), p)));
        }
      }
      case ADD_OFFSETS_TO_TXN -> {
        AddOffsetsToTxnRequestData r = (AddOffsetsToTxnRequestData) m;
        d.transactionalId(r.transactionalId());
        d.arg("group", r.groupId());
      }
      case END_TXN -> {
        EndTxnRequestData r = (EndTxnRequestData) m;
        d.transactionalId(r.transactionalId());
        d.arg("committed", r.committed());
      }
      case TXN_OFFSET_COMMIT -> {
        TxnOffsetCommitRequestData r = (TxnOffsetCommitRequestData) m;
        d.transactionalId(r.transactionalId());
        d.arg("group", r.groupId());
        r.topics().forEach(t -> t.partitions().forEach(p -> d.topics.partition(t.name(), p.partitionIndex())));
      }
      case WRITE_TXN_MARKERS -> ((WriteTxnMarkersRequestData) m).markers()
          .forEach(x -> x.topics().forEach(t -> t.partitionIndexes().forEach(p -> d.topics.partition(t.name(), p))));
      case CREATE_TOPICS -> ((CreateTopicsRequestData) m).topics().forEach(t -> d.topics.topic(t.name()));
      case DELETE_TOPICS -> {
        DeleteTopicsRequestData r = (DeleteTopicsRequestData) m;
        r.topicNames().forEach(d.topics::topic);
        r.topics().forEach(t -> d.topics.topic(d.topic(t.name(), t.topicId())));
      }
      case DESCRIBE_CONFIGS -> d.name = KafkaHeaders.printable(String.join(",",
          ((DescribeConfigsRequestData) m).resources().stream().map(DescribeConfigsRequestData.DescribeConfigsResource::resourceName).toList()));
      case DESCRIBE_TOPIC_PARTITIONS -> ((DescribeTopicPartitionsRequestData) m).topics().forEach(t -> d.topics.topic(t.name()));
      case CREATE_PARTITIONS -> ((CreatePartitionsRequestData) m).topics().forEach(t -> d.topics.topic(t.name()));
      case DELETE_RECORDS -> ((DeleteRecordsRequestData) m).topics()
          .forEach(t -> t.partitions().forEach(p -> d.topics.partition(t.name(), p.partitionIndex())));
      case SASL_HANDSHAKE -> d.arg("mechanism", ((SaslHandshakeRequestData) m).mechanism());
      case SASL_AUTHENTICATE -> {
        // auth bytes: never read
      }
      case API_VERSIONS -> {
        ApiVersionsRequestData r = (ApiVersionsRequestData) m;
        if (r.clientSoftwareName() != null && !r.clientSoftwareName().isEmpty()) {
          d.arg("client_software", r.clientSoftwareName() + "/" + r.clientSoftwareVersion());
        }
      }
      default -> {
        // the api name says it; no resource
      }
    }
    if (d.name != null && d.name.length() > KafkaResource.MAX_CHARS) {
      d.name = d.name.substring(0, KafkaResource.MAX_CHARS) + "...";
    }
  }

  /**
   * Data records in a record set (control batches left out), from the batch headers; -1 when
   * that is not cheap (legacy batches) or the batches are corrupt (kafka-clients throws).
   */
  private static long count(BaseRecords records) {
    if (records == null) {
      return 0;
    }
    if (!(records instanceof Records r)) {
      return -1;
    }
    long n = 0;
    try {
      for (RecordBatch b : r.batches()) {
        if (b.isControlBatch()) {
          continue;
        }
        Integer c = b.countOrNull();
        if (c == null) {
          return -1;
        }
        n += c;
      }
    } catch (RuntimeException e) {
      return -1;
    }
    return n;
  }

  // ---- responses ---------------------------------------------------------------------------

  private static final Response UNDECODED = new Response(false, BodyProblem.NONE, null, null, -1, -1, null, Map.of());

  /**
   * @param learnTopics the request named its topics: learn their ids from a Metadata response
   */
  static Response response(KafkaFrame f, short apiKey, short version, int correlationId, String clientId,
      boolean learnTopics, Function<String, String> topicNames) {
    if (!f.whole() || !parseable(apiKey, version)) {
      return UNDECODED;
    }
    ApiKeys api = ApiKeys.forId(apiKey);
    AbstractResponse r;
    BodyProblem problem = BodyProblem.NONE;
    try {
      ByteBuffer buf = ByteBuffer.wrap(f.bytes(), 0, f.kept());
      r = AbstractResponse.parseResponse(buf, new RequestHeader(api, version, clientId == null ? "" : clientId,
          correlationId));
      if (buf.hasRemaining()) {
        r = null;
        problem = BodyProblem.NOT_CONSUMED;
      }
    } catch (RuntimeException e) {
      r = null;
      problem = BodyProblem.PARSE_FAILED;
    }
    if (r == null && api == ApiKeys.API_VERSIONS) {
      // a broker that does not support the request's version answers in v0 (KIP-511)
      r = apiVersionsV0(f);
      problem = r == null ? problem : BodyProblem.NONE;
    }
    if (r == null) {
      return new Response(false, problem, null, null, -1, -1, null, Map.of());
    }
    try {
      return described(r, learnTopics, topicNames);
    } catch (RuntimeException e) {
      // a value the parse let through that kafka-clients' own accessors reject
      return new Response(false, BodyProblem.PARSE_FAILED, null, null, -1, -1, null, Map.of());
    }
  }

  /** Errors, throttle time, and for Fetch its records and partitions, for Metadata its topic ids. */
  private static Response described(AbstractResponse r, boolean learnTopics, Function<String, String> topicNames) {
    Map<String, Integer> codes = new TreeMap<>();
    List<String> names = new ArrayList<>();
    for (Map.Entry<Errors, Integer> e : new TreeMap<>(r.errorCounts()).entrySet()) {
      if (e.getKey() != Errors.NONE && e.getValue() > 0) {
        names.add(e.getKey().name());
        codes.put(Short.toString(e.getKey().code()), e.getValue());
      }
    }
    String errors = names.isEmpty() ? null : bounded(names);
    String errorCodes = codes.isEmpty() ? null : bounded(new ArrayList<>(codes.keySet()));
    long records = -1;
    String resource = null;
    Map<String, String> topicIds = Map.of();
    if (r instanceof FetchResponse fetch) {
      KafkaResource topics = new KafkaResource();
      Described d = new Described(topicNames);
      records = 0;
      for (FetchResponseData.FetchableTopicResponse t : fetch.data().responses()) {
        String topic = d.topic(t.topic(), t.topicId());
        for (FetchResponseData.PartitionData p : t.partitions()) {
          topics.partition(topic, p.partitionIndex());
          long n = count(p.records());
          records = records < 0 || n < 0 ? -1 : records + n;
        }
      }
      resource = topics.summary();
    } else if (r instanceof MetadataResponse metadata && learnTopics) {
      topicIds = new TreeMap<>();
      for (MetadataResponseData.MetadataResponseTopic t : metadata.data().topics()) {
        if (t.topicId() != null && !t.topicId().equals(Uuid.ZERO_UUID) && t.name() != null && !t.name().isEmpty()) {
          topicIds.put(t.topicId().toString(), KafkaHeaders.printable(t.name()));
        }
      }
    }
    return new Response(true, BodyProblem.NONE, errors, errorCodes, r.throttleTimeMs(), records, resource, topicIds);
  }

  private static AbstractResponse apiVersionsV0(KafkaFrame f) {
    try {
      ByteBuffer buf = ByteBuffer.wrap(f.bytes(), 4, f.kept() - 4); // after the v0 header's correlation id
      AbstractResponse r = AbstractResponse.parseResponse(ApiKeys.API_VERSIONS, new ByteBufferAccessor(buf), (short) 0);
      return buf.hasRemaining() ? null : r;
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static String bounded(List<String> items) {
    if (items.size() <= MAX_ERRORS_LISTED) {
      return String.join(",", items);
    }
    return String.join(",", items.subList(0, MAX_ERRORS_LISTED)) + ",+" + (items.size() - MAX_ERRORS_LISTED);
  }
}
