package dev.tapflow.stream.udp;

import dev.tapflow.stream.flow.FlowOutput;
import dev.tapflow.stream.flow.TrackedFlow;
import dev.tapflow.protocol.api.DatagramProtocol;
import dev.tapflow.protocol.api.DatagramSession;
import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.stream.protocol.Protocols;
import dev.tapflow.protocol.api.SessionOutput;
import dev.tapflow.stream.tcp.ConnectionTracker;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/**
 * Everything tapflow knows about one UDP flow (the datagrams between two endpoints, both
 * directions, as seen by one agent): which side is the client, which protocol it speaks,
 * and that protocol's {@link DatagramSession}. Plain Java; kept serialised in the same store
 * as TCP connections, under the same kind of key.
 *
 * <p>The client is decided by, in order: a server port (configured or a protocol's default
 * UDP port; when both ports are that protocol's, as between two DNS servers on 53, the first
 * datagram's content says which side asks), then the content of a datagram (a probe that
 * recognises a request or a response). Flows to a multicast or broadcast address (mDNS,
 * LLMNR, discovery) are not decoded: their answers come from other hosts, to the group, so
 * nothing pairs on the flow. A flow whose protocol is not known yet has nothing
 * worth keeping: {@link #tracked()} is false, the engine stores nothing and only counts its
 * datagrams, and the next datagram is probed afresh (UDP has no stream to lose the thread of).
 *
 * <p>Every datagram is handed to the session whole; its position is the agent's packet
 * number (see {@link DatagramSession}). Before each datagram, requests unanswered for longer
 * than the join window become TIMEOUT facts, as on TCP.
 */
public final class UdpFlowTracker extends TrackedFlow {

  /** First byte of a serialised UDP flow; a TCP tracker's state starts otherwise. */
  private static final byte FORMAT = 0x55;
  /**
   * A UDP flow with nothing pending is dropped after this much silence in capture time
   * (default 30 s), sooner than a TCP connection: clients often use a new port for every
   * request (DNS), so UDP flows are many and short. Flows with requests pending wait for
   * the window; the engine's idle bound applies to every flow.
   */
  public static final long QUIET_FLOW_NS = 30_000_000_000L;
  /**
   * Datagrams decoded on a protocol's port without one exchange, and with decode errors,
   * after which the flow is not that protocol ({@link ConnectionTracker#NOT_THIS_PROTOCOL}).
   */
  private static final int MAX_UNCONFIRMED_DATAGRAMS = 64;

  /** Anomaly: a datagram was captured shorter than it was sent (snap length). */
  public static final String TRUNCATED = "UDP_TRUNCATED";

  private String protocolName;
  private DatagramSession session;
  private boolean undecodable;
  /** datagrams decoded before the first exchange */
  private int unconfirmed;
  private long firstSeenNs;
  private long lastSeenNs;

  public UdpFlowTracker(String agent, byte[] ipA, int portA, byte[] ipB, int portB) {
    super(agent, ipA, portA, ipB, portB);
  }

  private UdpFlowTracker(DataInput in) throws IOException {
    super(in);
  }

  @Override public String protocol() { return protocolName; }
  @Override public long lastSeenNs() { return lastSeenNs; }
  public long firstSeenNs() { return firstSeenNs; }
  public boolean undecodable() { return undecodable; }
  public int pendingRequests() { return session == null ? 0 : session.pendingRequests(); }

  /** A UDP request's position is its datagram's packet number already. */
  @Override
  public long requestPosition(long requestOffset) {
    return requestOffset;
  }

  /** Worth keeping in the store: a protocol was recognised, or the flow was given up on one. */
  public boolean tracked() {
    return session != null || undecodable;
  }

  /**
   * Takes one captured datagram.
   *
   * @param position the agent's packet number of the datagram
   * @param wireLen  the payload's length on the wire (more than {@code payload.length} when the snap length cut it)
   * @return whether the datagram went to a protocol session (false: no protocol recognised yet, or given up)
   */
  public boolean datagram(boolean aToB, long tsNs, long position, byte[] payload, int wireLen, long windowNs,
      ConnectionTracker.Settings settings, FlowOutput out) {
    if (firstSeenNs == 0) {
      firstSeenNs = tsNs;
    }
    lastSeenNs = Math.max(lastSeenNs, tsNs);
    SessionOutput so = bind(out);
    if (session != null) {
      session.expire(tsNs - windowNs, so);
    }
    if (undecodable || (session == null && !detect(aToB, payload, settings))) {
      return false;
    }
    boolean client = isClient(aToB);
    boolean cut = payload.length < wireLen;
    if (cut) {
      out.anomaly(this, TRUNCATED, client, position, payload.length + " of " + wireLen + " bytes captured (snap length)");
    }
    if (client) {
      session.clientDatagram(payload, 0, payload.length, position, cut, tsNs, so);
    } else {
      session.serverDatagram(payload, 0, payload.length, position, cut, tsNs, so);
    }
    if (!confirmed && ++unconfirmed > MAX_UNCONFIRMED_DATAGRAMS && badInput > 0) {
      out.anomaly(this, ConnectionTracker.NOT_THIS_PROTOCOL, client, position, unconfirmed + " datagrams without one "
          + protocolName + " exchange, " + badInput + " decode errors: no longer decoded");
      session = null;
      protocolName = null;
      undecodable = true;
    }
    return true;
  }

  /** Requests unanswered since before {@code nowNs - windowNs} become TIMEOUT facts. */
  public void expire(long nowNs, long windowNs, FlowOutput out) {
    if (session != null) {
      session.expire(nowNs - windowNs, bind(out));
    }
  }

  /** The flow was evicted or the capture ended: pending requests are reported. */
  public void close(long tsNs, FlowOutput out) {
    if (session != null) {
      session.close(tsNs, bind(out));
    }
  }

  /** Whether a sweep at {@code nowNs} should drop this flow: silent past {@code idleNs}, or past {@link #QUIET_FLOW_NS} with nothing pending. */
  public boolean evictable(long nowNs, long idleNs) {
    long silent = nowNs - lastSeenNs;
    return silent > idleNs || (silent > QUIET_FLOW_NS && pendingRequests() == 0);
  }

  /** Decides protocol and role from ports and this datagram; false when nothing fits. */
  private boolean detect(boolean aSide, byte[] payload, ConnectionTracker.Settings settings) {
    if (groupAddress(ipA) || groupAddress(ipB)) {
      return false;
    }
    Protocols protocols = settings.protocols();
    DatagramProtocol atA = protocols.forDatagramPort(portA);
    DatagramProtocol atB = protocols.forDatagramPort(portB);
    DatagramProtocol chosen = null;
    boolean senderIsClient;
    if (atA != null && atA == atB) {
      chosen = atA;
      // both ports are the protocol's: the content says who asks (a request, or by default the sender)
      senderIsClient = atA.probeDatagram(payload, 0, payload.length) != Protocol.Probe.RESPONSE;
    } else if (atA == null && atB != null || atA != null && atB == null) {
      chosen = atB != null ? atB : atA;
      senderIsClient = (atB != null) == aSide;
    } else {
      senderIsClient = false;
      for (DatagramProtocol p : protocols.datagramProtocols()) {
        Protocol.Probe probe = p.probeDatagram(payload, 0, payload.length);
        if (probe != Protocol.Probe.NO) {
          chosen = p;
          senderIsClient = switch (probe) {
            case REQUEST -> true;
            case RESPONSE -> false;
            default -> (aSide ? portA : portB) > (aSide ? portB : portA); // the higher (ephemeral) port is the client
          };
          break;
        }
      }
      if (chosen == null) {
        return false;
      }
    }
    role = (byte) (senderIsClient == aSide ? 1 : 2);
    protocolName = chosen.name();
    session = chosen.newDatagramSession(settings.sessionLimits());
    return true;
  }

  /** IPv4 multicast (224/4) or limited broadcast, IPv6 multicast (ff00::/8). */
  private static boolean groupAddress(byte[] ip) {
    if (ip.length == 4) {
      return (ip[0] & 0xf0) == 0xe0 || (ip[0] & ip[1] & ip[2] & ip[3]) == (byte) 0xff;
    }
    return ip.length == 16 && ip[0] == (byte) 0xff;
  }

  // ---- state -------------------------------------------------------------------------------

  /** Whether a store value is a UDP flow's state (else a TCP connection's). */
  public static boolean isUdpState(byte[] state) {
    return state.length > 0 && state[0] == FORMAT;
  }

  /**
   * Whether a stream-time sweep at {@code nowNs} has work for this serialised flow: requests
   * waiting, or silent long enough to be dropped. Reads the fixed-position summary only.
   */
  public static boolean needsSweep(byte[] state, long nowNs, long idleNs) {
    if (state.length < 13) {
      return true;
    }
    ByteBuffer b = ByteBuffer.wrap(state);
    long silent = nowNs - b.getLong(1);
    return b.getInt(9) > 0 || silent > Math.min(idleNs, QUIET_FLOW_NS);
  }

  public byte[] toBytes() {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
      DataOutputStream out = new DataOutputStream(bytes);
      out.writeByte(FORMAT);
      // a fixed-position summary first, so sweeps can skip quiet flows without decoding them
      out.writeLong(lastSeenNs);
      out.writeInt(pendingRequests());
      writeEndpoints(out);
      out.writeBoolean(undecodable);
      out.writeInt(unconfirmed);
      out.writeBoolean(confirmed);
      out.writeInt(badInput);
      out.writeLong(firstSeenNs);
      out.writeUTF(protocolName == null ? "" : protocolName);
      if (session != null) {
        session.writeTo(out);
      }
      writeAgentHint(out); // trailing: states written before it still read
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e); // in-memory stream: cannot happen
    }
  }

  /**
   * Restores a flow written by {@link #toBytes}.
   *
   * @throws IOException when the bytes are not a UDP flow of this format
   */
  public static UdpFlowTracker fromBytes(byte[] data, ConnectionTracker.Settings settings) throws IOException {
    DataInputStream in = new DataInputStream(new ByteArrayInputStream(data));
    if (in.readByte() != FORMAT) {
      throw new IOException("not a UDP flow state");
    }
    long lastSeen = in.readLong();
    in.readInt(); // summary: pending requests
    UdpFlowTracker t = new UdpFlowTracker(in);
    t.lastSeenNs = lastSeen;
    t.undecodable = in.readBoolean();
    t.unconfirmed = in.readInt();
    t.confirmed = in.readBoolean();
    t.badInput = in.readInt();
    t.firstSeenNs = in.readLong();
    String proto = in.readUTF();
    if (!proto.isEmpty()) {
      if (!(settings.protocols().byName(proto) instanceof DatagramProtocol p)) {
        throw new IOException("UDP flow state names an unknown protocol: " + proto);
      }
      t.protocolName = proto;
      t.session = p.readDatagramSession(in, settings.sessionLimits());
    }
    if (in.available() > 0) {
      t.readAgentHint(in);
    }
    return t;
  }
}
