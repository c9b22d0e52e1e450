package dev.tapflow.cli;

import picocli.CommandLine.Option;

/** How long the sink keeps facts; shared by sink and local. */
final class RetentionOptions {

  @Option(names = "--retention-days", defaultValue = "0", paramLabel = "N",
      description = "Keep N days of facts: older day partitions of latency_facts are dropped (at start, then hourly) "
          + "and older facts are not stored. 0 keeps everything. Default: ${DEFAULT-VALUE}.")
  int retentionDays;

  int days() {
    if (retentionDays < 0) {
      throw new UserError("--retention-days must be 0 or more");
    }
    return retentionDays;
  }
}
