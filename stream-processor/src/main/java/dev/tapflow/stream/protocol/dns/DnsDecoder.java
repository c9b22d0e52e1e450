package dev.tapflow.stream.protocol.dns;

import dev.tapflow.protocol.api.DecoderListener;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.xbill.DNS.DNSInput;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Header;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Section;

/**
 * The DNS wire grammar (RFC 1035 section 4): one message parsed whole by dnsjava
 * ({@link #parse}), and the incremental decoder of one direction of DNS over TCP (RFC 1035
 * section 4.2.2, RFC 7766): each message follows a 2-byte length, several may share a
 * segment and one may span many.
 *
 * <pre>
 * TCP:      length(2) | message
 * message:  id(2) flags(2) qdcount(2) ancount(2) nscount(2) arcount(2) | question | answer | authority | additional
 * flags:    QR(1) opcode(4) AA TC RD RA Z AD CD rcode(4)
 * </pre>
 *
 * A message is at most 65535 bytes (the length is 16 bits; a UDP payload is smaller), so
 * parsing one is bounded; dnsjava itself bounds compression pointers. Bad input never
 * throws: a message dnsjava rejects is still reported with its header and question read
 * alone and {@code malformed} saying why; a length shorter than a header is
 * {@link #MALFORMED} and the decoder resynchronises where a plausible length and header
 * start ({@link #plausibleHeader}).
 */
final class DnsDecoder {

  /** A message that does not parse, or a TCP length shorter than a header. */
  static final String MALFORMED = "DNS_MALFORMED";

  static final int HEADER = 12;
  /** A resource record's smallest size on the wire: root name, type, class, TTL, rdlength. */
  private static final int MIN_RR = 11;
  /** A question's smallest size: root name, type, class. */
  private static final int MIN_QUESTION = 5;
  /** Detail text kept from a parse error. */
  private static final int MAX_DETAIL = 120;
  private static final int STATE_FORMAT = 1;

  private enum State {
    /** collecting the 2-byte length and the message */
    MESSAGE,
    /** after a gap or a bad length: sliding over bytes until a plausible length + header */
    SCAN
  }

  private final boolean clientSide;
  private State state = State.MESSAGE;
  /** length prefix and message collected so far ({@code got} bytes) */
  private byte[] buf = new byte[HEADER + 2];
  private int got;
  private long msgOffset;
  private long msgFirstNs;
  private long nextOffset = -1;
  /** SCAN: capture time and stream offset of each byte in {@code buf} (a window of HEADER + 2 bytes) */
  private final long[] scanNs = new long[HEADER + 2];
  private final long[] scanOffset = new long[HEADER + 2];

  DnsDecoder(boolean clientSide) {
    this.clientSide = clientSide;
  }

  // ---- one whole message -------------------------------------------------------------------

  /**
   * Parses one message; null when it is shorter than a header. Never throws.
   *
   * @param offset  the message's {@code offset}
   * @param length  its {@code length} on the wire
   */
  static DnsMessage parse(byte[] b, int off, int len, long offset, long firstNs, long lastNs, long length) {
    if (len < HEADER) {
      return null;
    }
    try {
      Message m = new Message(ByteBuffer.wrap(b, off, len).slice());
      Header h = m.getHeader();
      org.xbill.DNS.Record q = m.getQuestion();
      return new DnsMessage(h.getID(), h.getFlag(Flags.QR), h.getOpcode(), m.getRcode(),
          q == null ? null : q.getName().toString(true), q == null ? -1 : q.getType(), q == null ? -1 : q.getDClass(),
          h.getCount(Section.ANSWER), h.getFlag(Flags.TC), null, offset, firstNs, lastNs, length);
    } catch (IOException | RuntimeException e) {
      // dnsjava rejected the message (or it was cut): what the header and question say alone
      String qname = null;
      int qtype = -1;
      int qclass = -1;
      if (u16(b, off + 4) > 0) {
        try {
          DNSInput in = new DNSInput(ByteBuffer.wrap(b, off, len).slice());
          in.jump(HEADER);
          Name n = new Name(in);
          qtype = in.readU16();
          qclass = in.readU16();
          qname = n.toString(true);
        } catch (IOException | RuntimeException unreadable) {
          // no question then
        }
      }
      int flags = u16(b, off + 2);
      String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      return new DnsMessage(u16(b, off), (flags & 0x8000) != 0, (flags >> 11) & 0xf, flags & 0xf, qname, qtype,
          qclass, u16(b, off + 6), (flags & 0x0200) != 0,
          why.length() > MAX_DETAIL ? why.substring(0, MAX_DETAIL) : why, offset, firstNs, lastNs, length);
    }
  }

  /**
   * Whether 12 bytes at {@code off} can be the header of a real message of {@code msgLen}
   * bytes: a defined opcode, Z clear, at most one question, record counts that fit, and a
   * query (QR clear, opcode QUERY) that asks exactly one question and answers nothing. Used
   * by probes and to resynchronise; a real message still has to parse.
   */
  static boolean plausibleHeader(byte[] b, int off, int msgLen) {
    if (msgLen < HEADER) {
      return false;
    }
    int flags = u16(b, off + 2);
    int opcode = (flags >> 11) & 0xf;
    if (opcode == 3 || opcode > 6 || (flags & 0x0040) != 0) {
      return false;
    }
    int qd = u16(b, off + 4);
    long rrs = (long) u16(b, off + 6) + u16(b, off + 8) + u16(b, off + 10);
    if (qd > 1 || HEADER + (long) qd * MIN_QUESTION + rrs * MIN_RR > msgLen) {
      return false;
    }
    boolean query = (flags & 0x8000) == 0;
    return !(query && opcode == 0 && (qd != 1 || u16(b, off + 6) != 0 || (flags & 0xf) != 0));
  }

  static int u16(byte[] b, int i) {
    return ((b[i] & 0xff) << 8) | (b[i + 1] & 0xff);
  }

  // ---- one direction of DNS over TCP -------------------------------------------------------

  boolean started() {
    return nextOffset >= 0;
  }

  long nextOffset() {
    return nextOffset;
  }

  /** Between messages, nothing partial held. */
  boolean idle() {
    return state == State.MESSAGE && got == 0;
  }

  boolean resynchronising() {
    return state == State.SCAN;
  }

  void decode(byte[] b, int off, int len, long streamOffset, long tsNs, DecoderListener<DnsMessage> l) {
    int i = off;
    int end = off + len;
    nextOffset = streamOffset + len;
    while (i < end) {
      long pos = streamOffset + (i - off);
      if (state == State.SCAN) {
        i = scan(b, i, end, pos, tsNs, l);
        continue;
      }
      if (got == 0) {
        msgOffset = pos;
        msgFirstNs = tsNs;
      }
      // length(2) <here> message: first the prefix, then as many bytes as it says
      int want = got < 2 ? 2 - got : 2 + u16(buf, 0) - got;
      int n = Math.min(want, end - i);
      ensure(got + n);
      System.arraycopy(b, i, buf, got, n);
      got += n;
      i += n;
      if (got == 2 && u16(buf, 0) < HEADER) {
        l.anomaly(MALFORMED, msgOffset, "TCP message length " + u16(buf, 0) + " is shorter than a DNS header");
        got = 0;
        state = State.SCAN;
      } else if (got >= 2 && got == 2 + u16(buf, 0)) {
        finish(tsNs, l);
      }
    }
  }

  /** Slides the SCAN window over {@code b[i..end)} until it holds a plausible length + header; returns where it stopped. */
  private int scan(byte[] b, int i, int end, long pos, long tsNs, DecoderListener<DnsMessage> l) {
    int window = HEADER + 2;
    for (; i < end; i++, pos++) {
      if (got == window) {
        System.arraycopy(buf, 1, buf, 0, window - 1);
        System.arraycopy(scanNs, 1, scanNs, 0, window - 1);
        System.arraycopy(scanOffset, 1, scanOffset, 0, window - 1);
        got--;
      }
      buf[got] = b[i];
      scanNs[got] = tsNs;
      scanOffset[got] = pos;
      got++;
      if (got == window && plausibleStart()) {
        state = State.MESSAGE;
        msgOffset = scanOffset[0];
        msgFirstNs = scanNs[0];
        if (got == 2 + u16(buf, 0)) {
          finish(tsNs, l);
        }
        return i + 1;
      }
    }
    return i;
  }

  private boolean plausibleStart() {
    boolean response = (buf[4] & 0x80) != 0;
    return response != clientSide && plausibleHeader(buf, 2, u16(buf, 0));
  }

  private void finish(long tsNs, DecoderListener<DnsMessage> l) {
    DnsMessage m = parse(buf, 2, got - 2, msgOffset, msgFirstNs, tsNs, got);
    got = 0;
    if (buf.length > 4096) {
      buf = new byte[HEADER + 2]; // do not keep a large message's buffer between messages
    }
    l.message(m);
  }

  private void ensure(int n) {
    if (n > buf.length) {
      buf = Arrays.copyOf(buf, Math.max(n, Math.min(2 + 65535, buf.length * 2)));
    }
  }

  /** Forgets a partial message after a gap and resynchronises; true if one was dropped. */
  boolean gap(long streamOffset, long length) {
    boolean partial = state == State.MESSAGE && got > 0;
    got = 0;
    state = State.SCAN;
    nextOffset = streamOffset + length;
    return partial;
  }

  // ---- state -------------------------------------------------------------------------------

  void writeTo(DataOutput o) throws IOException {
    o.writeByte(STATE_FORMAT);
    o.writeByte(state.ordinal());
    o.writeInt(got);
    o.write(buf, 0, got);
    o.writeLong(msgOffset);
    o.writeLong(msgFirstNs);
    o.writeLong(nextOffset);
    if (state == State.SCAN) {
      for (int k = 0; k < got; k++) {
        o.writeLong(scanNs[k]);
        o.writeLong(scanOffset[k]);
      }
    }
  }

  static DnsDecoder readFrom(DataInput in, boolean clientSide) throws IOException {
    if (in.readByte() != STATE_FORMAT) {
      throw new IOException("unknown DNS decoder state format");
    }
    DnsDecoder d = new DnsDecoder(clientSide);
    int st = in.readByte();
    if (st < 0 || st >= State.values().length) {
      throw new IOException("bad DNS decoder state " + st);
    }
    d.state = State.values()[st];
    int n = in.readInt();
    if (n < 0 || n > (d.state == State.SCAN ? HEADER + 2 : 2 + 65535)) {
      throw new IOException("bad DNS message bytes " + n);
    }
    d.ensure(n);
    in.readFully(d.buf, 0, n);
    d.got = n;
    d.msgOffset = in.readLong();
    d.msgFirstNs = in.readLong();
    d.nextOffset = in.readLong();
    if (d.state == State.SCAN) {
      for (int k = 0; k < n; k++) {
        d.scanNs[k] = in.readLong();
        d.scanOffset[k] = in.readLong();
      }
    }
    return d;
  }
}
