package dev.tapflow.protocol.api;

/** How a request ended; mirrors the Avro enum {@code Status} without depending on Avro. */
public enum FactStatus {
  /** answered, and the answer is not an error */
  OK,
  /** answered with an error */
  ERROR,
  /** the protocol says no answer comes (CLIENT REPLY OFF/SKIP, memcached noreply, ...) */
  NO_REPLY,
  /** no answer within the join window, or none before the connection or capture ended */
  TIMEOUT
}
