package dev.tapflow.cli.replay;

import java.util.Map;
import java.util.TreeMap;

/** {@code --dry-run}: what a replay would send — per command, connections, duration — without connecting. */
public final class DryRun implements CapturedRequests.Sink {

  private final double speed;
  private final Map<String, CommandStats> commands = new TreeMap<>();
  private final Map<String, Map<String, Long>> skipped = new TreeMap<>();
  /** captured connections with a request to replay, by number (numbers are dense) */
  private final java.util.BitSet connections = new java.util.BitSet();
  private long minTs = Long.MAX_VALUE;
  private long maxTs = Long.MIN_VALUE;

  /** @param speed the pacing factor, or 0 for as fast as possible */
  public DryRun(double speed) {
    this.speed = speed;
  }

  @Override
  public void request(CapturedRequest r) {
    commands.computeIfAbsent(r.command(), c -> new CommandStats()).recordOriginal(r);
    connections.set((int) r.connection());
    minTs = Math.min(minTs, r.tsNs());
    maxTs = Math.max(maxTs, r.tsNs());
  }

  @Override
  public void connectionEnded(long connection) {}

  @Override
  public void skipped(String command, String reason) {
    skipped.computeIfAbsent(command, c -> new TreeMap<>()).merge(reason, 1L, Long::sum);
  }

  public ReplayResult result() {
    long original = minTs > maxTs ? 0 : maxTs - minTs;
    return new ReplayResult(true, commands, skipped, connections.cardinality(), 0, Map.of(), original,
        speed > 0 ? (long) (original / speed) : 0, -1, -1, Map.of());
  }
}
