package dev.tapflow.stream.protocol.kafka;

import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.DataInput;
import java.io.IOException;

/**
 * The Kafka wire protocol (https://kafka.apache.org/protocol), default port 9092. The content
 * probe decides the protocol of connections on other ports, so it is strict:
 *
 * <ul>
 *   <li>REQUEST: a size of at most {@value #PROBE_MAX_REQUEST} bytes (the broker's default
 *       {@code socket.request.max.bytes}) and a request header kafka-clients recognises: a
 *       known api key with a known version, a non-negative correlation id, a client id of
 *       plausible length with printable first bytes ({@link KafkaHeaders#plausibleRequest});
 *       and a client id, unless the request is one that opens connections (a response with a
 *       small correlation id reads as {@code Produce v<id>} with some client id length);
 *   <li>RESPONSE: a whole frame in the bytes, of at most {@value #PROBE_MAX_RESPONSE} bytes,
 *       with a non-negative correlation id, that ends the bytes or is followed by another
 *       plausible size;
 *   <li>NO otherwise: a response cut across segments waits for the client's next request.
 * </ul>
 */
public final class KafkaProtocol implements Protocol {

  public static final String NAME = "kafka";

  /**
   * Requests that open a connection (ApiVersions, Metadata, SaslHandshake): recognised with an
   * empty client id too; any other request needs a client id (so that runs of zeros, which
   * read as {@code Produce v0, correlation id 0, client id ""}, are not Kafka).
   */
  private static final java.util.Set<Integer> FIRST_REQUESTS = java.util.Set.of(18, 3, 17);
  /** Largest request the probe accepts: the broker's default socket.request.max.bytes. */
  static final int PROBE_MAX_REQUEST = 100 * 1024 * 1024;
  /** Largest response the probe accepts (it must see the whole frame). */
  static final int PROBE_MAX_RESPONSE = 1 << 20;

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int[] defaultPorts() {
    return new int[] {9092};
  }

  @Override
  public Probe probe(byte[] buf, int off, int len) {
    if (len < 4 + KafkaHeaders.MIN_RESPONSE) {
      return Probe.NO;
    }
    int size = KafkaHeaders.s32(buf, off);
    int check = Math.min(len, KafkaDecoder.CHECK_BYTES) - 4;
    if (size <= PROBE_MAX_REQUEST && KafkaHeaders.plausibleRequest(buf, off + 4, check, size, true)
        && (KafkaHeaders.s16(buf, off + 12) > 0 || FIRST_REQUESTS.contains(KafkaHeaders.s16(buf, off + 4)))) {
      return Probe.REQUEST;
    }
    if (size < KafkaHeaders.MIN_RESPONSE || size > PROBE_MAX_RESPONSE || 4 + size > len
        || KafkaHeaders.s32(buf, off + 4) < 0) {
      return Probe.NO;
    }
    int rest = len - 4 - size;
    if (rest == 0) {
      return Probe.RESPONSE;
    }
    if (rest < 4) {
      return Probe.NO;
    }
    int next = KafkaHeaders.s32(buf, off + 4 + size);
    return next >= KafkaHeaders.MIN_RESPONSE && next <= PROBE_MAX_RESPONSE * 64 ? Probe.RESPONSE : Probe.NO;
  }

  @Override
  public ProtocolSession newSession(SessionLimits limits) {
    return new KafkaSession(limits);
  }

  @Override
  public ProtocolSession readSession(DataInput in, SessionLimits limits) throws IOException {
    return KafkaSession.readFrom(in, limits);
  }
}
