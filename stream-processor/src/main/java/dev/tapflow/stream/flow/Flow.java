package dev.tapflow.stream.flow;

/**
 * One TCP connection or UDP flow as its facts name it: the agent that saw it, which side is
 * the client, which protocol it speaks.
 */
public interface Flow {

  String agent();

  byte[] clientIp();

  int clientPort();

  byte[] serverIp();

  int serverPort();

  /** {@link #clientIp()} as text (dotted IPv4, RFC 5952 IPv6). */
  default String clientIpText() {
    return dev.tapflow.stream.topology.IpText.of(clientIp());
  }

  /** {@link #serverIp()} as text. */
  default String serverIpText() {
    return dev.tapflow.stream.topology.IpText.of(serverIp());
  }

  /** The decoded protocol's name, or null while unknown. */
  String protocol();

  /**
   * Which side of the connection the capture point was on: {@code client}, {@code server} or
   * {@code unknown}; see {@link TrackedFlow#vantage()} for the rule.
   */
  default String vantage() {
    return "unknown";
  }

  /** TCP: the absolute sequence number of a client-to-server stream offset; null on UDP. */
  default Long requestSeq(long requestOffset) {
    return null;
  }

  /** Capture time of the latest packet seen. */
  long lastSeenNs();

  /**
   * Where a request starts, as part of its fact's identity, from its {@code requestOffset}:
   * on TCP the absolute sequence number of its first byte, on UDP the packet number of its
   * datagram. Either is the same however far into the flow processing started.
   */
  long requestPosition(long requestOffset);
}
