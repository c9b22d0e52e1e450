package dev.tapflow.stream.protocol.kafka;

import java.nio.charset.StandardCharsets;
import java.util.function.IntPredicate;

/**
 * The fixed-position fields of Kafka frames, read in place
 * (https://kafka.apache.org/protocol#protocol_messages), and what makes a frame start
 * plausible. Request header v1/v2:
 *
 * <pre>
 * size:int32 | api_key:int16 api_version:int16 correlation_id:int32 client_id:nullable_string(int16 length) [tagged fields (v2)] | body
 * </pre>
 *
 * Response header v0/v1: {@code size:int32 | correlation_id:int32 [tagged fields (v1)] | body}.
 * Methods taking a frame read its bytes after the size field ({@link KafkaFrame#bytes()}).
 */
final class KafkaHeaders {

  /** Smallest request frame: api key, version, correlation id, client id length. */
  static final int MIN_REQUEST = 10;
  /** Smallest response frame: a correlation id. */
  static final int MIN_RESPONSE = 4;
  /** Client ids longer than this are implausible at an untrusted position. */
  static final int MAX_CLIENT_ID_BYTES = 4096;
  /** Client id bytes a strict check looks at. */
  static final int CLIENT_ID_CHECKED = 16;
  /** Characters of a client id kept on a fact. */
  static final int CLIENT_ID_KEPT = 128;
  /** Correlation ids from here on are the Java SASL authenticator's (SaslClientAuthenticator.MIN_RESERVED_CORRELATION_ID). */
  static final int SASL_RESERVED_CORRELATION_IDS = Integer.MAX_VALUE - 7;
  /** A produce request's acks could not be read. */
  static final short ACKS_UNKNOWN = Short.MIN_VALUE;

  private KafkaHeaders() {}

  static int s16(byte[] b, int i) {
    return (short) (((b[i] & 0xff) << 8) | (b[i + 1] & 0xff));
  }

  static int s32(byte[] b, int i) {
    return ((b[i] & 0xff) << 24) | ((b[i + 1] & 0xff) << 16) | ((b[i + 2] & 0xff) << 8) | (b[i + 3] & 0xff);
  }

  static short apiKey(byte[] frame) {
    return (short) s16(frame, 0);
  }

  static short apiVersion(byte[] frame) {
    return (short) s16(frame, 2);
  }

  static int requestCorrelationId(byte[] frame) {
    return s32(frame, 4);
  }

  static int responseCorrelationId(byte[] frame) {
    return s32(frame, 0);
  }

  /** The request's client id (printable, at most {@link #CLIENT_ID_KEPT} characters), or null. */
  static String clientId(byte[] frame, int kept) {
    if (kept < MIN_REQUEST) {
      return null;
    }
    int len = s16(frame, 8);
    if (len < 0) {
      return null;
    }
    int n = Math.min(Math.min(len, kept - MIN_REQUEST), CLIENT_ID_KEPT);
    return printable(new String(frame, MIN_REQUEST, n, StandardCharsets.UTF_8));
  }

  /**
   * What a request's client id looks like on the wire, as a string to compare later frames
   * with: a first character of {@code length + 2} (the length may be -1), then the first
   * {@link #CLIENT_ID_CHECKED} bytes as ISO-8859-1 characters. Null if the kept bytes do not
   * reach the length.
   */
  static String clientIdSignature(byte[] frame, int kept) {
    if (kept < MIN_REQUEST) {
      return null;
    }
    int len = s16(frame, 8);
    int n = Math.max(0, Math.min(Math.min(len, CLIENT_ID_CHECKED), kept - MIN_REQUEST));
    return (char) (len + 2) + new String(frame, MIN_REQUEST, n, StandardCharsets.ISO_8859_1);
  }

  /** Replaces control characters, so that nothing from the wire can break a line or a terminal. */
  static String printable(String s) {
    StringBuilder b = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
        if (b == null) {
          b = new StringBuilder(s);
        }
        b.setCharAt(i, '?');
      }
    }
    return b == null ? s : b.toString();
  }

  /** Bytes after the size field a request check reads: the fixed fields, then up to 16 bytes of the client id. */
  static int requestNeeded(byte[] b, int at, int len) {
    if (len < MIN_REQUEST) {
      return MIN_REQUEST;
    }
    return MIN_REQUEST + Math.max(0, Math.min(s16(b, at + 8), CLIENT_ID_CHECKED));
  }

  /**
   * Do the bytes at {@code b[at]} (the frame after its size field, {@code len} of them
   * available) start a request frame of {@code size} bytes? Lax: the shape (lengths, no
   * negative key or version). Strict: also an api key and version kafka-clients knows (or one
   * version beyond), a non-negative correlation id, and a client id of plausible length whose
   * first bytes are printable ASCII.
   */
  static boolean plausibleRequest(byte[] b, int at, int len, int size, boolean strict) {
    if (size < (strict ? MIN_REQUEST : 8) || len < 8) {
      return false;
    }
    int key = s16(b, at);
    int version = s16(b, at + 2);
    if (key < 0 || version < 0) {
      return false;
    }
    if (!strict) {
      return true;
    }
    if (!KafkaApis.plausibleVersion(key, version) || s32(b, at + 4) < 0 || len < MIN_REQUEST) {
      return false;
    }
    int clientId = s16(b, at + 8);
    if (clientId < -1 || clientId > Math.min(MAX_CLIENT_ID_BYTES, size - MIN_REQUEST)) {
      return false;
    }
    for (int i = at + MIN_REQUEST; i < at + Math.min(len, MIN_REQUEST + Math.min(clientId, CLIENT_ID_CHECKED)); i++) {
      if (b[i] < 0x20 || b[i] > 0x7e) {
        return false;
      }
    }
    return true;
  }

  /**
   * Do the bytes at {@code b[at]} start a response frame of {@code size} bytes? Lax: room for
   * a correlation id. Strict: a correlation id a pending request carries.
   */
  static boolean plausibleResponse(byte[] b, int at, int len, int size, boolean strict, IntPredicate pending) {
    if (size < MIN_RESPONSE || len < 4) {
      return false;
    }
    return !strict || pending.test(s32(b, at));
  }

  /**
   * A produce request's {@code acks}, read in place (for frames whose body is not parsed):
   * v0–v2 {@code acks} first; v3+ after {@code transactional_id} (int16-length string, from
   * v9 a compact string after the header's tagged fields). {@link #ACKS_UNKNOWN} when the
   * kept bytes do not reach it.
   */
  static short produceAcks(byte[] frame, int kept, short version) {
    if (kept < MIN_REQUEST) {
      return ACKS_UNKNOWN;
    }
    int[] p = {MIN_REQUEST + Math.max(0, s16(frame, 8))};
    boolean flexible = version >= 9;
    if (flexible && !skipTaggedFields(frame, kept, p)) {
      return ACKS_UNKNOWN;
    }
    if (version >= 3) {
      if (flexible) {
        long n = unsignedVarint(frame, kept, p); // length + 1; 0 is null
        if (n < 0 || n - 1 > kept - p[0]) { // a hostile length (up to 2^35) must not wrap the position
          return ACKS_UNKNOWN;
        }
        p[0] += (int) Math.max(0, n - 1);
      } else {
        if (p[0] + 2 > kept) {
          return ACKS_UNKNOWN;
        }
        p[0] += 2 + Math.max(0, s16(frame, p[0]));
      }
    }
    return p[0] + 2 <= kept ? (short) s16(frame, p[0]) : ACKS_UNKNOWN;
  }

  private static boolean skipTaggedFields(byte[] b, int kept, int[] p) {
    long count = unsignedVarint(b, kept, p);
    for (long i = 0; i < count; i++) {
      if (unsignedVarint(b, kept, p) < 0) {
        return false;
      }
      long size = unsignedVarint(b, kept, p);
      if (size < 0 || p[0] + size > kept) {
        return false;
      }
      p[0] += (int) size;
    }
    return count >= 0;
  }

  /** An unsigned varint at {@code p[0]} (advanced past it), or -1 if it does not fit the kept bytes. */
  private static long unsignedVarint(byte[] b, int kept, int[] p) {
    long v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
      if (p[0] >= kept) {
        return -1;
      }
      int x = b[p[0]++] & 0xff;
      v |= (long) (x & 0x7f) << shift;
      if ((x & 0x80) == 0) {
        return v;
      }
    }
    return -1;
  }
}
