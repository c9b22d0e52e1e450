package dev.tapflow.stream.topology;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.streams.errors.DeserializationExceptionHandler;
import org.apache.kafka.streams.errors.ErrorHandlerContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Poison records of the segments topic: a key or value that is not tapflow's Avro (other
 * bytes, a schema fingerprint this build does not know, a datum that does not decode). Each
 * is counted, logged (one line each for the first {@value #LOGGED_ONE_BY_ONE}, then every
 * {@value #LOG_EVERY}th), copied unchanged to the dead-letter topic with where it came from
 * and why, and skipped: processing continues with the next record. With exactly_once_v2 the
 * copy is part of the task's transaction, so each poison record is in the topic once.
 *
 * <p>Dead-letter record: the source record's key and value bytes, unchanged, and the headers
 * {@value #SOURCE_TOPIC}, {@value #SOURCE_PARTITION}, {@value #SOURCE_OFFSET},
 * {@value #SOURCE_TIMESTAMP} (the source record's timestamp, ms since the epoch),
 * {@value #REASON} (one line), {@value #STAGE} and {@value #APPLICATION_ID}, all UTF-8 text.
 * The bytes are what the segments topic held, so the topic needs the same access control.
 */
public final class DeadLetters implements DeserializationExceptionHandler {

  /** The dead-letter topic of the stream processor. */
  public static final String TOPIC = "tapflow.dead-letters.v1";
  /** Streams property: another dead-letter topic (default {@value #TOPIC}). */
  public static final String TOPIC_CONFIG = "tapflow.dead.letters.topic";
  /** Streams property whose value is a {@link Counter} the handler counts into (an object, not text). */
  public static final String COUNTER_CONFIG = "tapflow.dead.letters.counter";

  public static final String SOURCE_TOPIC = "tapflow.source.topic";
  public static final String SOURCE_PARTITION = "tapflow.source.partition";
  public static final String SOURCE_OFFSET = "tapflow.source.offset";
  public static final String SOURCE_TIMESTAMP = "tapflow.source.timestamp";
  public static final String REASON = "tapflow.reason";
  public static final String STAGE = "tapflow.stage";
  public static final String APPLICATION_ID = "tapflow.application.id";

  private static final Logger LOG = LoggerFactory.getLogger(DeadLetters.class);
  private static final int LOGGED_ONE_BY_ONE = 20;
  private static final int LOG_EVERY = 1000;
  /** A reason is cut to this many characters. */
  private static final int MAX_REASON = 500;

  /** Poison records seen by the handlers of one processor. */
  public static final class Counter {
    private final AtomicLong count = new AtomicLong();

    public long get() {
      return count.get();
    }

    long increment() {
      return count.incrementAndGet();
    }
  }

  private String topic = TOPIC;
  private String applicationId = "";
  private Counter counter = new Counter();

  @Override
  public void configure(Map<String, ?> configs) {
    Object t = configs.get(TOPIC_CONFIG);
    if (t != null) {
      topic = t.toString();
    }
    Object c = configs.get(COUNTER_CONFIG);
    if (c instanceof Counter given) {
      counter = given;
    }
    Object app = configs.get("application.id");
    applicationId = app == null ? "" : app.toString();
  }

  @Override
  public Response handleError(ErrorHandlerContext context, ConsumerRecord<byte[], byte[]> record, Exception exception) {
    String reason = reason(exception);
    long n = counter.increment();
    if (n <= LOGGED_ONE_BY_ONE || n % LOG_EVERY == 0) {
      LOG.warn("poison record {}-{}@{} ({} so far) sent to {}: {}", record.topic(), record.partition(),
          record.offset(), n, topic, reason);
    }
    Headers h = new RecordHeaders();
    put(h, SOURCE_TOPIC, record.topic());
    put(h, SOURCE_PARTITION, Integer.toString(record.partition()));
    put(h, SOURCE_OFFSET, Long.toString(record.offset()));
    put(h, SOURCE_TIMESTAMP, Long.toString(record.timestamp()));
    put(h, REASON, reason);
    put(h, STAGE, "stream-processor");
    put(h, APPLICATION_ID, applicationId);
    return Response.resume(java.util.List.of(
        new ProducerRecord<>(topic, null, null, record.key(), record.value(), h)));
  }

  /** One line: the exception's message, or its class when it has none. */
  static String reason(Exception e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    m = m.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
    return m.length() > MAX_REASON ? m.substring(0, MAX_REASON) + "..." : m;
  }

  private static void put(Headers h, String name, String value) {
    h.add(name, value.getBytes(StandardCharsets.UTF_8));
  }

  /**
   * A key deserializer that only checks: the bytes must be a {@code ConnectionKey}; they pass
   * through unchanged (the topology works on the serialised key). A key that does not decode
   * fails here, at the source, so it takes the same dead-letter path as a bad value.
   */
  static final class CheckedKey implements Deserializer<byte[]> {
    private final KeyDecoder keys = new KeyDecoder();

    @Override
    public byte[] deserialize(String topic, byte[] data) {
      if (data != null && keys.decode(data) == null) {
        throw new org.apache.kafka.common.errors.SerializationException("key is not a tapflow ConnectionKey");
      }
      return data;
    }
  }
}
