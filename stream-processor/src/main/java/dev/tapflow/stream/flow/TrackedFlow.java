package dev.tapflow.stream.flow;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * What the trackers of both transports share: who is who on the flow (the agent that saw it,
 * its two endpoints in the connection key's canonical order, "a" and "b", and — once decided
 * — which of them is the client), and whether the protocol chosen for it has been confirmed
 * by an exchange or met bad input first (the evidence for giving up on it).
 */
public abstract class TrackedFlow implements Flow {

  protected final String agent;
  protected final byte[] ipA;
  protected final int portA;
  protected final byte[] ipB;
  protected final int portB;
  /** 0 unknown, 1 a is the client, 2 b is the client */
  protected byte role;
  /** the session produced an exchange: the protocol is confirmed */
  protected boolean confirmed;
  /** anomalies of bad input (not gaps) the session raised before it was confirmed */
  protected int badInput;
  /** the agent's --vantage on its latest batch: 0 auto, 1 client, 2 server */
  protected byte vantageSetting;
  /** which endpoints are the capturing host's own addresses (bit 1: a, bit 2: b; 0 unknown), from the latest batch */
  protected byte localEndpoints;
  /** The endpoints' addresses as text, made once per tracker (every fact of the flow names both; not saved). */
  private String textA;
  private String textB;

  protected TrackedFlow(String agent, byte[] ipA, int portA, byte[] ipB, int portB) {
    this.agent = agent;
    this.ipA = ipA;
    this.portA = portA;
    this.ipB = ipB;
    this.portB = portB;
  }

  /** Reads what {@link #writeEndpoints} wrote. */
  protected TrackedFlow(DataInput in) throws IOException {
    agent = in.readUTF();
    ipA = new byte[in.readUnsignedByte()];
    in.readFully(ipA);
    portA = in.readUnsignedShort();
    ipB = new byte[in.readUnsignedByte()];
    in.readFully(ipB);
    portB = in.readUnsignedShort();
    role = in.readByte();
  }

  protected void writeEndpoints(DataOutput out) throws IOException {
    out.writeUTF(agent);
    out.writeByte(ipA.length);
    out.write(ipA);
    out.writeShort(portA);
    out.writeByte(ipB.length);
    out.write(ipB);
    out.writeShort(portB);
    out.writeByte(role);
  }

  /** What the agent said on a batch of this flow: its --vantage (0 auto, 1 client, 2 server) and its local endpoints. */
  public void agentHint(int vantageSetting, int localEndpoints) {
    this.vantageSetting = (byte) vantageSetting;
    this.localEndpoints = (byte) localEndpoints;
  }

  /**
   * The vantage rule, first answer wins:
   * <ol>
   *   <li>the agent's explicit {@code --vantage client|server};</li>
   *   <li>the live agent's own addresses: the server's address is local and the client's is
   *       not: {@code server}; the reverse: {@code client};</li>
   *   <li>client and server at the same address (loopback, one host): {@code unknown} — the
   *       capture is at both ends at once;</li>
   *   <li>the transport's own evidence ({@link #vantageEvidence()}: the TCP handshake's timing);</li>
   *   <li>else {@code unknown}.</li>
   * </ol>
   */
  @Override
  public String vantage() {
    if (vantageSetting == 1) {
      return "client";
    }
    if (vantageSetting == 2) {
      return "server";
    }
    if (role == 0) {
      return "unknown";
    }
    boolean clientLocal = (localEndpoints & (role == 1 ? 1 : 2)) != 0;
    boolean serverLocal = (localEndpoints & (role == 1 ? 2 : 1)) != 0;
    if (clientLocal != serverLocal) {
      return clientLocal ? "client" : "server";
    }
    if (java.util.Arrays.equals(ipA, ipB)) {
      return "unknown";
    }
    return vantageEvidence();
  }

  /** What the transport itself shows of the vantage; {@code unknown} unless a subclass knows better. */
  protected String vantageEvidence() {
    return "unknown";
  }

  /** Writes the agent's vantage hint (a trailing block: states written before it existed simply lack it). */
  protected void writeAgentHint(DataOutput out) throws IOException {
    out.writeByte(vantageSetting);
    out.writeByte(localEndpoints);
  }

  /** Reads what {@link #writeAgentHint} wrote. */
  protected void readAgentHint(DataInput in) throws IOException {
    vantageSetting = in.readByte();
    localEndpoints = in.readByte();
  }

  @Override public String agent() { return agent; }
  @Override public byte[] clientIp() { return role == 2 ? ipB : ipA; }
  @Override public int clientPort() { return role == 2 ? portB : portA; }
  @Override public byte[] serverIp() { return role == 2 ? ipA : ipB; }
  @Override public String clientIpText() { return role == 2 ? textB() : textA(); }
  @Override public String serverIpText() { return role == 2 ? textA() : textB(); }

  private String textA() {
    if (textA == null) {
      textA = dev.tapflow.stream.topology.IpText.of(ipA);
    }
    return textA;
  }

  private String textB() {
    if (textB == null) {
      textB = dev.tapflow.stream.topology.IpText.of(ipB);
    }
    return textB;
  }
  @Override public int serverPort() { return role == 2 ? portA : portB; }
  public boolean roleKnown() { return role != 0; }

  /** Whether endpoint a ({@code aSide}) or b is the client; meaningful once the role is known. */
  protected boolean isClient(boolean aSide) {
    return (role == 1) == aSide;
  }

  /** The session's output: reports go to {@code out} with this flow; an exchange confirms the protocol, bad input before that is counted. */
  protected SessionOutput bind(FlowOutput out) {
    return new SessionOutput() {
      @Override
      public void exchange(Exchange exchange) {
        confirmed = true;
        out.exchange(TrackedFlow.this, exchange);
      }

      @Override
      public void anomaly(String name, boolean clientSide, long offset, String detail) {
        if (!confirmed && !name.endsWith("_GAP")) {
          badInput++;
        }
        out.anomaly(TrackedFlow.this, name, clientSide, offset, detail);
      }

      @Override
      public void request(long streamOffset, long length, long firstNs, long lastNs) {
        out.request(TrackedFlow.this, streamOffset, length, firstNs, lastNs);
      }
    };
  }
}
