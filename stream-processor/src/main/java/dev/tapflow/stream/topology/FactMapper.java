package dev.tapflow.stream.topology;

import dev.tapflow.schemas.DecodeError;
import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.stream.flow.Flow;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** Turns a connection's or UDP flow's exchange into the {@link LatencyFact} published on the facts topic. */
public final class FactMapper {

  private static final char[] HEX = "0123456789abcdef".toCharArray();

  private FactMapper() {}

  public static LatencyFact toFact(Flow conn, Exchange ex) {
    LatencyFact.Builder b = LatencyFact.newBuilder()
        .setId(factId(conn, ex))
        .setAgent(conn.agent())
        .setProtocol(conn.protocol())
        .setVantage(conn.vantage())
        .setClientIp(IpText.of(conn.clientIp()))
        .setClientPort(conn.clientPort())
        .setServerIp(IpText.of(conn.serverIp()))
        .setServerPort(conn.serverPort())
        .setCommand(ex.command())
        .setResource(ex.resource())
        .setArgs(ex.args())
        .setStatus(Status.valueOf(ex.status().name()))
        .setError(ex.error())
        .setRequestFirstNs(ex.requestFirstNs())
        .setRequestLastNs(ex.requestLastNs())
        .setRequestBytes(ex.requestBytes())
        .setResponseBytes(ex.responseBytes())
        .setRequestOffset(ex.requestOffset())
        .setLoss(ex.loss())
        .setRequestGap(ex.requestGap())
        .setResponseGap(ex.responseGap())
        .setPairing(ex.pairing().factName())
        .setDetail(ex.detail())
        .setRequestSeq(conn.requestSeq(ex.requestOffset()));
    if (ex.hasResponse()) {
      b.setResponseFirstNs(ex.responseFirstNs())
          .setResponseLastNs(ex.responseLastNs())
          .setLatencyNs(ex.responseFirstNs() - ex.requestLastNs());
    }
    return b.build();
  }

  public static DecodeError toDecodeError(Flow conn, String name, boolean clientSide,
      long streamOffset, String detail) {
    return DecodeError.newBuilder()
        .setAgent(conn.agent())
        .setProtocol(conn.protocol())
        .setClientIp(IpText.of(conn.clientIp()))
        .setClientPort(conn.clientPort())
        .setServerIp(IpText.of(conn.serverIp()))
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
    MessageDigest sha = sha256();
    sha.update(conn.agent().getBytes(StandardCharsets.UTF_8));
    sha.update((byte) 0);
    sha.update(conn.clientIp());
    putInt(sha, conn.clientPort());
    sha.update(conn.serverIp());
    putInt(sha, conn.serverPort());
    putLong(sha, conn.requestPosition(ex.requestOffset()));
    putLong(sha, ex.requestFirstNs());
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
    char[] out = new char[32];
    for (int i = 0; i < 16; i++) {
      out[2 * i] = HEX[(d[i] >> 4) & 0xf];
      out[2 * i + 1] = HEX[d[i] & 0xf];
    }
    return new String(out);
  }

  private static void putInt(MessageDigest sha, int v) {
    sha.update((byte) (v >>> 24));
    sha.update((byte) (v >>> 16));
    sha.update((byte) (v >>> 8));
    sha.update((byte) v);
  }

  private static void putLong(MessageDigest sha, long v) {
    putInt(sha, (int) (v >>> 32));
    putInt(sha, (int) v);
  }
}
