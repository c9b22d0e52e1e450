package dev.tapflow.stream.protocol;

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
}
