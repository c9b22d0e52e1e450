package dev.tapflow.stream.tcp;

import dev.tapflow.stream.flow.FlowOutput;
import dev.tapflow.stream.flow.TrackedFlow;
import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.stream.protocol.Protocols;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Everything tapflow knows about one TCP connection seen by one agent: both directions'
 * reassembly, which side is the client, which protocol it speaks, and that protocol's
 * session. Plain Java: the Kafka Streams processor keeps it serialised in a state store, and
 * {@code tapflow analyze} keeps it in a map; both feed it the same segments in capture order.
 *
 * <p>Endpoint "a" and "b" are the canonical order of the connection key. The client is
 * decided by, in order: the SYN (its sender is the client), a server port (configured or a
 * protocol's default), then the first bytes' content (a probe that recognises a request or
 * a response).
 */
public final class ConnectionTracker extends TrackedFlow {

  private static final byte FORMAT = 3;
  /** Give up detecting the protocol after this many bytes without a probe match. */
  private static final int MAX_PROBE_BYTES = 16 * 1024;
  /**
   * A session that decoded this many bytes without one exchange, and met bad input on the
   * way, is not speaking its protocol ({@link #NOT_THIS_PROTOCOL}).
   */
  private static final int MAX_UNCONFIRMED_BYTES = 64 * 1024;

  /** Anomaly: a connection on a protocol's port whose bytes are not that protocol; it is no longer decoded. */
  public static final String NOT_THIS_PROTOCOL = "NOT_THIS_PROTOCOL";

  /** Anomaly: bytes of one direction are missing from the capture; the detail says why ({@link StreamReassembler.GapCause}). */
  public static final String GAP = "TCP_GAP";

  public static final int FIN = 0x01;
  public static final int SYN = 0x02;
  public static final int RST = 0x04;
  public static final int ACK = 0x10;

  /** Where the tracker reports facts' raw material and anomalies. */
  public interface Output extends FlowOutput {}

  /** Settings shared by every tracker of a processor. */
  public record Settings(Protocols protocols, SessionLimits sessionLimits, ReassemblyLimits reassemblyLimits) {}

  private String protocolName;
  private ProtocolSession session;
  private boolean undecodable;
  private boolean reset;
  /** before detection: bytes probed; after: bytes decoded before the first exchange */
  private long probedBytes;
  private long firstSeenNs;
  private long lastSeenNs;
  /** the handshake as captured, for the vantage: the client's (last) SYN, the server's (first) SYN/ACK, the client's first payload; 0 unseen */
  private long synNs;
  private long synAckNs;
  private long firstRequestNs;
  private StreamReassembler fromA = new StreamReassembler();
  private StreamReassembler fromB = new StreamReassembler();

  public ConnectionTracker(String agent, byte[] ipA, int portA, byte[] ipB, int portB) {
    super(agent, ipA, portA, ipB, portB);
  }

  private ConnectionTracker(DataInput in) throws IOException {
    super(in);
  }

  /** The decoded protocol's name, or null while unknown. */
  @Override
  public String protocol() { return protocolName; }
  public boolean undecodable() { return undecodable; }
  public long firstSeenNs() { return firstSeenNs; }
  @Override
  public long lastSeenNs() { return lastSeenNs; }
  public int pendingRequests() { return session == null ? 0 : session.pendingRequests(); }

  /** Absolute sequence number of a client-to-server stream offset (part of a fact's identity). */
  public long clientSeqOf(long streamOffset) {
    return (role == 2 ? fromB : fromA).seqOf(streamOffset);
  }

  @Override
  public long requestPosition(long requestOffset) {
    return clientSeqOf(requestOffset);
  }

  @Override
  public Long requestSeq(long requestOffset) {
    return clientSeqOf(requestOffset);
  }

  /**
   * The handshake's timing, when the capture saw it: at the client's host the SYN/ACK comes a
   * round trip after the SYN and the client's first bytes follow the SYN/ACK at once (they wait
   * only for the application); at the server's host the SYN/ACK leaves microseconds after the
   * SYN and the first bytes arrive a round trip later. The larger of the two gaps must be at
   * least twice the other, else {@code unknown}. (The handshake's final ACK would be the
   * textbook evidence, but pure ACKs are not published.)
   */
  @Override
  protected String vantageEvidence() {
    if (synNs == 0 || synAckNs < synNs || firstRequestNs < synAckNs) {
      return "unknown";
    }
    long synToSynAck = synAckNs - synNs;
    long synAckToData = firstRequestNs - synAckNs;
    if (synToSynAck > 2 * synAckToData) {
      return "client";
    }
    if (synAckToData > 2 * synToSynAck) {
      return "server";
    }
    return "unknown";
  }

  /** True when both directions ended (FIN delivered) or the connection was reset. */
  public boolean finished() {
    return reset || (fromA.finished() && fromB.finished());
  }

  /**
   * Takes one captured segment. Before it, requests unanswered for longer than the join
   * window (by this connection's own capture time) become TIMEOUT facts, so a very late
   * response never pairs with a request already given up on.
   */
  public void segment(boolean aToB, long tsNs, long seq, long ack, int flags, byte[] payload,
      int wireLen, long windowNs, Settings settings, Output out) {
    if (firstSeenNs == 0) {
      firstSeenNs = tsNs;
    }
    lastSeenNs = Math.max(lastSeenNs, tsNs);
    if (session != null) {
      session.expire(tsNs - windowNs, bind(out));
    }
    boolean syn = (flags & SYN) != 0;
    if (syn && role == 0) {
      boolean synAck = (flags & ACK) != 0;
      role = (byte) ((aToB ^ synAck) ? 1 : 2);
    }
    if (syn) {
      if ((flags & ACK) == 0) {
        if (synAckNs == 0) {
          synNs = tsNs; // the last SYN before the SYN/ACK: the one answered
        }
      } else if (synAckNs == 0) {
        synAckNs = tsNs;
      }
    } else if (firstRequestNs == 0 && payload.length > 0 && role != 0 && isClient(aToB)) {
      firstRequestNs = tsNs;
    }
    if ((flags & ACK) != 0) {
      // what this side acknowledges of the other direction crossed the wire: holes before it
      // are capture loss, and the bytes after them must reach the session before this
      // segment's own bytes (a reply after the requests it answers)
      (aToB ? fromB : fromA).acked(ack, tsNs, new Delivery(!aToB, settings, out));
    }
    StreamReassembler r = aToB ? fromA : fromB;
    r.segment(seq, syn, (flags & FIN) != 0, payload, wireLen, tsNs, settings.reassemblyLimits(),
        new Delivery(aToB, settings, out));
    if ((flags & RST) != 0) {
      reset = true;
      close(tsNs, settings, out);
    }
  }

  /** Requests unanswered since before {@code nowNs - windowNs} become TIMEOUT facts; holes older than the reorder timeout become gaps. */
  public void expire(long nowNs, long windowNs, Settings settings, Output out) {
    if (nowNs - lastSeenNs > settings.reassemblyLimits().reorderTimeoutNs()) {
      fromA.flush(nowNs, new Delivery(true, settings, out));
      fromB.flush(nowNs, new Delivery(false, settings, out));
    }
    if (session != null) {
      session.expire(nowNs - windowNs, bind(out));
    }
  }

  /** The connection or the capture ended: buffered bytes are delivered, pending requests reported. */
  public void close(long tsNs, Settings settings, Output out) {
    fromA.flush(tsNs, new Delivery(true, settings, out));
    fromB.flush(tsNs, new Delivery(false, settings, out));
    if (session != null) {
      session.close(tsNs, bind(out));
    }
  }

  /** Routes one direction's reassembled bytes to the session, detecting the protocol first. */
  private final class Delivery implements StreamReassembler.Receiver {
    private final boolean fromASide;
    private final Settings settings;
    private final Output out;

    Delivery(boolean fromASide, Settings settings, Output out) {
      this.fromASide = fromASide;
      this.settings = settings;
      this.out = out;
    }

    @Override
    public void bytes(byte[] buf, int off, int len, long streamOffset, long tsNs) {
      if (session == null && !detect(fromASide, buf, off, len, settings, out)) {
        return;
      }
      boolean client = isClient(fromASide);
      if (client) {
        out.clientBytes(ConnectionTracker.this, buf, off, len, streamOffset);
        session.clientData(buf, off, len, streamOffset, tsNs, bind(out));
      } else {
        session.serverData(buf, off, len, streamOffset, tsNs, bind(out));
      }
      if (!confirmed && session != null) {
        probedBytes += len;
        if (probedBytes > MAX_UNCONFIRMED_BYTES && badInput > 0) {
          out.anomaly(ConnectionTracker.this, NOT_THIS_PROTOCOL, client, streamOffset,
              probedBytes + " bytes without one " + protocolName + " exchange, " + badInput
                  + " decode errors: no longer decoded");
          session = null;
          protocolName = null;
          undecodable = true;
        }
      }
    }

    @Override
    public void gap(long streamOffset, long length, long tsNs, StreamReassembler.GapCause cause) {
      boolean client = role == 0 || isClient(fromASide);
      out.anomaly(ConnectionTracker.this, GAP, client, streamOffset,
          length + " bytes not captured (" + cause.name().toLowerCase(java.util.Locale.ROOT) + ")");
      if (session != null) {
        session.gap(client, streamOffset, length, tsNs, bind(out));
      }
    }

    @Override
    public void anomaly(String name, long streamOffset, String detail) {
      out.anomaly(ConnectionTracker.this, name, role == 0 || isClient(fromASide), streamOffset, detail);
    }
  }

  /**
   * Decides role and protocol from ports and the first bytes. Bytes seen before a decision
   * are reported to the new session as a gap, so it starts as if mid-stream.
   */
  private boolean detect(boolean aSide, byte[] buf, int off, int len, Settings settings, Output out) {
    if (undecodable) {
      return false;
    }
    Protocols protocols = settings.protocols();
    Protocol chosen = null;
    Protocol atB = protocols.forPort(portB);
    Protocol atA = protocols.forPort(portA);
    if (role == 1 && atB != null) {
      chosen = atB;
    } else if (role == 2 && atA != null) {
      chosen = atA;
    } else if (role == 0 && (atA == null) != (atB == null)) {
      role = (byte) (atB != null ? 1 : 2);
      chosen = atB != null ? atB : atA;
    }
    if (chosen == null) {
      for (Protocol p : protocols.all()) {
        Protocol.Probe probe = p.probe(buf, off, len);
        if (probe == Protocol.Probe.NO) {
          continue;
        }
        boolean senderIsClient;
        if (role != 0) {
          senderIsClient = isClient(aSide);
          if ((probe == Protocol.Probe.REQUEST && !senderIsClient)
              || (probe == Protocol.Probe.RESPONSE && senderIsClient)) {
            continue;
          }
        } else {
          senderIsClient = switch (probe) {
            case REQUEST -> true;
            case RESPONSE -> false;
            default -> (aSide ? portA : portB) > (aSide ? portB : portA); // the higher (ephemeral) port is the client
          };
          role = (byte) (senderIsClient == aSide ? 1 : 2);
        }
        chosen = p;
        break;
      }
    }
    if (chosen == null) {
      probedBytes += len;
      if (probedBytes > MAX_PROBE_BYTES) {
        undecodable = true;
        out.anomaly(this, "UNKNOWN_PROTOCOL", role == 0 || isClient(aSide), 0,
            "no protocol recognised in the first " + MAX_PROBE_BYTES + " bytes");
      }
      return false;
    }
    protocolName = chosen.name();
    session = chosen.newSession(settings.sessionLimits());
    probedBytes = 0;
    SessionOutput so = bind(out);
    StreamReassembler client = role == 1 ? fromA : fromB;
    StreamReassembler server = role == 1 ? fromB : fromA;
    // bytes delivered before the decision were not decoded: the session starts after a gap
    // (the reassembler reports bytes before advancing, so deliveredOffset is where these start)
    long clientSkipped = client.deliveredOffset();
    long serverSkipped = server.deliveredOffset();
    if (clientSkipped > 0) {
      session.gap(true, 0, clientSkipped, lastSeenNs, so);
    }
    if (serverSkipped > 0) {
      session.gap(false, 0, serverSkipped, lastSeenNs, so);
    }
    return true;
  }

  /**
   * Whether a stream-time sweep at {@code nowNs} has work for this serialised tracker: it has
   * requests waiting, out-of-order bytes buffered, or has been idle past {@code idleNs}.
   * Reads the fixed-position summary only; unreadable states answer true (the sweep decides).
   */
  public static boolean needsSweep(byte[] state, long nowNs, long idleNs) {
    if (state.length < 14 || state[0] != FORMAT) {
      return true;
    }
    java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(state);
    long lastSeen = b.getLong(1);
    int pending = b.getInt(9);
    boolean buffered = state[13] != 0;
    return pending > 0 || buffered || nowNs - lastSeen > idleNs;
  }

  public byte[] toBytes() {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(256);
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeByte(FORMAT);
      // a fixed-position summary first, so sweeps can skip idle connections without decoding them
      out.writeLong(lastSeenNs);
      out.writeInt(pendingRequests());
      out.writeBoolean(fromA.hasBuffered() || fromB.hasBuffered());
      writeEndpoints(out);
      out.writeBoolean(undecodable);
      out.writeBoolean(reset);
      out.writeLong(probedBytes);
      out.writeBoolean(confirmed);
      out.writeInt(badInput);
      out.writeLong(firstSeenNs);
      out.writeLong(lastSeenNs);
      fromA.writeTo(out);
      fromB.writeTo(out);
      out.writeUTF(protocolName == null ? "" : protocolName);
      if (session != null) {
        session.writeTo(out);
      }
      // trailing, so states written before these existed still read (they just lack them)
      writeAgentHint(out);
      out.writeLong(synNs);
      out.writeLong(synAckNs);
      out.writeLong(firstRequestNs);
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // in-memory stream: cannot happen
    }
  }

  /**
   * Restores a tracker written by {@link #toBytes}.
   *
   * @throws IOException when the bytes are not a tracker of this format
   */
  public static ConnectionTracker fromBytes(byte[] data, Settings settings) throws IOException {
    DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
    byte format = in.readByte();
    if (format != FORMAT) {
      throw new IOException("unknown connection state format " + format);
    }
    in.readLong(); // summary: lastSeenNs (restored below), pending requests, buffered bytes
    in.readInt();
    in.readBoolean();
    ConnectionTracker t = new ConnectionTracker(in);
    t.undecodable = in.readBoolean();
    t.reset = in.readBoolean();
    t.probedBytes = in.readLong();
    t.confirmed = in.readBoolean();
    t.badInput = in.readInt();
    t.firstSeenNs = in.readLong();
    t.lastSeenNs = in.readLong();
    t.fromA = StreamReassembler.readFrom(in);
    t.fromB = StreamReassembler.readFrom(in);
    String proto = in.readUTF();
    if (!proto.isEmpty()) {
      Protocol p = settings.protocols().byName(proto);
      if (p == null) {
        throw new IOException("connection state names an unknown protocol: " + proto);
      }
      t.protocolName = proto;
      t.session = p.readSession(in, settings.sessionLimits());
    }
    if (in.available() > 0) {
      t.readAgentHint(in);
      t.synNs = in.readLong();
      t.synAckNs = in.readLong();
      t.firstRequestNs = in.readLong();
    }
    return t;
  }
}
