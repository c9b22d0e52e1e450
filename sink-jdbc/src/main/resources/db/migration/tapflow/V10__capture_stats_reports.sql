-- Capture agents' reports (CaptureStats.avsc, topic tapflow.capture-stats.v1), one row per
-- report, as the sink consumes them. Agents publish cumulative counters (since the agent
-- started), so a lost report loses nothing: the view capture_health takes the differences
-- between consecutive reports of one agent run. Replaces V8's per-interval table, which
-- nothing wrote. New tables and views are readable by tapflow_reader (V9 default privileges).
DROP VIEW capture_health;
DROP TABLE capture_stats;

CREATE TABLE capture_stats (
  agent                   text        NOT NULL,
  started                 timestamptz NOT NULL,
  ts                      timestamptz NOT NULL,
  final                   boolean     NOT NULL,
  packets                 bigint      NOT NULL,
  wire_bytes              bigint      NOT NULL,
  received                bigint      NOT NULL,
  kernel_drops            bigint      NOT NULL,
  if_drops                bigint      NOT NULL,
  truncated               bigint      NOT NULL,
  segments                bigint      NOT NULL,
  payload_bytes           bigint      NOT NULL,
  published_segments      bigint      NOT NULL,
  published_bytes         bigint      NOT NULL,
  producer_error_segments bigint      NOT NULL,
  backlog_drop_segments   bigint      NOT NULL,
  backlog_segments        bigint      NOT NULL,
  backlog_peak_bytes      bigint      NOT NULL,
  in_flight_segments      bigint      NOT NULL,
  interfaces              jsonb       NOT NULL,
  skipped                 jsonb       NOT NULL,
  PRIMARY KEY (agent, started, ts)
);

COMMENT ON TABLE capture_stats IS 'live capture agents'' reports; counters are cumulative since started (one agent run): see the view capture_health for per-minute figures';
COMMENT ON COLUMN capture_stats.received IS 'packets that passed the kernel filter, all interfaces (captured or dropped); on loopback counted once per packet, not per copy';
COMMENT ON COLUMN capture_stats.kernel_drops IS 'packets dropped by the kernel because the capture buffer was full, all interfaces';
COMMENT ON COLUMN capture_stats.if_drops IS 'packets the interfaces themselves dropped since the agent started (rx_dropped, any filter)';
COMMENT ON COLUMN capture_stats.backlog_drop_segments IS 'segments the agent dropped itself because its backlog to Kafka was full';
COMMENT ON COLUMN capture_stats.producer_error_segments IS 'segments the Kafka producer gave up on after its retries';
COMMENT ON COLUMN capture_stats.interfaces IS 'per interface: name, link_type, received, kernel_drops, interface_drops, packets, truncated';
COMMENT ON COLUMN capture_stats.skipped IS 'packets that were no segment, by reason (PURE_ACK, NOT_IP, ...)';

CREATE INDEX capture_stats_ts ON capture_stats (ts);

-- Per agent and minute: what the agents captured and what was lost on the way, from the
-- differences between consecutive reports of each agent run (the first report of a run
-- counts from the run's start). drop_pct: packets lost before tapflow (kernel, interface)
-- plus segments the agent dropped or failed to publish, as a share of all of them.
CREATE VIEW capture_health AS
WITH deltas AS (
  SELECT agent, ts,
         packets - coalesce(lag(packets) OVER w, 0) AS packets,
         received - coalesce(lag(received) OVER w, 0) AS received,
         kernel_drops - coalesce(lag(kernel_drops) OVER w, 0) AS kernel_drops,
         if_drops - coalesce(lag(if_drops) OVER w, 0) AS if_drops,
         segments - coalesce(lag(segments) OVER w, 0) AS segments,
         published_segments - coalesce(lag(published_segments) OVER w, 0) AS segments_published,
         published_bytes - coalesce(lag(published_bytes) OVER w, 0) AS bytes,
         backlog_drop_segments - coalesce(lag(backlog_drop_segments) OVER w, 0) AS backlog_drops,
         producer_error_segments - coalesce(lag(producer_error_segments) OVER w, 0) AS producer_errors,
         backlog_segments
    FROM capture_stats
  WINDOW w AS (PARTITION BY agent, started ORDER BY ts)
)
SELECT agent, date_trunc('minute', ts) AS minute,
       sum(packets) AS packets, sum(kernel_drops) AS kernel_drops, sum(if_drops) AS if_drops,
       sum(backlog_drops) AS backlog_drops, sum(producer_errors) AS producer_errors,
       sum(segments) AS segments, sum(segments_published) AS segments_published, sum(bytes) AS bytes,
       max(backlog_segments) AS backlog_segments_max,
       round(100.0 * (sum(kernel_drops) + sum(if_drops) + sum(backlog_drops) + sum(producer_errors))
             / NULLIF(sum(packets) + sum(kernel_drops) + sum(if_drops), 0), 3) AS drop_pct
  FROM deltas
 GROUP BY agent, date_trunc('minute', ts);

