-- Latency windows (LatencyWindow.avsc, topic tapflow.latency-1m.v1): per agent, protocol,
-- server endpoint, command and window of request time, the counts, bytes and the latency
-- histogram. The stream processor publishes one part per task that saw the group; the sink
-- merges the parts into one row (counters added, histograms added) and recomputes the
-- percentiles; parts lists the parts merged, so a part read again adds nothing.
CREATE TABLE latency_windows (
  agent           text        NOT NULL,
  protocol        text        NOT NULL,
  server_ip       text        NOT NULL,
  server_port     integer     NOT NULL,
  command         text        NOT NULL,
  window_start    timestamptz NOT NULL,
  window_ms       integer     NOT NULL,
  count           bigint      NOT NULL,
  errors          bigint      NOT NULL,
  timeouts        bigint      NOT NULL,
  request_bytes   bigint      NOT NULL,
  response_bytes  bigint      NOT NULL,
  latency_count   bigint      NOT NULL,
  latency_sum_ns  bigint      NOT NULL,
  latency_min_ns  bigint,
  latency_max_ns  bigint,
  p50_ns          bigint,
  p90_ns          bigint,
  p99_ns          bigint,
  histogram       bytea       NOT NULL,
  parts           integer[]   NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (agent, protocol, server_ip, server_port, command, window_ms, window_start)
);

COMMENT ON TABLE latency_windows IS 'latency per agent, server endpoint, command and window of request time; see LatencyWindow.avsc';
COMMENT ON COLUMN latency_windows.count IS 'facts of any status; latency_count of them have a latency (OK, ERROR)';
COMMENT ON COLUMN latency_windows.p50_ns IS 'from the histogram: within 0.1% of the exact nearest-rank percentile (p90_ns, p99_ns alike)';
COMMENT ON COLUMN latency_windows.latency_max_ns IS 'exact';
COMMENT ON COLUMN latency_windows.histogram IS 'HdrHistogram of latency_ns, compressed V2 encoding, 3 significant digits: merge rows by adding histograms (tapflow top does)';
COMMENT ON COLUMN latency_windows.parts IS 'stream-processor parts (segment partitions) merged into this row';

CREATE INDEX latency_windows_start ON latency_windows (window_start);
CREATE INDEX latency_windows_server ON latency_windows (server_ip, server_port, command, window_start);
