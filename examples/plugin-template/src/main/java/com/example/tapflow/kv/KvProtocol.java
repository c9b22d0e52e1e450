package com.example.tapflow.kv;

import dev.tapflow.protocol.api.Protocol;
import dev.tapflow.protocol.api.ProtocolSession;
import dev.tapflow.protocol.api.SessionLimits;
import java.io.DataInput;
import java.io.IOException;

/**
 * A protocol plug-in for "kv", a tiny line protocol (the template's example; replace it with
 * yours): a request is one line {@code COMMAND [key [value...]]\r\n}, its answer one line
 * {@code OK [...]} or {@code ERR <text>}, in order. What tapflow needs to know:
 *
 * <ul>
 *   <li>{@link #name()}: the name on facts and in {@code --protocol kv=PORT};
 *   <li>{@link #defaultPorts()}: server ports decoded without configuration;
 *   <li>{@link #probe}: whether the first bytes of an unknown connection look like it, and
 *       from which side (keep it strict: it decides connections on ports nobody named);
 *   <li>{@link #newSession} / {@link #readSession}: one connection's decoding and pairing
 *       state ({@link KvSession}), new or read back from the processor's state store.
 * </ul>
 *
 * Found by {@link java.util.ServiceLoader}: {@code META-INF/services/dev.tapflow.protocol.api.Protocol}
 * names this class.
 */
public final class KvProtocol implements Protocol {

  static final String NAME = "kv";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int[] defaultPorts() {
    return new int[] {7070};
  }

  @Override
  public Probe probe(byte[] buf, int off, int len) {
    int lf = Protocol.firstLineFeed(buf, off, len, 512);
    if (lf <= off || buf[lf - 1] != '\r') {
      return Probe.NO;
    }
    String first = new String(buf, off, lf - 1 - off, java.nio.charset.StandardCharsets.ISO_8859_1);
    if (first.equals("OK") || first.startsWith("OK ") || first.startsWith("ERR ")) {
      return Probe.RESPONSE;
    }
    // GET and DEL take one key, SET a key and a value: "GET / HTTP/1.1" is not kv
    return first.matches("(GET|DEL) [^ ]+|SET [^ ]+ .+") && !first.contains(" HTTP/") ? Probe.REQUEST : Probe.NO;
  }

  @Override
  public ProtocolSession newSession(SessionLimits limits) {
    return new KvSession(limits);
  }

  @Override
  public ProtocolSession readSession(DataInput in, SessionLimits limits) throws IOException {
    return KvSession.read(in, limits);
  }
}
