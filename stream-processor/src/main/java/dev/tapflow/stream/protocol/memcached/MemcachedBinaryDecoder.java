package dev.tapflow.stream.protocol.memcached;

import dev.tapflow.protocol.api.DecoderListener;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * Incremental decoder of one direction of the memcached binary protocol
 * (https://github.com/memcached/memcached/wiki/BinaryProtocolRevamped). Each packet is a
 * 24-byte header and a body of {@code total body length} bytes:
 *
 * <pre>
 * magic(1) opcode(1) key length(2) extras length(1) data type(1) vbucket|status(2)
 * total body length(4) opaque(4) cas(8) | extras | key | value
 * </pre>
 *
 * The body is streamed: only up to {@link #MAX_KEY_KEPT} key bytes are kept. A header that
 * is not plausible raises a named anomaly, and the decoder resynchronises at the next magic
 * byte that starts a plausible header.
 */
final class MemcachedBinaryDecoder {

  static final String BAD_HEADER = "MEMCACHED_BAD_HEADER";
  static final String BODY_TOO_LARGE = MemcachedTextDecoder.BODY_TOO_LARGE;

  static final int REQUEST_MAGIC = 0x80;
  static final int RESPONSE_MAGIC = 0x81;
  static final int HEADER = 24;
  /** Key bytes kept for the fact; memcached keys are at most 250 bytes. */
  static final int MAX_KEY_KEPT = 250;

  private static final int STATE_FORMAT = 1;

  private final boolean clientSide;
  private final SessionLimits limits;
  private final byte[] hdr = new byte[HEADER];
  private int hdrLen;
  private long hdrOffset;
  private long firstNs;
  /** false while collecting a header; true while skipping its body */
  private boolean inBody;
  private long bodyPos;
  private long bodyLen;
  private final byte[] key = new byte[MAX_KEY_KEPT];
  private int keyGot;
  private long nextOffset = -1;
  private boolean resync;

  MemcachedBinaryDecoder(boolean clientSide, SessionLimits limits) {
    this.clientSide = clientSide;
    this.limits = limits;
  }

  boolean started() {
    return nextOffset >= 0;
  }

  long nextOffset() {
    return nextOffset;
  }

  boolean idle() {
    return hdrLen == 0 && !inBody;
  }

  boolean resynchronising() {
    return resync;
  }

  private int u8(int i) {
    return hdr[i] & 0xff;
  }

  private int keyLength() {
    return (u8(2) << 8) | u8(3);
  }

  private int extrasLength() {
    return u8(4);
  }

  private long totalBody() {
    return ((long) u8(8) << 24) | (u8(9) << 16) | (u8(10) << 8) | u8(11);
  }

  private int magic() {
    return clientSide ? REQUEST_MAGIC : RESPONSE_MAGIC;
  }

  void decode(byte[] buf, int off, int len, long streamOffset, long tsNs, DecoderListener<MemcachedMessage> l) {
    int i = off;
    int end = off + len;
    nextOffset = streamOffset + len;
    while (i < end) {
      long pos = streamOffset + (i - off);
      if (!inBody) {
        if (hdrLen == 0) {
          if ((buf[i] & 0xff) != magic()) {
            if (!resync) {
              l.anomaly(BAD_HEADER, pos, "bad magic 0x" + Integer.toHexString(buf[i] & 0xff));
              resync = true;
            }
            i++;
            continue;
          }
          hdrOffset = pos;
          firstNs = tsNs;
        }
        int n = Math.min(HEADER - hdrLen, end - i);
        System.arraycopy(buf, i, hdr, hdrLen, n);
        hdrLen += n;
        i += n;
        if (hdrLen < HEADER) {
          continue;
        }
        String bad = check();
        if (bad != null) {
          if (!resync) {
            l.anomaly(bad.startsWith("body") ? BODY_TOO_LARGE : BAD_HEADER, hdrOffset, bad);
            resync = true;
          }
          shift(tsNs);
          continue;
        }
        resync = false;
        inBody = true;
        bodyPos = 0;
        bodyLen = totalBody();
        keyGot = 0;
      }
      if (inBody) {
        long take = Math.min(bodyLen - bodyPos, end - i);
        // | extras | <key here> | value |
        long keyFrom = extrasLength();
        long keyTo = keyFrom + Math.min(keyLength(), MAX_KEY_KEPT);
        long a = Math.max(bodyPos, keyFrom);
        long b = Math.min(bodyPos + take, keyTo);
        if (a < b) {
          System.arraycopy(buf, (int) (i + (a - bodyPos)), key, (int) (a - keyFrom), (int) (b - a));
          keyGot = (int) Math.max(keyGot, b - keyFrom);
        }
        i += (int) take;
        bodyPos += take;
        if (bodyPos == bodyLen) {
          finish(tsNs, l);
        }
      }
    }
  }

  /** Drops the first header byte and keeps the rest from the next magic byte on. */
  private void shift(long tsNs) {
    int from = 1;
    while (from < hdrLen && u8(from) != magic()) {
      from++;
    }
    System.arraycopy(hdr, from, hdr, 0, hdrLen - from);
    hdrLen -= from;
    hdrOffset += from;
    firstNs = tsNs;
    // the remaining bytes may already hold a whole header again
    if (hdrLen == HEADER) {
      if (check() == null) {
        resync = false;
        inBody = true;
        bodyPos = 0;
        bodyLen = totalBody();
        keyGot = 0;
      } else {
        shift(tsNs);
      }
    }
  }

  /** Why the header is implausible, or null. */
  private String check() {
    if (u8(0) != magic()) {
      return "bad magic";
    }
    if (u8(5) != 0) {
      return "bad data type " + u8(5);
    }
    if (resync && MemcachedOpcodes.name(u8(1)) == null) {
      return "unknown opcode";
    }
    long body = totalBody();
    if (extrasLength() + keyLength() > body) {
      return "key and extras longer than body";
    }
    if (body > limits.maxMessageBytes()) {
      return "body of " + body + " bytes";
    }
    return null;
  }

  private void finish(long tsNs, DecoderListener<MemcachedMessage> l) {
    int opcode = u8(1);
    int status = (u8(6) << 8) | u8(7);
    int opaque = (u8(12) << 24) | (u8(13) << 16) | (u8(14) << 8) | u8(15);
    String k = keyLength() == 0 ? null : new String(key, 0, keyGot, StandardCharsets.ISO_8859_1);
    String name = MemcachedOpcodes.name(opcode);
    MemcachedMessage m = new MemcachedMessage(name == null ? String.format("Opcode 0x%02x", opcode) : name, k, null,
        0, false, MemcachedOpcodes.isQuiet(opcode), hdrOffset, firstNs, tsNs, HEADER + bodyLen, 0,
        !clientSide && status != 0, !clientSide && status != 0 ? MemcachedOpcodes.statusName(status) : null,
        opcode, clientSide ? 0 : status, opaque, keyLength());
    hdrLen = 0;
    inBody = false;
    l.message(m);
  }

  boolean gap(long streamOffset, long length) {
    boolean partial = !idle();
    hdrLen = 0;
    inBody = false;
    resync = true;
    nextOffset = streamOffset + length;
    return partial;
  }

  void writeTo(DataOutput o) throws IOException {
    o.writeByte(STATE_FORMAT);
    o.writeInt(hdrLen);
    o.write(hdr, 0, hdrLen);
    o.writeLong(hdrOffset);
    o.writeLong(firstNs);
    o.writeBoolean(inBody);
    o.writeLong(bodyPos);
    o.writeLong(bodyLen);
    o.writeInt(keyGot);
    o.write(key, 0, keyGot);
    o.writeLong(nextOffset);
    o.writeBoolean(resync);
  }

  static MemcachedBinaryDecoder readFrom(DataInput in, boolean clientSide, SessionLimits limits) throws IOException {
    if (in.readByte() != STATE_FORMAT) {
      throw new IOException("unknown memcached binary decoder state format");
    }
    MemcachedBinaryDecoder d = new MemcachedBinaryDecoder(clientSide, limits);
    int n = in.readInt();
    if (n < 0 || n > HEADER) {
      throw new IOException("bad header length " + n);
    }
    in.readFully(d.hdr, 0, n);
    d.hdrLen = n;
    d.hdrOffset = in.readLong();
    d.firstNs = in.readLong();
    d.inBody = in.readBoolean();
    d.bodyPos = in.readLong();
    d.bodyLen = in.readLong();
    int k = in.readInt();
    if (k < 0 || k > MAX_KEY_KEPT) {
      throw new IOException("bad key length " + k);
    }
    in.readFully(d.key, 0, k);
    d.keyGot = k;
    d.nextOffset = in.readLong();
    d.resync = in.readBoolean();
    return d;
  }
}
