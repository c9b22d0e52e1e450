package dev.tapflow.stream.protocol.kafka;

import dev.tapflow.protocol.api.DecoderListener;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.Arrays;

/**
 * Incremental framing of one direction of a Kafka connection
 * (https://kafka.apache.org/protocol#protocol_common): every request and response is
 * {@code <size:int32> <size bytes>}. This class knows frames only; what a frame's first
 * bytes must look like is the {@link FrameCheck} the session gives it.
 *
 * <p>States: {@link State#HEAD} collects a frame's first {@link #CHECK_BYTES} bytes (fewer
 * for a shorter frame) and asks the check whether they start a frame; {@link State#BODY}
 * takes the rest. A frame up to {@code maxDecodedFrame} bytes (default
 * {@value #DEFAULT_MAX_DECODED_FRAME}) is kept whole so the session can parse its body;
 * a longer one is streamed through, keeping only its first {@value #HEAD_KEPT} bytes (the
 * header), and one longer than {@link SessionLimits#maxMessageBytes()} is skipped by length
 * with {@link #FRAME_TOO_LARGE}. Either way the session gets the frame with its header.
 *
 * <p>Validation is strict where the decoder cannot trust its position (the stream's first
 * frame, the first after a gap, while resynchronising): the check must recognise the
 * frame's fields and the size must be within the limit. Once a frame passed there, the
 * framing is trusted and later frames get the lax check. A frame that fails raises
 * {@link #BAD_FRAME} (once, until a frame decodes again) and the decoder resynchronises:
 * it slides one byte at a time until the strict check recognises a frame start.
 *
 * <p>A gap inside a frame whose header was seen keeps the framing (the size says where it
 * ends): the frame is delivered lossy, header only, and the next frame is checked strictly.
 * A gap that cuts a header, or runs past the end of the frame it starts in, leaves the
 * position unknown: resynchronise after it. Gaps raise no anomaly here (the session reports
 * them).
 *
 * <p>Bounds: at most {@code maxDecodedFrame} bytes of one frame are held (and serialised
 * with the state while the frame is incomplete), else {@value #HEAD_KEPT}. Never throws on
 * input. Not thread-safe; one instance per direction.
 */
final class KafkaDecoder {

  /** Bytes where a frame was due that no check recognises: skipped until one does. */
  static final String BAD_FRAME = "KAFKA_BAD_FRAME";
  /** A frame longer than {@link SessionLimits#maxMessageBytes()}: skipped by its length. */
  static final String FRAME_TOO_LARGE = "KAFKA_FRAME_TOO_LARGE";

  /** Frame bytes (size field included) a check looks at: size, api key, version, correlation id, client id length, 16 client id bytes. */
  static final int CHECK_BYTES = 30;
  /** Bytes of a frame kept when its body is streamed through: the header and the start of the body. */
  static final int HEAD_KEPT = 512;
  /** Frames up to this size are kept whole, so their bodies can be parsed. */
  static final int DEFAULT_MAX_DECODED_FRAME = 1 << 20;

  private static final int STATE_FORMAT = 1;

  /** How much the decoder trusts the position where a frame is due. */
  enum Position {
    /** right after a frame that was recognised: the framing holds, the shape is enough */
    TRUSTED,
    /** the stream's first frame, or the first after a gap that ended a frame: recognise its fields */
    START,
    /** sliding through bytes after bad input or a gap: recognise its fields, and that it continues this connection */
    RESYNC
  }

  /** Says whether bytes start a frame of this direction. */
  interface FrameCheck {
    /**
     * Head bytes (size field included, at most {@link #CHECK_BYTES}) needed to decide, given
     * the first {@code len} of them; never more than the frame ({@code 4 + size}).
     */
    int needed(byte[] head, int len, int size);

    /**
     * @param head the frame's first bytes, size field first
     * @param len  how many: what {@link #needed} asked for
     * @param size the size field (not negative)
     */
    boolean plausible(byte[] head, int len, int size, Position position);
  }

  private enum State {
    /** collecting a frame's first bytes: {@code <here>00 00 00 2a 00 03 00 0c ...} */
    HEAD,
    /** the rest of a frame whose head was recognised: {@code 00 00 00 2a 00 03 ... <here> ...} */
    BODY
  }

  private final SessionLimits limits;
  private final int maxDecodedFrame;
  private final FrameCheck check;

  private State state = State.HEAD;
  private boolean started;
  /** stream offset of the next byte expected */
  private long nextOffset;
  /** the last frame start was checked at a trusted position: the framing holds */
  private boolean confirmed;
  /** sliding one byte at a time for a frame start */
  private boolean resync;
  /** an anomaly was reported and no frame decoded since: report no more */
  private boolean quiet;

  // the frame in progress
  private final byte[] head = new byte[HEAD_KEPT];
  /** capture time of each head byte while in HEAD (a resync may start a frame at any of them) */
  private final long[] headNs = new long[CHECK_BYTES];
  private int headLen;
  /** in BODY, streaming: valid bytes at the start of {@code head} (they stop at a gap) */
  private int headKept;
  private long frameOffset;
  private long lastNs;
  private long total;
  private long got;
  private byte[] body;
  private boolean tooLarge;
  private boolean lossy;

  KafkaDecoder(SessionLimits limits, FrameCheck check) {
    this(limits, DEFAULT_MAX_DECODED_FRAME, check);
  }

  KafkaDecoder(SessionLimits limits, int maxDecodedFrame, FrameCheck check) {
    this.limits = limits;
    this.maxDecodedFrame = maxDecodedFrame;
    this.check = check;
  }

  boolean started() {
    return started;
  }

  long nextOffset() {
    return nextOffset;
  }

  /** Between frames: nothing partial is held. */
  boolean idle() {
    return state == State.HEAD && headLen == 0;
  }

  boolean resynchronising() {
    return resync;
  }

  /**
   * Decodes the next bytes of the stream. Bytes before {@link #nextOffset()} are skipped; a
   * jump forward is taken as a gap.
   */
  void decode(byte[] buf, int off, int len, long streamOffset, long tsNs, DecoderListener<KafkaFrame> l) {
    if (len <= 0) {
      return;
    }
    if (!started) {
      started = true;
      nextOffset = streamOffset;
    }
    long skip = nextOffset - streamOffset;
    if (skip > 0) {
      if (skip >= len) {
        return;
      }
      off += (int) skip;
      len -= (int) skip;
      streamOffset = nextOffset;
    } else if (skip < 0) {
      gap(nextOffset, -skip, l);
    }
    long base = streamOffset - off;
    int i = off;
    int end = off + len;
    while (true) {
      if (state == State.HEAD) {
        int need = need();
        if (headLen < need) {
          if (i == end) {
            break;
          }
          int n = Math.min(need - headLen, end - i);
          if (headLen == 0) {
            frameOffset = base + i;
          }
          System.arraycopy(buf, i, head, headLen, n);
          Arrays.fill(headNs, headLen, headLen + n, tsNs);
          headLen += n;
          i += n;
          lastNs = tsNs;
          continue;
        }
        startFrame(l);
        continue;
      }
      if (i == end) {
        break;
      }
      // <size> <header ...> <here> ...
      int take = (int) Math.min(total - got, end - i);
      if (body != null) {
        System.arraycopy(buf, i, body, (int) (got - 4), take);
      } else if (got == headKept && got < HEAD_KEPT) {
        int n = (int) Math.min(take, HEAD_KEPT - got);
        System.arraycopy(buf, i, head, headKept, n);
        headKept += n;
      }
      got += take;
      i += take;
      lastNs = tsNs;
      if (got == total) {
        finish(l);
      }
    }
    nextOffset = streamOffset + len;
  }

  /** Head bytes the check needs: the size field, then what it asks for (at most {@link #CHECK_BYTES}, never past the frame). */
  private int need() {
    if (headLen < 4) {
      return 4;
    }
    int size = size();
    if (size < 0) {
      return 4;
    }
    int frame = (int) Math.min(CHECK_BYTES, 4L + size);
    return Math.max(4, Math.min(frame, check.needed(head, headLen, size)));
  }

  private int size() {
    return ((head[0] & 0xff) << 24) | ((head[1] & 0xff) << 16) | ((head[2] & 0xff) << 8) | (head[3] & 0xff);
  }

  /**
   * The head is complete: a frame starts here, or it does not and the decoder slides on.
   * While sliding, the head may already hold more than a short candidate frame: those bytes
   * after it are kept as the start of the next one.
   */
  private void startFrame(DecoderListener<KafkaFrame> l) {
    int size = size();
    int len = size < 0 ? headLen : (int) Math.min(headLen, 4L + size);
    Position position = resync ? Position.RESYNC : confirmed ? Position.TRUSTED : Position.START;
    boolean ok = size >= 0 && (position == Position.TRUSTED || size <= limits.maxMessageBytes())
        && check.plausible(head, len, size, position);
    if (!ok) {
      if (!quiet) {
        l.anomaly(BAD_FRAME, frameOffset, position == Position.START && frameOffset == 0
            ? "the stream does not start with a frame (capture started mid-connection?); resynchronising"
            : "no frame starts here (size " + size + "); resynchronising");
        quiet = true;
      }
      resync = true;
      confirmed = false;
      // slide: the candidate frame now starts one byte later
      System.arraycopy(head, 1, head, 0, headLen - 1);
      System.arraycopy(headNs, 1, headNs, 0, headLen - 1);
      headLen--;
      frameOffset++;
      return;
    }
    int extra = headLen - len;
    byte[] next = extra > 0 ? Arrays.copyOfRange(head, len, headLen) : null;
    long[] nextNs = extra > 0 ? Arrays.copyOfRange(headNs, len, headLen) : null;
    long nextOffset = frameOffset + len;
    headLen = len;
    resync = false;
    confirmed = true;
    tooLarge = size > limits.maxMessageBytes();
    if (tooLarge) {
      l.anomaly(FRAME_TOO_LARGE, frameOffset, "frame of " + size + " bytes (limit " + limits.maxMessageBytes()
          + "); skipped by its length");
    }
    state = State.BODY;
    total = 4L + size;
    got = headLen;
    headKept = headLen;
    lossy = false;
    body = null;
    if (!tooLarge && size <= maxDecodedFrame) {
      body = new byte[size];
      System.arraycopy(head, 4, body, 0, headLen - 4);
    }
    if (got == total) {
      if (next != null) {
        lastNs = headNs[len - 1];
      }
      finish(l);
    }
    if (next != null) {
      // <frame found while sliding> <here: bytes already read of what follows it>
      System.arraycopy(next, 0, head, 0, extra);
      System.arraycopy(nextNs, 0, headNs, 0, extra);
      headLen = extra;
      frameOffset = nextOffset;
      lastNs = nextNs[extra - 1];
    }
  }

  private void finish(DecoderListener<KafkaFrame> l) {
    KafkaFrame f;
    // bytes after a gap keep their own capture time, which may be earlier than the frame's
    // first byte's: a frame never ends before it began (fuzz finding through the TCP tracker)
    long endNs = Math.max(headNs[0], lastNs);
    if (body != null) {
      f = new KafkaFrame(frameOffset, headNs[0], endNs, total, body, body.length, true, tooLarge, lossy);
    } else {
      int kept = headKept - 4;
      f = new KafkaFrame(frameOffset, headNs[0], endNs, total, Arrays.copyOfRange(head, 4, headKept), kept, false,
          tooLarge, lossy);
    }
    if (!lossy) {
      quiet = false;
    }
    state = State.HEAD;
    headLen = 0;
    body = null;
    l.message(f);
  }

  /**
   * Bytes {@code [streamOffset, streamOffset + length)} were never captured.
   *
   * @return true if a frame's partial head was dropped
   */
  boolean gap(long streamOffset, long length, DecoderListener<KafkaFrame> l) {
    started = true;
    long gapEnd = streamOffset + length;
    nextOffset = Math.max(nextOffset, gapEnd);
    quiet = true; // the session reports the gap; what it costs here is no news
    confirmed = false;
    if (state == State.BODY && streamOffset == frameOffset + got) {
      lossy = true;
      if (body != null) {
        // the body can no longer be parsed: keep its header, stream the rest
        headKept = (int) Math.min(got, HEAD_KEPT);
        System.arraycopy(body, 0, head, 4, headKept - 4);
        body = null;
      }
      long frameEnd = frameOffset + total;
      if (gapEnd < frameEnd) {
        got += length; // <size> <header> ... <gap> <here> ... : the size still says where the frame ends
        return false;
      }
      got = total;
      finish(l);
      resync = gapEnd > frameEnd; // frames may have started and ended inside the gap
      return false;
    }
    boolean partial = state == State.HEAD && headLen > 0 && !resync;
    state = State.HEAD;
    headLen = 0;
    body = null;
    resync = true;
    return partial;
  }

  // ---- state -------------------------------------------------------------------------------

  /** Overwrites secrets in the held bytes of a frame in progress (from its size field on) before they are saved. */
  interface Mask {
    /**
     * @param started the frame's head was recognised: the decoder is in its body
     */
    void mask(byte[] frame, int len, boolean started);
  }

  /**
   * Writes the state; the held bytes of a frame in progress go through {@code mask} first
   * (not while resynchronising: which byte starts a frame is still open there, and a mask
   * could move it; at most {@link #CHECK_BYTES} bytes are held then).
   */
  void writeTo(DataOutput o, Mask mask) throws IOException {
    o.writeByte(STATE_FORMAT);
    o.writeBoolean(started);
    o.writeLong(nextOffset);
    o.writeByte((confirmed ? 1 : 0) | (resync ? 2 : 0) | (quiet ? 4 : 0) | (state == State.BODY ? 8 : 0));
    if (state == State.HEAD) {
      // between frames (most connections, most of the time) this is all but one byte
      o.writeByte(headLen);
      o.write(masked(head, headLen, false, mask), 0, headLen);
      writeTimes(o);
      if (headLen > 0) {
        o.writeLong(frameOffset);
        o.writeLong(lastNs);
      }
      return;
    }
    o.writeLong(headNs[0]);
    o.writeLong(frameOffset);
    o.writeLong(lastNs);
    o.writeLong(total);
    o.writeLong(got);
    o.writeBoolean(tooLarge);
    o.writeBoolean(lossy);
    o.writeBoolean(body != null);
    if (body != null) {
      byte[] frame = new byte[(int) got];
      System.arraycopy(head, 0, frame, 0, 4);
      System.arraycopy(body, 0, frame, 4, (int) (got - 4));
      mask.mask(frame, frame.length, true);
      o.write(frame, 0, 4);
      o.writeInt(body.length);
      o.write(frame, 4, (int) (got - 4));
    } else {
      o.writeShort(headKept);
      o.write(masked(head, headKept, true, mask), 0, headKept);
    }
  }

  /** {@code bytes}' first {@code len} as the mask leaves them (a copy; {@code bytes} itself while resynchronising). */
  private byte[] masked(byte[] bytes, int len, boolean started, Mask mask) {
    if (resync || len == 0) {
      return bytes;
    }
    byte[] copy = Arrays.copyOf(bytes, len);
    mask.mask(copy, len, started);
    return copy;
  }

  /** The head bytes' capture times as runs ({@code count, time}): they come in a chunk or two. */
  private void writeTimes(DataOutput o) throws IOException {
    for (int i = 0; i < headLen; ) {
      int j = i;
      while (j < headLen && headNs[j] == headNs[i]) {
        j++;
      }
      o.writeByte(j - i);
      o.writeLong(headNs[i]);
      i = j;
    }
  }

  private void readTimes(DataInput in) throws IOException {
    for (int i = 0; i < headLen; ) {
      int n = in.readUnsignedByte();
      if (n == 0 || i + n > headLen) {
        throw new IOException("bad Kafka head times");
      }
      Arrays.fill(headNs, i, i + n, in.readLong());
      i += n;
    }
  }

  static KafkaDecoder readFrom(DataInput in, SessionLimits limits, FrameCheck check) throws IOException {
    return readFrom(in, limits, DEFAULT_MAX_DECODED_FRAME, check);
  }

  static KafkaDecoder readFrom(DataInput in, SessionLimits limits, int maxDecodedFrame, FrameCheck check)
      throws IOException {
    if (in.readByte() != STATE_FORMAT) {
      throw new IOException("unknown Kafka decoder state format");
    }
    KafkaDecoder d = new KafkaDecoder(limits, maxDecodedFrame, check);
    d.started = in.readBoolean();
    d.nextOffset = in.readLong();
    int flags = in.readByte();
    d.confirmed = (flags & 1) != 0;
    d.resync = (flags & 2) != 0;
    d.quiet = (flags & 4) != 0;
    if ((flags & 8) == 0) {
      d.headLen = in.readUnsignedByte();
      if (d.headLen > CHECK_BYTES) {
        throw new IOException("bad Kafka frame head length " + d.headLen);
      }
      in.readFully(d.head, 0, d.headLen);
      d.readTimes(in);
      if (d.headLen > 0) {
        d.frameOffset = in.readLong();
        d.lastNs = in.readLong();
      }
      return d;
    }
    d.state = State.BODY;
    d.headNs[0] = in.readLong();
    d.frameOffset = in.readLong();
    d.lastNs = in.readLong();
    d.total = in.readLong();
    d.got = in.readLong();
    if (d.total < 4 || d.total > 4 + (long) Integer.MAX_VALUE || d.got < 4 || d.got > d.total) {
      throw new IOException("bad Kafka frame position " + d.got + " of " + d.total);
    }
    d.tooLarge = in.readBoolean();
    d.lossy = in.readBoolean();
    if (in.readBoolean()) {
      in.readFully(d.head, 0, 4);
      int n = in.readInt();
      if (n != d.total - 4 || n > maxDecodedFrame) {
        throw new IOException("bad Kafka frame body length " + n);
      }
      d.body = new byte[n];
      in.readFully(d.body, 0, (int) (d.got - 4));
    } else {
      d.headKept = in.readShort();
      if (d.headKept < 4 || d.headKept > HEAD_KEPT || d.headKept > d.got) {
        throw new IOException("bad Kafka frame head length " + d.headKept);
      }
      in.readFully(d.head, 0, d.headKept);
    }
    return d;
  }
}
