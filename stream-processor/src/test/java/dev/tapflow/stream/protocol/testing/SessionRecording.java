package dev.tapflow.stream.protocol.testing;

import dev.tapflow.protocol.api.Exchange;
import dev.tapflow.protocol.api.SessionOutput;
import java.util.ArrayList;
import java.util.List;

/** A SessionOutput that keeps everything, for assertions. */
public class SessionRecording implements SessionOutput {

  public record Anomaly(String name, boolean clientSide, long streamOffset, String detail) {}

  public final List<Exchange> exchanges = new ArrayList<>();
  public final List<Anomaly> anomalies = new ArrayList<>();

  @Override
  public void exchange(Exchange exchange) {
    exchanges.add(exchange);
  }

  @Override
  public void anomaly(String name, boolean clientSide, long streamOffset, String detail) {
    anomalies.add(new Anomaly(name, clientSide, streamOffset, detail));
  }

  public List<String> anomalyNames() {
    return anomalies.stream().map(Anomaly::name).toList();
  }

  /** "COMMAND STATUS" per exchange, in the order reported. */
  public List<String> summary() {
    return exchanges.stream().map(e -> e.command() + " " + e.status()).toList();
  }
}
