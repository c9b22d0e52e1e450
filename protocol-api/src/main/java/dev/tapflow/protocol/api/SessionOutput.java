package dev.tapflow.protocol.api;

/** Where a protocol session reports what it decoded. Implementations must not throw. */
public interface SessionOutput {

  /** A request is complete: answered, known to get no answer, or given up on. */
  void exchange(Exchange exchange);

  /**
   * Something in the stream was not as the protocol allows, or a limit was hit.
   *
   * @param name         a stable upper-case name, e.g. {@code RESP_BULK_TOO_LONG}
   * @param clientSide   which direction the bytes were in
   * @param streamOffset where in that direction's stream
   * @param detail       short human-readable detail (never payload secrets), may be null
   */
  void anomaly(String name, boolean clientSide, long streamOffset, String detail);

  /**
   * A whole request was decoded, before it is paired: where it lies in the client-to-server
   * stream and when it was captured. Reported in wire order, so a tool that holds the stream's
   * bytes can cut each request out of it ({@code tapflow replay}); facts do not use it.
   *
   * @param streamOffset offset of the request's first byte in the client-to-server stream
   * @param length       bytes of the request on the wire (a storage command's data block included)
   */
  default void request(long streamOffset, long length, long firstNs, long lastNs) {}
}
