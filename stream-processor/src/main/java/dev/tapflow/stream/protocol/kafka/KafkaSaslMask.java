package dev.tapflow.stream.protocol.kafka;

import java.util.Arrays;

/**
 * Masks SASL authentication bytes in a frame that is still in progress when a connection's
 * state is saved (the state goes to a changelog topic): a SaslAuthenticate request's and
 * response's {@code auth_bytes} (a PLAIN password in clear; a SCRAM exchange's nonces, salt,
 * client proof and server signature), and raw SASL tokens after a SaslHandshake v0 (KIP-43).
 *
 * <p>Frames are given from their size field on, {@code len} bytes of them held. Only the
 * {@code auth_bytes} data is overwritten (zeros), never a length or a header field, so a
 * restored frame completes, parses and makes the same fact: the session never reads auth
 * bytes (see {@link KafkaApis}). Raw tokens become {@code 0xff} bytes, which no request
 * header starts with, so a restored token is still taken for a token. Masking again changes
 * nothing.
 *
 * <p>SaslAuthenticate (https://kafka.apache.org/protocol#The_Messages_SaslAuthenticate):
 * request v0–v1 header v1 then {@code auth_bytes BYTES}; v2 header v2 (tagged fields) then
 * {@code auth_bytes COMPACT_BYTES}. Response v0–v1 header v0 then {@code error_code INT16,
 * error_message NULLABLE_STRING, auth_bytes BYTES, ...}; v2 header v1 (tagged fields) then
 * the compact forms.
 */
final class KafkaSaslMask {

  private KafkaSaslMask() {}

  /**
   * A request frame in progress.
   *
   * @param rawSasl the connection is between a SaslHandshake v0 and the client's next request
   * @param started the frame's head was recognised (the decoder is in its body), so whether it
   *                is a request can be told as the session will tell it
   */
  static void request(byte[] f, int len, boolean rawSasl, boolean started) {
    if (len <= 4) {
      return;
    }
    int size = KafkaHeaders.s32(f, 0);
    if (rawSasl && !(started && KafkaHeaders.plausibleRequest(f, 4, len - 4, size, true))) {
      // a raw token (before its head is complete it cannot be told from a request: taken for a token)
      Arrays.fill(f, 4, len, (byte) 0xff);
      return;
    }
    if (len < 8 || KafkaHeaders.s16(f, 4) != KafkaApis.SASL_AUTHENTICATE) {
      return;
    }
    int version = KafkaHeaders.s16(f, 6);
    int p = 4 + 8; // size, api key, version, correlation id
    if (len < p + 2) {
      return;
    }
    p += 2 + Math.max(0, KafkaHeaders.s16(f, p)); // client id
    if (version >= 2) {
      p = skipTaggedFields(f, p, len);
    }
    maskBytesField(f, p, len, version >= 2);
  }

  /** A response frame in progress to a request of {@code apiKey} v{@code apiVersion}. */
  static void response(byte[] f, int len, short apiKey, short apiVersion, boolean rawSasl) {
    if (len <= 4) {
      return;
    }
    if (rawSasl) {
      Arrays.fill(f, 4, len, (byte) 0xff);
      return;
    }
    if (apiKey != KafkaApis.SASL_AUTHENTICATE) {
      return;
    }
    boolean compact = apiVersion >= 2;
    int p = 4 + 4; // size, correlation id
    if (compact) {
      p = skipTaggedFields(f, p, len);
    }
    if (p < 0 || (p += 2) > len) { // error_code
      return;
    }
    // error_message
    if (compact) {
      long n = uvarint(f, p, len);
      if (n < 0) {
        return;
      }
      p = uvarintEnd(f, p) + (int) Math.max(0, Math.min(n - 1, len));
    } else {
      if (p + 2 > len) {
        return;
      }
      p += 2 + Math.max(0, KafkaHeaders.s16(f, p));
    }
    maskBytesField(f, p, len, compact);
  }

  /** Zeros the data of the BYTES / COMPACT_BYTES field at {@code p} (as far as it is held). */
  private static void maskBytesField(byte[] f, int p, int len, boolean compact) {
    if (p < 0 || p >= len) {
      return;
    }
    long n;
    if (compact) {
      long v = uvarint(f, p, len);
      if (v < 0) {
        return;
      }
      p = uvarintEnd(f, p);
      n = v - 1;
    } else {
      if (p + 4 > len) {
        return;
      }
      n = KafkaHeaders.s32(f, p);
      p += 4;
    }
    if (n > 0 && p < len) {
      Arrays.fill(f, p, (int) Math.min(len, p + n), (byte) 0);
    }
  }

  /** The position after a tagged-fields section at {@code p}, or -1 when it is not all held. */
  private static int skipTaggedFields(byte[] f, int p, int len) {
    long count = uvarint(f, p, len);
    if (count < 0) {
      return -1;
    }
    p = uvarintEnd(f, p);
    for (long i = 0; i < count; i++) {
      if (uvarint(f, p, len) < 0) { // tag
        return -1;
      }
      p = uvarintEnd(f, p);
      long size = uvarint(f, p, len);
      if (size < 0) {
        return -1;
      }
      p = uvarintEnd(f, p);
      if (size > len - p) {
        return -1;
      }
      p += (int) size;
    }
    return p;
  }

  /** An unsigned varint at {@code p}, or -1 when it is not all held (or longer than 5 bytes). */
  private static long uvarint(byte[] f, int p, int len) {
    long v = 0;
    for (int i = 0; i < 5; i++) {
      if (p + i >= len) {
        return -1;
      }
      int b = f[p + i] & 0xff;
      v |= (long) (b & 0x7f) << (7 * i);
      if ((b & 0x80) == 0) {
        return v;
      }
    }
    return -1;
  }

  /** The position after the varint at {@code p} ({@link #uvarint} said it is held). */
  private static int uvarintEnd(byte[] f, int p) {
    while ((f[p] & 0x80) != 0) {
      p++;
    }
    return p + 1;
  }
}
