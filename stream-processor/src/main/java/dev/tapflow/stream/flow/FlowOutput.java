package dev.tapflow.stream.flow;

import dev.tapflow.protocol.api.Exchange;

/** Where a flow's tracker reports facts' raw material and anomalies, with the flow they belong to. */
public interface FlowOutput {

  void exchange(Flow flow, Exchange exchange);

  /** @param offset a stream offset (TCP) or a datagram's packet number (UDP) */
  void anomaly(Flow flow, String name, boolean clientSide, long offset, String detail);

  /**
   * Reassembled client-to-server bytes as they are handed to the flow's protocol session (TCP
   * only), before the session decodes them. For tools that need requests' raw bytes, with
   * {@link #request}; facts do not use it. The array is only valid during the call.
   */
  default void clientBytes(Flow flow, byte[] buf, int off, int len, long streamOffset) {}

  /** The session decoded a whole request ({@link dev.tapflow.protocol.api.SessionOutput#request}). */
  default void request(Flow flow, long streamOffset, long length, long firstNs, long lastNs) {}
}
