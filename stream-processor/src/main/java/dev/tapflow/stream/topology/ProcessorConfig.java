package dev.tapflow.stream.topology;

import dev.tapflow.stream.protocol.Protocols;
import dev.tapflow.protocol.api.SessionLimits;
import dev.tapflow.stream.tcp.ConnectionTracker;
import dev.tapflow.stream.tcp.ReassemblyLimits;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * What the connection processor needs to know; the same values drive {@code tapflow
 * analyze}, so both produce the same facts.
 *
 * @param segmentsTopic     input, default {@code tapflow.segments.v1}
 * @param factsTopic        output, default {@code tapflow.facts.v1}
 * @param decodeErrorsTopic anomalies, default {@code tapflow.decode-errors.v1}
 * @param window            how long a request waits for its response before it becomes a
 *                          TIMEOUT fact, in capture time (default 60 s)
 * @param punctuateInterval how often, in stream time, connections are swept for timeouts (default 5 s)
 * @param idleEviction      a connection silent this long (capture time) is closed and its
 *                          state dropped (default 10 min)
 * @param serverPorts       extra server ports per protocol name, e.g. redis -> [6380]
 * @param keyPolicy         what facts keep of their resource and args (default keep), see {@link KeyPolicy}
 */
public record ProcessorConfig(
    String segmentsTopic,
    String factsTopic,
    String decodeErrorsTopic,
    Duration window,
    Duration punctuateInterval,
    Duration idleEviction,
    Map<String, List<Integer>> serverPorts,
    SessionLimits sessionLimits,
    ReassemblyLimits reassemblyLimits,
    KeyPolicy keyPolicy) {

  public static final String SEGMENTS_TOPIC = "tapflow.segments.v1";
  public static final String FACTS_TOPIC = "tapflow.facts.v1";
  public static final String DECODE_ERRORS_TOPIC = "tapflow.decode-errors.v1";
  public static final String CONNECTIONS_STORE = "connections";

  public static ProcessorConfig defaults() {
    return new ProcessorConfig(SEGMENTS_TOPIC, FACTS_TOPIC, DECODE_ERRORS_TOPIC,
        Duration.ofSeconds(60), Duration.ofSeconds(5), Duration.ofMinutes(10), Map.of(),
        SessionLimits.DEFAULTS, ReassemblyLimits.DEFAULTS, KeyPolicy.KEEP);
  }

  public ProcessorConfig withWindow(Duration w) {
    return new ProcessorConfig(segmentsTopic, factsTopic, decodeErrorsTopic, w, punctuateInterval,
        idleEviction, serverPorts, sessionLimits, reassemblyLimits, keyPolicy);
  }

  public ProcessorConfig withServerPorts(Map<String, List<Integer>> ports) {
    return new ProcessorConfig(segmentsTopic, factsTopic, decodeErrorsTopic, window, punctuateInterval,
        idleEviction, ports, sessionLimits, reassemblyLimits, keyPolicy);
  }

  public ProcessorConfig withTopics(String segments, String facts, String decodeErrors) {
    return new ProcessorConfig(segments, facts, decodeErrors, window, punctuateInterval,
        idleEviction, serverPorts, sessionLimits, reassemblyLimits, keyPolicy);
  }

  /** As this, with values kept in facts' args or not (see {@link SessionLimits#keepValues}). */
  public ProcessorConfig withKeepValues(boolean keep) {
    return new ProcessorConfig(segmentsTopic, factsTopic, decodeErrorsTopic, window, punctuateInterval,
        idleEviction, serverPorts, sessionLimits.withKeepValues(keep), reassemblyLimits, keyPolicy);
  }

  public ProcessorConfig withKeyPolicy(KeyPolicy policy) {
    return new ProcessorConfig(segmentsTopic, factsTopic, decodeErrorsTopic, window, punctuateInterval,
        idleEviction, serverPorts, sessionLimits, reassemblyLimits, policy);
  }

  /**
   * The protocols with their server ports.
   *
   * @throws IllegalArgumentException when {@link #serverPorts} names an unknown protocol
   */
  public Protocols protocols() {
    return Protocols.installed(serverPorts);
  }

  /** The settings every connection tracker of this configuration shares (also used by {@code tapflow replay}). */
  public ConnectionTracker.Settings trackerSettings() {
    return new ConnectionTracker.Settings(protocols(), sessionLimits, reassemblyLimits);
  }
}
