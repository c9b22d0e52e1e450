package dev.tapflow.cli;

import picocli.CommandLine.Option;

/** The Prometheus endpoint of the long-running roles: capture, process, sink and local. */
final class MetricsOptions {

  @Option(names = "--metrics-port", paramLabel = "PORT",
      description = "Serve Prometheus metrics on http://ADDRESS:PORT/metrics (counters, drops, lag, batch times, "
          + "Kafka client and Kafka Streams metrics, JVM). Default: off.")
  Integer port;

  @Option(names = "--metrics-address", defaultValue = "0.0.0.0", paramLabel = "ADDRESS",
      description = "Address the metrics endpoint listens on. Default: ${DEFAULT-VALUE}.")
  String address;

  /** The endpoint, started; or one that only collects (nothing listens) when no port is given. */
  MetricsEndpoint start(String role) {
    if (port != null && (port < 0 || port > 65535)) {
      throw new UserError("--metrics-port " + port + ": not a port number");
    }
    return MetricsEndpoint.start(role, address, port);
  }
}
