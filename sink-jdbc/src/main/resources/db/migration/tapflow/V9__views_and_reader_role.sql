-- Settings read by the views; change them with UPDATE.
CREATE TABLE tapflow_settings (
  name        text PRIMARY KEY,
  value       text NOT NULL,
  description text NOT NULL
);
INSERT INTO tapflow_settings VALUES
  ('slow_threshold', '10 ms', 'requests at least this slow are in the view slow_commands (an interval: 500 us, 10 ms, 1 s)');

-- The slow requests: facts whose latency is at least tapflow_settings.slow_threshold.
-- The threshold is read once per query, so the latency index serves it.
CREATE VIEW slow_commands AS
SELECT ts, agent, protocol, client_ip, client_port, server_ip, server_port, command, resource, status, error,
       latency_ns / 1e6 AS latency_ms, request_bytes, response_bytes, loss, id
  FROM latency_facts
 WHERE latency_ns >= (SELECT (extract(epoch FROM value::interval) * 1e9)::bigint
                        FROM tapflow_settings WHERE name = 'slow_threshold');

-- Percentiles per minute, agent, server endpoint and command, from the 1-minute latency
-- windows (percentiles within 0.1%, max exact). Percentiles over several minutes, servers or
-- agents cannot be added up in SQL: merge the histograms (tapflow top does).
CREATE VIEW latency_by_minute AS
SELECT window_start AS minute, agent, protocol, server_ip, server_port, command,
       count, errors, timeouts, latency_count,
       p50_ns / 1e6 AS p50_ms, p90_ns / 1e6 AS p90_ms, p99_ns / 1e6 AS p99_ms, latency_max_ns / 1e6 AS max_ms,
       latency_sum_ns / 1e6 / NULLIF(latency_count, 0) AS mean_ms,
       request_bytes, response_bytes
  FROM latency_windows
 WHERE window_ms = 60000;

-- Drops per agent and minute: packets lost before tapflow saw them (kernel, interface) and
-- by the agent itself (backlog), as a share of all packets offered.
CREATE VIEW capture_health AS
SELECT agent, date_trunc('minute', interval_start) AS minute,
       sum(packets) AS packets, sum(kernel_drops) AS kernel_drops, sum(if_drops) AS if_drops,
       sum(backlog_drops) AS backlog_drops, sum(producer_errors) AS producer_errors,
       sum(segments_published) AS segments_published, sum(bytes) AS bytes,
       round(100.0 * (sum(kernel_drops) + sum(if_drops) + sum(backlog_drops))
             / NULLIF(sum(packets) + sum(kernel_drops) + sum(if_drops) + sum(backlog_drops), 0), 3) AS drop_pct
  FROM capture_stats
 GROUP BY agent, date_trunc('minute', interval_start);

-- tapflow_reader: a role that can read tapflow's tables and views and nothing else;
-- tapflow sql switches to it (SET ROLE) on top of its read-only transaction. Made only
-- where the migrating role may create roles (the embedded database's may); elsewhere a
-- DBA can run this block, and tapflow sql relies on the read-only transaction alone.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'tapflow_reader') THEN
    IF NOT (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) THEN
      RAISE NOTICE 'role tapflow_reader not created: % may not create roles', current_user;
      RETURN;
    END IF;
    CREATE ROLE tapflow_reader NOLOGIN;
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO tapflow_reader', current_schema());
  EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO tapflow_reader', current_schema());
  -- tables made later by this role (new migrations, day partitions) too
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO tapflow_reader', current_schema());
  -- to SET ROLE to it (since PostgreSQL 16 the creator holds only ADMIN on a role it made)
  BEGIN
    EXECUTE format('GRANT tapflow_reader TO %I', current_user);
  EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'tapflow_reader exists but % may not grant it to itself', current_user;
  END;
END $$;
