package dev.tapflow.stream.protocol;

import dev.tapflow.protocol.api.DatagramProtocol;
import dev.tapflow.protocol.api.DatagramSession;
import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;

/**
 * A plug-in protocol behind a wall: whatever its probe or session throws (an exception, a
 * stack overflow, a missing class) stays with the one connection it was decoding. The session
 * reports {@link #PLUGIN_FAILED} once, with the throwable's class and message, drops the
 * plug-in's state and ignores the rest of the connection; the processor and every other
 * connection go on. A probe that throws answers NO.
 *
 * <p>State written to the store: one byte (0 = healthy, followed by the plug-in's own state;
 * 1 = failed), so a failed connection stays failed after a restart.
 */
public class IsolatedProtocol implements Protocol {

  /** Anomaly: a plug-in threw while decoding this connection; its connection is no longer decoded. */
  public static final String PLUGIN_FAILED = "PLUGIN_FAILED";

  /** Characters of the throwable's message kept in the anomaly's detail. */
  private static final int DETAIL_MAX = 200;

  final Protocol inner;

  IsolatedProtocol(Protocol inner) {
    this.inner = inner;
  }

  static Protocol wrap(Protocol p) {
    return p instanceof DatagramProtocol d ? new Datagram(d) : new IsolatedProtocol(p);
  }

  /** The plug-in's own class, for listings. */
  public Protocol plugin() {
    return inner;
  }

  @Override public String name() { return inner.name(); }

  @Override public String version() { return inner.version(); }

  @Override
  public int[] defaultPorts() {
    return inner.defaultPorts().clone();
  }

  @Override
  public Probe probe(byte[] buf, int off, int len) {
    try {
      Probe p = inner.probe(buf, off, len);
      return p == null ? Probe.NO : p;
    } catch (Throwable t) {
      rethrowIfFatal(t);
      return Probe.NO;
    }
  }

  @Override
  public ProtocolSession newSession(SessionLimits limits) {
    return open(inner.name(), s -> s.stream = inner.newSession(limits));
  }

  @Override
  public ProtocolSession readSession(DataInput in, SessionLimits limits) throws IOException {
    return restore(inner.name(), in, s -> s.stream = inner.readSession(in, limits));
  }

  /** How a session's plug-in part is made or read back; may throw anything. */
  private interface Start {
    void into(Session s) throws IOException;
  }

  /** A new session; a plug-in that throws while making its part leaves it failed. */
  static Session open(String name, Start start) {
    Session s = new Session(name);
    try {
      start.into(s);
    } catch (Throwable t) {
      s.fail(t);
    }
    return s;
  }

  /** A session read back from the store (see the class comment for the format). */
  static Session restore(String name, DataInput in, Start start) throws IOException {
    if (in.readByte() != 0) {
      Session s = new Session(name);
      s.failed = true;
      return s;
    }
    Session s = new Session(name);
    try {
      start.into(s);
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      s.fail(t);
    }
    return s;
  }

  /** A plug-in that also runs over UDP. */
  static final class Datagram extends IsolatedProtocol implements DatagramProtocol {
    private final DatagramProtocol d;

    Datagram(DatagramProtocol d) {
      super(d);
      this.d = d;
    }

    @Override
    public int[] defaultDatagramPorts() {
      return d.defaultDatagramPorts().clone();
    }

    @Override
    public Probe probeDatagram(byte[] buf, int off, int len) {
      try {
        Probe p = d.probeDatagram(buf, off, len);
        return p == null ? Probe.NO : p;
      } catch (Throwable t) {
        rethrowIfFatal(t);
        return Probe.NO;
      }
    }

    @Override
    public DatagramSession newDatagramSession(SessionLimits limits) {
      return open(d.name(), s -> s.datagram = d.newDatagramSession(limits));
    }

    @Override
    public DatagramSession readDatagramSession(DataInput in, SessionLimits limits) throws IOException {
      return restore(d.name(), in, s -> s.datagram = d.readDatagramSession(in, limits));
    }
  }

  /** Out of memory is the process's problem, not the connection's. */
  static void rethrowIfFatal(Throwable t) {
    if (t instanceof VirtualMachineError && !(t instanceof StackOverflowError)) {
      throw (VirtualMachineError) t;
    }
  }

  /** One connection's (or UDP flow's) plug-in session, or what is left of it after it threw. */
  static final class Session implements ProtocolSession, DatagramSession {
    private final String protocol;
    ProtocolSession stream;
    DatagramSession datagram;
    boolean failed;
    /** why it failed, until the anomaly has been reported (a failure in a factory has no output) */
    private String unreported;

    Session(String protocol) {
      this.protocol = protocol;
    }

    void fail(Throwable t) {
      rethrowIfFatal(t);
      failed = true;
      stream = null;
      datagram = null;
      String msg = String.valueOf(t.getMessage());
      unreported = protocol + " plug-in threw " + t.getClass().getName() + ": "
          + (msg.length() > DETAIL_MAX ? msg.substring(0, DETAIL_MAX) : msg) + "; connection no longer decoded";
    }

    /** True while the plug-in may be called; reports a pending failure otherwise. */
    private boolean live(boolean clientSide, long offset, SessionOutput out) {
      if (unreported != null && out != null) {
        String d = unreported;
        unreported = null;
        out.anomaly(PLUGIN_FAILED, clientSide, offset, d);
      }
      return !failed;
    }

    private void failed(Throwable t, boolean clientSide, long offset, SessionOutput out) {
      fail(t);
      live(clientSide, offset, out);
    }

    @Override
    public String protocol() {
      return protocol;
    }

    @Override
    public void clientData(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput out) {
      if (live(true, streamOffset, out)) {
        try {
          stream.clientData(buf, off, len, streamOffset, tsNs, out);
        } catch (Throwable t) {
          failed(t, true, streamOffset, out);
        }
      }
    }

    @Override
    public void serverData(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput out) {
      if (live(false, streamOffset, out)) {
        try {
          stream.serverData(buf, off, len, streamOffset, tsNs, out);
        } catch (Throwable t) {
          failed(t, false, streamOffset, out);
        }
      }
    }

    @Override
    public void gap(boolean clientSide, long streamOffset, long length, long tsNs, SessionOutput out) {
      if (live(clientSide, streamOffset, out)) {
        try {
          stream.gap(clientSide, streamOffset, length, tsNs, out);
        } catch (Throwable t) {
          failed(t, clientSide, streamOffset, out);
        }
      }
    }

    @Override
    public void clientDatagram(byte[] buf, int off, int len, long position, boolean cut, long tsNs, SessionOutput out) {
      if (live(true, position, out)) {
        try {
          datagram.clientDatagram(buf, off, len, position, cut, tsNs, out);
        } catch (Throwable t) {
          failed(t, true, position, out);
        }
      }
    }

    @Override
    public void serverDatagram(byte[] buf, int off, int len, long position, boolean cut, long tsNs, SessionOutput out) {
      if (live(false, position, out)) {
        try {
          datagram.serverDatagram(buf, off, len, position, cut, tsNs, out);
        } catch (Throwable t) {
          failed(t, false, position, out);
        }
      }
    }

    private dev.tapflow.protocol.api.PairingSession inner() {
      return stream != null ? stream : datagram;
    }

    @Override
    public void expire(long deadlineNs, SessionOutput out) {
      if (live(true, -1, out)) {
        try {
          inner().expire(deadlineNs, out);
        } catch (Throwable t) {
          failed(t, true, -1, out);
        }
      }
    }

    @Override
    public void close(long tsNs, SessionOutput out) {
      if (live(true, -1, out)) {
        try {
          inner().close(tsNs, out);
        } catch (Throwable t) {
          failed(t, true, -1, out);
        }
      }
    }

    @Override
    public int pendingRequests() {
      if (failed) {
        return 0;
      }
      try {
        return inner().pendingRequests();
      } catch (Throwable t) {
        fail(t);
        return 0;
      }
    }

    @Override
    public void writeTo(DataOutput out) throws IOException {
      if (!failed) {
        // the plug-in writes into a buffer first, so that a throw cannot leave half a state behind
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try {
          inner().writeTo(new java.io.DataOutputStream(bytes));
          out.writeByte(0);
          out.write(bytes.toByteArray());
          return;
        } catch (Throwable t) {
          fail(t);
        }
      }
      out.writeByte(1);
    }
  }
}
