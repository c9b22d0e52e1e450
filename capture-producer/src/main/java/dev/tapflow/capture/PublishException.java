package dev.tapflow.capture;

/**
 * Records could not be delivered to Kafka. Reported by {@link KafkaSegmentPublisher#flush()}
 * and {@link KafkaSegmentPublisher#close()}; the message says how many failed and the first
 * error, in one line.
 */
public final class PublishException extends Exception {
  private static final long serialVersionUID = 1L;

  private final long failed;

  public PublishException(String message, long failed, Throwable firstError) {
    super(message, firstError);
    this.failed = failed;
  }

  /** Records that failed. */
  public long failed() {
    return failed;
  }
}
