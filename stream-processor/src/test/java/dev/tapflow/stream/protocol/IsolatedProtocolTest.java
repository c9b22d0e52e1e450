package dev.tapflow.stream.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.protocol.api.SessionOutput;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataInputStream;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A plug-in that throws loses its own connection and nothing else: one PLUGIN_FAILED anomaly,
 * then the connection is ignored, also after its state went through the store. The built-ins
 * are found by ServiceLoader, in their service file's order, and are not wrapped.
 */
class IsolatedProtocolTest {

  /** Throws on the n-th client call, or in its probe / factory when told to. */
  static final class Faulty implements Protocol {
    final int throwOnCall;
    final boolean throwInFactory;

    Faulty(int throwOnCall, boolean throwInFactory) {
      this.throwOnCall = throwOnCall;
      this.throwInFactory = throwInFactory;
    }

    @Override public String name() { return "faulty"; }

    @Override public int[] defaultPorts() { return new int[] {4242}; }

    @Override
    public Probe probe(byte[] buf, int off, int len) {
      throw new IllegalStateException("probe bug");
    }

    @Override
    public ProtocolSession newSession(SessionLimits limits) {
      if (throwInFactory) {
        throw new NoClassDefFoundError("com/example/Missing");
      }
      return new FaultySession(throwOnCall);
    }

    @Override
    public ProtocolSession readSession(DataInput in, SessionLimits limits) throws IOException {
      return new FaultySession(in.readInt());
    }
  }

  static final class FaultySession implements ProtocolSession {
    private final int throwOnCall;
    private int calls;

    FaultySession(int throwOnCall) {
      this.throwOnCall = throwOnCall;
    }

    @Override
    public void clientData(byte[] buf, int off, int len, long streamOffset, long tsNs, SessionOutput out) {
      if (++calls == throwOnCall) {
        throw new ArrayIndexOutOfBoundsException("decoder bug");
      }
      out.exchange(new Exchange("X", null, null, dev.tapflow.protocol.api.FactStatus.NO_REPLY, null, streamOffset,
          tsNs, tsNs, len, -1, -1, 0, false, false, Exchange.Pairing.NONE));
    }

    @Override public void serverData(byte[] b, int o, int l, long s, long t, SessionOutput out) {}

    @Override public void gap(boolean c, long s, long l, long t, SessionOutput out) {}

    @Override public String protocol() { return "faulty"; }

    @Override public void expire(long deadlineNs, SessionOutput out) {}

    @Override public void close(long tsNs, SessionOutput out) {}

    @Override public int pendingRequests() { return 1; }

    @Override
    public void writeTo(DataOutput out) throws IOException {
      out.writeInt(throwOnCall);
    }
  }

  static final class Recording implements SessionOutput {
    final List<Exchange> exchanges = new ArrayList<>();
    final List<String> anomalies = new ArrayList<>();

    @Override public void exchange(Exchange e) { exchanges.add(e); }

    @Override
    public void anomaly(String name, boolean clientSide, long streamOffset, String detail) {
      anomalies.add(name + "@" + streamOffset + " " + detail);
    }
  }

  private static final byte[] BYTES = {'a', 'b', 'c'};

  @Test
  void aThrowingSessionReportsOnceAndIsIgnoredAfterwardsAlsoAfterTheStore() throws IOException {
    Protocol p = IsolatedProtocol.wrap(new Faulty(2, false));
    Recording out = new Recording();
    ProtocolSession s = p.newSession(SessionLimits.DEFAULTS);
    s.clientData(BYTES, 0, 3, 0, 1, out);
    assertEquals(1, s.pendingRequests());
    s.clientData(BYTES, 0, 3, 3, 2, out);
    s.clientData(BYTES, 0, 3, 6, 3, out);
    s.close(4, out);
    assertEquals(1, out.exchanges.size());
    assertEquals(1, out.anomalies.size(), out.anomalies.toString());
    assertTrue(out.anomalies.get(0).startsWith("PLUGIN_FAILED@3 faulty plug-in threw java.lang.ArrayIndexOutOfBoundsException: decoder bug"),
        out.anomalies.toString());
    assertEquals(0, s.pendingRequests());

    ByteArrayOutputStream state = new ByteArrayOutputStream();
    s.writeTo(new DataOutputStream(state));
    ProtocolSession back = p.readSession(new DataInputStream(new ByteArrayInputStream(state.toByteArray())),
        SessionLimits.DEFAULTS);
    back.clientData(BYTES, 0, 3, 9, 5, out);
    assertEquals(1, out.exchanges.size(), "still ignored after the store");
    assertEquals(1, out.anomalies.size());
  }

  @Test
  void aHealthySessionGoesThroughTheStoreUnchanged() throws IOException {
    Protocol p = IsolatedProtocol.wrap(new Faulty(3, false));
    Recording out = new Recording();
    ProtocolSession s = p.newSession(SessionLimits.DEFAULTS);
    s.clientData(BYTES, 0, 3, 0, 1, out);
    ByteArrayOutputStream state = new ByteArrayOutputStream();
    s.writeTo(new DataOutputStream(state));
    ProtocolSession back = p.readSession(new DataInputStream(new ByteArrayInputStream(state.toByteArray())),
        SessionLimits.DEFAULTS);
    back.clientData(BYTES, 0, 3, 3, 2, out); // its first call after the restore
    assertEquals(2, out.exchanges.size());
    assertEquals(List.of(), out.anomalies);
  }

  @Test
  void aThrowingProbeIsNoAndAThrowingFactoryIsReportedAtTheFirstBytes() {
    Protocol p = IsolatedProtocol.wrap(new Faulty(1, true));
    assertEquals(Protocol.Probe.NO, p.probe(BYTES, 0, 3));
    Recording out = new Recording();
    ProtocolSession s = p.newSession(SessionLimits.DEFAULTS);
    s.clientData(BYTES, 0, 3, 0, 1, out);
    s.clientData(BYTES, 0, 3, 3, 2, out);
    assertEquals(1, out.anomalies.size());
    assertTrue(out.anomalies.get(0).contains("NoClassDefFoundError"), out.anomalies.toString());
    assertTrue(out.exchanges.isEmpty());
  }

  @Test
  void builtInsComeFromTheServiceFileInProbeOrderAndAreNotWrapped() {
    ProtocolCatalog c = ProtocolCatalog.load(List.of());
    assertEquals(List.of("redis", "memcached", "dns", "kafka"),
        c.entries().stream().map(ProtocolCatalog.Entry::name).toList());
    c.entries().forEach(e -> {
      assertTrue(e.builtIn());
      assertFalse(e.protocol() instanceof IsolatedProtocol);
      assertEquals("built-in", e.source());
    });
    assertEquals(List.of(), c.problems());
    Protocols ps = c.protocols(Map.of("redis", List.of(6380)));
    assertEquals("redis", ps.forPort(6380).name());
    assertEquals("dns", ps.forDatagramPort(53).name());
  }

  @Test
  void aMissingPluginsFolderIsNoProblemAndAJarThatIsNotOneIs(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws IOException {
    assertEquals(List.of(), ProtocolCatalog.load(List.of(dir.resolve("none"))).problems());
    java.nio.file.Files.writeString(dir.resolve("broken.jar"), "not a jar");
    ProtocolCatalog c = ProtocolCatalog.load(List.of(dir));
    assertEquals(4, c.entries().size(), "the built-ins still load");
  }
}
