package dev.tapflow.protocol.api;

/**
 * One request and what answered it, as a protocol session reports it: protocol-neutral and
 * free of connection identity (the connection tracker adds endpoints, agent, vantage and the
 * fact id). Times are capture times in ns since the epoch; stream offsets count bytes of the
 * client-to-server stream from the first byte tapflow saw of it.
 *
 * @param command         upper-cased command as sent (GET, CLIENT, ...); never null
 * @param resource        key / topic / query name after redaction, or null
 * @param args            the remaining arguments, truncated and redacted, or null
 * @param status          OK, ERROR, NO_REPLY (the protocol says no reply comes) or TIMEOUT
 * @param error           the server's error text or code, or null
 * @param requestOffset   stream offset of the request's first byte (identity of the fact)
 * @param responseFirstNs capture time of the response's first packet, or -1 without a response
 * @param responseLastNs  capture time of the response's last packet, or -1 without a response
 * @param requestGap      bytes of the request itself were not captured (its command is known)
 * @param responseGap     bytes of the response were not captured, or a gap may have held it
 * @param pairing         how the response was found
 * @param detail          protocol detail for the fact's {@code detail} map (small, bounded; never secrets), never null
 */
public record Exchange(
    String command,
    String resource,
    String args,
    FactStatus status,
    String error,
    long requestOffset,
    long requestFirstNs,
    long requestLastNs,
    long requestBytes,
    long responseFirstNs,
    long responseLastNs,
    long responseBytes,
    boolean requestGap,
    boolean responseGap,
    Pairing pairing,
    java.util.Map<String, String> detail) {

  /** An exchange without protocol detail. */
  public Exchange(String command, String resource, String args, FactStatus status, String error, long requestOffset,
      long requestFirstNs, long requestLastNs, long requestBytes, long responseFirstNs, long responseLastNs,
      long responseBytes, boolean requestGap, boolean responseGap, Pairing pairing) {
    this(command, resource, args, status, error, requestOffset, requestFirstNs, requestLastNs, requestBytes,
        responseFirstNs, responseLastNs, responseBytes, requestGap, responseGap, pairing, java.util.Map.of());
  }

  /** How a response was matched to its request. */
  public enum Pairing {
    /** by position on the connection (the protocol answers in order) */
    ORDER,
    /** by position, right after requests lost in a gap: exact for clients that wait for each reply; inside a pipelined batch possibly shifted, never beyond the batch */
    AFTER_GAP,
    /** by an id the protocol carries (memcached binary opaque, Kafka correlation id, DNS id) */
    ID,
    /** no response: TIMEOUT or NO_REPLY */
    NONE;

    private final String factName = name().toLowerCase(java.util.Locale.ROOT);

    /** The name on facts: {@code order}, {@code after_gap}, {@code id}, {@code none}. */
    public String factName() {
      return factName; // made once: a fact asks for it, and toLowerCase was 2% of analyze
    }
  }

  public boolean hasResponse() {
    return responseFirstNs >= 0;
  }

  /** Bytes of the request or its response were lost at capture. */
  public boolean loss() {
    return requestGap || responseGap;
  }
}
