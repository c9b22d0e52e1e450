package dev.tapflow.cli.replay;

import java.util.Map;

/**
 * What a replay did (or, for a dry run, would do).
 *
 * @param commands          per command (as on facts): count sent and latencies; sorted by name
 * @param skipped           per command: reason -> requests not sent
 * @param connections       captured connections replayed
 * @param targetConnections connections opened to the target (0 for a dry run)
 * @param ownCommands       requests the replayer sent of its own (AUTH per target connection), by command
 * @param originalNs        capture time from the first replayed request to the last
 * @param replayNs          measured time from the first send to the last (a dry run: original / speed)
 * @param lagP99Ns          paced replays: how late requests left against their schedule, 99th percentile (ns), else -1
 * @param lagMaxNs          paced replays: the latest a request left against its schedule (ns), else -1
 * @param anomalies         decode anomalies on the target's replies, by name (none expected)
 */
public record ReplayResult(boolean dryRun, Map<String, CommandStats> commands, Map<String, Map<String, Long>> skipped,
    long connections, long targetConnections, Map<String, Long> ownCommands, long originalNs, long replayNs,
    long lagP99Ns, long lagMaxNs, Map<String, Long> anomalies) {

  public long sent() {
    return commands.values().stream().mapToLong(CommandStats::count).sum();
  }

  public long skippedTotal() {
    return skipped.values().stream().flatMap(m -> m.values().stream()).mapToLong(Long::longValue).sum();
  }

  /** Requests sent per second of replay, over the first send to the last. */
  public double ratePerSecond() {
    return replayNs <= 0 ? 0 : sent() * 1e9 / replayNs;
  }
}
