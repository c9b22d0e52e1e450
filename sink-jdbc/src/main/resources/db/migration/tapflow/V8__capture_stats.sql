-- Capture agents' health per interval (topic tapflow.capture-stats.v1, written by the agent
-- that captures live). The sink does not consume that topic yet: the table and the view
-- capture_health exist so queries and dashboards can be written against them now.
CREATE TABLE capture_stats (
  agent              text        NOT NULL,
  interval_start     timestamptz NOT NULL,
  packets            bigint      NOT NULL DEFAULT 0,
  kernel_drops       bigint      NOT NULL DEFAULT 0,
  if_drops           bigint      NOT NULL DEFAULT 0,
  segments_published bigint      NOT NULL DEFAULT 0,
  bytes              bigint      NOT NULL DEFAULT 0,
  producer_errors    bigint      NOT NULL DEFAULT 0,
  backlog_drops      bigint      NOT NULL DEFAULT 0,
  PRIMARY KEY (agent, interval_start)
);

COMMENT ON COLUMN capture_stats.packets IS 'packets the agent received from libpcap in the interval';
COMMENT ON COLUMN capture_stats.kernel_drops IS 'dropped by the kernel (no buffer space: libpcap ps_drop)';
COMMENT ON COLUMN capture_stats.if_drops IS 'dropped by the interface or its driver (libpcap ps_ifdrop)';
COMMENT ON COLUMN capture_stats.backlog_drops IS 'dropped by the agent itself: its queue to Kafka was full';
