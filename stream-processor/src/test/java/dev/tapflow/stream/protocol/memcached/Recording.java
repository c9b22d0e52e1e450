package dev.tapflow.stream.protocol.memcached;

import dev.tapflow.stream.protocol.Exchange;
import dev.tapflow.stream.protocol.SessionOutput;
import java.util.ArrayList;
import java.util.List;

/** A SessionOutput that keeps everything, for assertions. */
final class Recording implements SessionOutput {

  record Anomaly(String name, boolean clientSide, long streamOffset, String detail) {}

  final List<Exchange> exchanges = new ArrayList<>();
  final List<Anomaly> anomalies = new ArrayList<>();
  /** the session's retrieval hits and misses at the end of the run */
  long hits;
  long misses;

  @Override
  public void exchange(Exchange exchange) {
    exchanges.add(exchange);
  }

  @Override
  public void anomaly(String name, boolean clientSide, long streamOffset, String detail) {
    anomalies.add(new Anomaly(name, clientSide, streamOffset, detail));
  }

  List<String> anomalyNames() {
    return anomalies.stream().map(Anomaly::name).toList();
  }

  /** "COMMAND STATUS" per exchange, in the order reported. */
  List<String> summary() {
    return exchanges.stream().map(e -> e.command() + " " + e.status()).toList();
  }
}
