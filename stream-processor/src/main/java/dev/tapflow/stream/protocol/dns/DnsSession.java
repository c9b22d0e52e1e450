package dev.tapflow.stream.protocol.dns;

import dev.tapflow.protocol.api.DatagramSession;
import dev.tapflow.protocol.api.DecoderListener;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * One DNS flow: a UDP 5-tuple, one message per datagram ({@link DatagramSession}), or a TCP
 * connection, length-prefixed messages in each direction's stream ({@link ProtocolSession}).
 * Either way the messages go to one {@link DnsCorrelator}, which pairs by ID.
 *
 * <p>Input that is not a query from the client or a response from the server is counted and
 * dropped: a message shorter than a header, or a query that does not parse whole
 * ({@link DnsDecoder#MALFORMED}; a query cut by the snap length still counts, with
 * {@code request_gap}, when its question was captured), a query from the server or a
 * response from the client ({@link #WRONG_DIRECTION}: DNS between two servers, or mDNS,
 * is not paired).
 */
public final class DnsSession implements ProtocolSession, DatagramSession {

  /** A query sent by the server side, or a response by the client side. */
  public static final String WRONG_DIRECTION = "DNS_WRONG_DIRECTION";
  /** The TCP connection ended inside a message. */
  public static final String INCOMPLETE_AT_CLOSE = "DNS_INCOMPLETE_AT_CLOSE";

  private static final int STATE_FORMAT = 1;

  private final boolean tcp;
  private final DnsCorrelator pairs;
  /** TCP only */
  private final DnsDecoder clientStream;
  private final DnsDecoder serverStream;

  private SessionOutput out;
  private final DecoderListener<DnsMessage> clientListener = listener(true);
  private final DecoderListener<DnsMessage> serverListener = listener(false);

  private DnsSession(boolean tcp, DnsCorrelator pairs, DnsDecoder clientStream, DnsDecoder serverStream) {
    this.tcp = tcp;
    this.pairs = pairs;
    this.clientStream = clientStream;
    this.serverStream = serverStream;
  }

  static DnsSession overTcp(SessionLimits limits) {
    return new DnsSession(true, new DnsCorrelator(limits, "tcp"), new DnsDecoder(true), new DnsDecoder(false));
  }

  static DnsSession overUdp(SessionLimits limits) {
    return new DnsSession(false, new DnsCorrelator(limits, "udp"), null, null);
  }

  @Override
  public String protocol() {
    return DnsProtocol.NAME;
  }

  // ---- UDP ---------------------------------------------------------------------------------

  @Override
  public void clientDatagram(byte[] buf, int off, int len, long position, boolean cut, long tsNs, SessionOutput o) {
    datagram(true, buf, off, len, position, cut, tsNs, o);
  }

  @Override
  public void serverDatagram(byte[] buf, int off, int len, long position, boolean cut, long tsNs, SessionOutput o) {
    datagram(false, buf, off, len, position, cut, tsNs, o);
  }

  private void datagram(boolean clientSide, byte[] buf, int off, int len, long position, boolean cut, long tsNs,
      SessionOutput o) {
    DnsMessage m = DnsDecoder.parse(buf, off, len, position, tsNs, tsNs, len);
    if (m == null) {
      o.anomaly(DnsDecoder.MALFORMED, clientSide, position, len + " bytes: shorter than a DNS header");
      return;
    }
    message(m, clientSide, cut, o);
  }

  // ---- TCP ---------------------------------------------------------------------------------

  @Override
  public void clientData(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput o) {
    stream(true, buf, off, len, streamOffset, tsNs, o);
  }

  @Override
  public void serverData(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput o) {
    stream(false, buf, off, len, streamOffset, tsNs, o);
  }

  private void stream(boolean clientSide, byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput o) {
    if (!tcp || len <= 0) {
      return;
    }
    DnsDecoder d = clientSide ? clientStream : serverStream;
    if (d.started() && streamOffset > d.nextOffset()) {
      gap(clientSide, d.nextOffset(), streamOffset - d.nextOffset(), tsNs, o);
    }
    out = o;
    try {
      d.decode(buf, off, len, streamOffset, tsNs, clientSide ? clientListener : serverListener);
    } finally {
      out = null;
    }
  }

  @Override
  public void gap(boolean clientSide, long streamOffset, long length, long tsNs, SessionOutput o) {
    if (!tcp) {
      return;
    }
    (clientSide ? clientStream : serverStream).gap(streamOffset, length);
    if (!clientSide) {
      pairs.serverGap();
    }
  }

  // ---- both --------------------------------------------------------------------------------

  private void message(DnsMessage m, boolean clientSide, boolean cut, SessionOutput o) {
    if (m.malformed() != null) {
      o.anomaly(DnsDecoder.MALFORMED, clientSide, m.offset(), m.malformed());
      boolean usable = m.response() || (cut && m.qname() != null);
      if (!usable) {
        return;
      }
    }
    if (m.response() == clientSide) {
      o.anomaly(WRONG_DIRECTION, clientSide, m.offset(),
          (m.response() ? "response from the client side, ID " : "query from the server side, ID ") + m.id());
      return;
    }
    if (clientSide) {
      pairs.query(m, cut, o);
    } else {
      pairs.response(m, cut, o);
    }
  }

  @Override
  public void expire(long deadlineNs, SessionOutput o) {
    pairs.expire(deadlineNs, o);
  }

  @Override
  public void close(long tsNs, SessionOutput o) {
    if (tcp) {
      for (DnsDecoder d : new DnsDecoder[] {clientStream, serverStream}) {
        if (!d.idle() && !d.resynchronising()) {
          o.anomaly(INCOMPLETE_AT_CLOSE, d == clientStream, d.nextOffset(), "connection ended inside a message");
        }
      }
    }
    pairs.closeAll(o);
  }

  @Override
  public int pendingRequests() {
    return pairs.pendingCount();
  }

  @Override
  public void writeTo(DataOutput o) throws IOException {
    o.writeByte(STATE_FORMAT);
    o.writeBoolean(tcp);
    pairs.writeTo(o);
    if (tcp) {
      clientStream.writeTo(o);
      serverStream.writeTo(o);
    }
  }

  /** Reads a session written by {@link #writeTo}; {@code tcp} says which kind the caller expects. */
  static DnsSession readFrom(DataInput in, SessionLimits limits, boolean tcp) throws IOException {
    if (in.readByte() != STATE_FORMAT) {
      throw new IOException("unknown DNS session state format");
    }
    if (in.readBoolean() != tcp) {
      throw new IOException("DNS session state of the other transport");
    }
    DnsCorrelator pairs = DnsCorrelator.readFrom(in, limits, tcp ? "tcp" : "udp");
    if (!tcp) {
      return new DnsSession(false, pairs, null, null);
    }
    return new DnsSession(true, pairs, DnsDecoder.readFrom(in, true), DnsDecoder.readFrom(in, false));
  }

  private DecoderListener<DnsMessage> listener(boolean clientSide) {
    return new DecoderListener<>() {
      @Override
      public void message(DnsMessage m) {
        DnsSession.this.message(m, clientSide, false, out);
      }

      @Override
      public void anomaly(String name, long streamOffset, String detail) {
        out.anomaly(name, clientSide, streamOffset, detail);
      }
    };
  }
}
