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

  @Override public String agent() { return agent; }
  @Override public byte[] clientIp() { return role == 2 ? ipB : ipA; }
  @Override public int clientPort() { return role == 2 ? portB : portA; }
  @Override public byte[] serverIp() { return role == 2 ? ipA : ipB; }
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
