package dev.tapflow.stream.protocol.kafka;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.apache.kafka.common.message.RequestHeaderData;
import org.apache.kafka.common.message.ResponseHeaderData;
import org.apache.kafka.common.protocol.ApiKeys;
import org.apache.kafka.common.protocol.ApiMessage;
import org.apache.kafka.common.requests.RequestUtils;

/** Test-only: Kafka frames as a client or broker writes them, built with kafka-clients' own serialisers, or by hand. */
final class KafkaWire {

  private KafkaWire() {}

  /** A size-prefixed request frame. */
  static byte[] request(ApiMessage body, int version, String clientId, int correlationId) {
    ApiKeys api = ApiKeys.forId(body.apiKey());
    RequestHeaderData h = new RequestHeaderData().setRequestApiKey(api.id).setRequestApiVersion((short) version)
        .setClientId(clientId).setCorrelationId(correlationId);
    return sized(RequestUtils.serialize(h, api.requestHeaderVersion((short) version), body, (short) version));
  }

  /** A size-prefixed response frame. */
  static byte[] response(ApiMessage body, int version, int correlationId) {
    ApiKeys api = ApiKeys.forId(body.apiKey());
    ResponseHeaderData h = new ResponseHeaderData().setCorrelationId(correlationId);
    return sized(RequestUtils.serialize(h, api.responseHeaderVersion((short) version), body, (short) version));
  }

  /**
   * A request header v1 ({@code api_key api_version correlation_id client_id}) and then
   * {@code body} as is: for versions kafka-clients no longer writes, and for garbage bodies.
   */
  static byte[] rawRequest(int apiKey, int version, int correlationId, String clientId, byte[] body) {
    byte[] id = clientId.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(10 + id.length + body.length);
    b.putShort((short) apiKey).putShort((short) version).putInt(correlationId).putShort((short) id.length).put(id).put(body);
    return sized(b.flip());
  }

  /** A response header v0 ({@code correlation_id}) and {@code body} as is. */
  static byte[] rawResponse(int correlationId, byte[] body) {
    return sized(ByteBuffer.allocate(4 + body.length).putInt(correlationId).put(body).flip());
  }

  static byte[] sized(ByteBuffer content) {
    ByteBuffer out = ByteBuffer.allocate(4 + content.remaining());
    out.putInt(content.remaining()).put(content);
    return out.array();
  }

  static byte[] sized(byte[] content) {
    return sized(ByteBuffer.wrap(content));
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] p : parts) {
      out.writeBytes(p);
    }
    return out.toByteArray();
  }

  static byte[] bytes(int... values) {
    byte[] b = new byte[values.length];
    for (int i = 0; i < values.length; i++) {
      b[i] = (byte) values[i];
    }
    return b;
  }
}
