package dev.tapflow.stream.flow;

import dev.tapflow.stream.protocol.Exchange;

/** Where a flow's tracker reports facts' raw material and anomalies, with the flow they belong to. */
public interface FlowOutput {

  void exchange(Flow flow, Exchange exchange);

  /** @param offset a stream offset (TCP) or a datagram's packet number (UDP) */
  void anomaly(Flow flow, String name, boolean clientSide, long offset, String detail);
}
