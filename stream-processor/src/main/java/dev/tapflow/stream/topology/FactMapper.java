package dev.tapflow.stream.topology;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.stream.flow.Flow;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** Turns a connection's or UDP flow's exchange into the {@link LatencyFact} published on the facts topic. */
public final class FactMapper {

  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  private FactMapper() {}

  public static LatencyFact toFact(Flow conn, Exchange ex) {
    LatencyFact f = toFactWithoutId(conn, ex);
    f.setId(factId(conn, ex));
    return f;
  }

  /** As {@link #toFact}, with the id left null (set it with {@link #factId} before the fact goes anywhere). */
  static LatencyFact toFactWithoutId(Flow conn, Exchange ex) {
    // every field set here, those of a response only with one (their default is null): no
    // builder, whose per-field default values (deep copies) were a tenth of analyze's fact cost
    LatencyFact f = new LatencyFact();
    f.setAgent(conn.agent());
    f.setProtocol(conn.protocol());
    f.setVantage(conn.vantage());
    f.setClientIp(conn.clientIpText());
    f.setClientPort(conn.clientPort());
    f.setServerIp(conn.serverIpText());
    f.setServerPort(conn.serverPort());
    f.setCommand(ex.command());
    f.setResource(ex.resource());
    f.setArgs(ex.args());
    f.setStatus(STATUS[ex.status().ordinal()]);
    f.setError(ex.error());
    f.setRequestFirstNs(ex.requestFirstNs());
    f.setRequestLastNs(ex.requestLastNs());
    f.setRequestBytes(ex.requestBytes());
    f.setResponseBytes(ex.responseBytes());
    f.setRequestOffset(ex.requestOffset());
    f.setLoss(ex.loss());
    f.setRequestGap(ex.requestGap());
    f.setResponseGap(ex.responseGap());
    f.setPairing(ex.pairing().factName());
    f.setDetail(ex.detail());
    f.setRequestSeq(conn.requestSeq(ex.requestOffset()));
    if (ex.hasResponse()) {
      f.setResponseFirstNs(ex.responseFirstNs());
      f.setResponseLastNs(ex.responseLastNs());
      f.setLatencyNs(ex.responseFirstNs() - ex.requestLastNs());
    }
    return f;
  }

  /** The fact's status for each of the protocol API's, by ordinal (same names). */
  private static final Status[] STATUS = java.util.Arrays.stream(dev.tapflow.protocol.api.FactStatus.values())
      .map(s -> Status.valueOf(s.name())).toArray(Status[]::new);

  public static DecodeError toDecodeError(Flow conn, String name, boolean clientSide,
      long streamOffset, String detail) {
    return DecodeError.newBuilder()
        .setAgent(conn.agent())
        .setProtocol(conn.protocol())
        .setClientIp(conn.clientIpText())
        .setClientPort(conn.clientPort())
        .setServerIp(conn.serverIpText())
        .setServerPort(conn.serverPort())
        .setName(name)
        .setClientSide(clientSide)
        .setStreamOffset(streamOffset)
        .setDetail(detail)
        .setTsNs(conn.lastSeenNs())
        .build();
  }

  /**
   * Deterministic identity of a request: agent, both endpoints, where it starts (TCP: the
   * absolute sequence number of its first byte; UDP: its datagram's packet number, see
   * {@link Flow#requestPosition}) and its capture time. The same request processed again
   * (reprocessing a time range, a retry after a crash) gets the same id, wherever processing started.
   */
  static String factId(Flow conn, Exchange ex) {
    IdDigest id = ID_DIGEST.get();
    byte[] agent = id.agentBytes(conn.agent());
    byte[] clientIp = conn.clientIp();
    byte[] serverIp = conn.serverIp();
    ByteBuffer in = id.input(agent.length + 1 + clientIp.length + 4 + serverIp.length + 4 + 16);
    in.put(agent).put((byte) 0)
        .put(clientIp).putInt(conn.clientPort())
        .put(serverIp).putInt(conn.serverPort())
        .putLong(conn.requestPosition(ex.requestOffset()))
        .putLong(ex.requestFirstNs());
    MessageDigest sha = id.sha;
    sha.update(in.array(), 0, in.position());
    return first128Hex(sha);
  }

  static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required of every JVM", e);
    }
  }

  /** The digest's first 128 bits as 32 hex digits: the form of fact and pair ids. */
  static String first128Hex(MessageDigest sha) {
    byte[] d = sha.digest();
    byte[] out = new byte[32];
    for (int i = 0; i < 16; i++) {
      out[2 * i] = HEX[(d[i] >> 4) & 0xf];
      out[2 * i + 1] = HEX[d[i] & 0xf];
    }
    return new String(out, StandardCharsets.ISO_8859_1);
  }

  private static final ThreadLocal<IdDigest> ID_DIGEST = ThreadLocal.withInitial(IdDigest::new);

  /**
   * A thread's SHA-256 and input buffer for fact ids ({@code MessageDigest.getInstance} and a
   * one-byte {@code update} per input byte were a tenth of {@code tapflow analyze}'s profile),
   * and the UTF-8 bytes of the last agent name (one agent per capture file).
   */
  private static final class IdDigest {
    final MessageDigest sha;
    ByteBuffer input = ByteBuffer.allocate(128);
    String agent;
    byte[] agentBytes;

    IdDigest() {
      sha = sha256();
    }

    byte[] agentBytes(String name) {
      if (!name.equals(agent)) {
        agent = name;
        agentBytes = name.getBytes(StandardCharsets.UTF_8);
      }
      return agentBytes;
    }

    ByteBuffer input(int size) {
      if (input.capacity() < size) {
        input = ByteBuffer.allocate(size);
      }
      return input.clear();
    }
  }
}
