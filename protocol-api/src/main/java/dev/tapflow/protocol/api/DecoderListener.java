package dev.tapflow.protocol.api;

/**
 * What a one-direction decoder reports: whole messages, and named anomalies with their
 * stream offset. The message object may be reused after {@link #message} returns.
 */
public interface DecoderListener<M> {

  void message(M message);

  void anomaly(String name, long streamOffset, String detail);
}
