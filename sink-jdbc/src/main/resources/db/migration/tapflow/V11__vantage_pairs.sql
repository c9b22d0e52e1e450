-- The vantage join (VantagePair.avsc, topic tapflow.vantage-pairs.v1): one row per request
-- captured both on the client's host and on the server's, with the client-side latency split
-- into the server's part and the network's. Each agent's times are on its own clock: only
-- differences taken on one clock (the latencies) enter the split. Idempotent on the pair id
-- (derived from both fact ids): a pair read or formed again adds nothing.
CREATE TABLE vantage_pairs (
  id                       text        PRIMARY KEY,
  ts                       timestamptz NOT NULL,
  client_fact_id           text        NOT NULL,
  server_fact_id           text        NOT NULL,
  client_agent             text        NOT NULL,
  server_agent             text        NOT NULL,
  protocol                 text        NOT NULL,
  client_ip                text        NOT NULL,
  client_port              integer     NOT NULL,
  server_ip                text        NOT NULL,
  server_port              integer     NOT NULL,
  command                  text        NOT NULL,
  resource                 text,
  status                   text        NOT NULL,
  request_seq              bigint,
  client_request_first_ns  bigint      NOT NULL,
  client_request_last_ns   bigint      NOT NULL,
  client_response_first_ns bigint      NOT NULL,
  server_request_first_ns  bigint      NOT NULL,
  server_request_last_ns   bigint      NOT NULL,
  server_response_first_ns bigint      NOT NULL,
  client_latency_ns        bigint      NOT NULL,
  server_latency_ns        bigint      NOT NULL,
  network_ns               bigint      NOT NULL,
  clock_offset_ns          bigint      NOT NULL,
  loss                     boolean     NOT NULL DEFAULT false
);

COMMENT ON TABLE vantage_pairs IS 'requests seen by an agent on the client''s host and one on the server''s: network_ns = client_latency_ns - server_latency_ns';
COMMENT ON COLUMN vantage_pairs.ts IS 'the client agent''s request time (client_request_first_ns), to the microsecond';
COMMENT ON COLUMN vantage_pairs.clock_offset_ns IS 'NTP estimate of the server agent''s clock minus the client agent''s: ((T2 - T1) + (T3 - T4)) / 2 with T1 client_request_last_ns, T2 server_request_last_ns, T3 server_response_first_ns, T4 client_response_first_ns; off by at most network_ns / 2';

CREATE INDEX vantage_pairs_ts ON vantage_pairs (ts);
CREATE INDEX vantage_pairs_agents ON vantage_pairs (client_agent, server_agent, ts);

INSERT INTO tapflow_settings VALUES
  ('clock_skew_threshold', '1 ms', 'agent pairs whose estimated clock offset is beyond this are flagged in vantage_clock_skew (an interval)'),
  ('clock_skew_min_pairs', '10', 'pairs an agent pair needs before its offset is judged in vantage_clock_skew');

-- Clock skew per agent pair (client agent, server agent), over every stored pair (filter
-- vantage_pairs by ts for a period). offset_ms: the median offset of the pairs whose network
-- time is at most the agent pair's lower quartile (a pair's offset is wrong by at most half
-- its network time: retransmissions and queueing make that large; NTP's clock filter keeps
-- the quickest exchanges for the same reason). causality_violations: pairs whose raw times
-- are impossible (the server got the request before the client sent it, or answered after
-- the client got the answer): the clocks differ by more than the one-way delay.
-- violations_after_correction: the same once the server's times are moved by the estimate.
-- skewed: at least clock_skew_min_pairs pairs and |offset| beyond clock_skew_threshold, or any
-- causality violation.
CREATE VIEW vantage_clock_skew AS
WITH q AS (
  SELECT client_agent, server_agent,
         percentile_disc(0.25) WITHIN GROUP (ORDER BY network_ns) AS network_q1
    FROM vantage_pairs GROUP BY client_agent, server_agent
), est AS (
  SELECT p.client_agent, p.server_agent,
         percentile_disc(0.5) WITHIN GROUP (ORDER BY p.clock_offset_ns) AS offset_ns
    FROM vantage_pairs p JOIN q USING (client_agent, server_agent)
   WHERE p.network_ns <= q.network_q1
   GROUP BY p.client_agent, p.server_agent
), settings AS (
  SELECT (SELECT (extract(epoch FROM value::interval) * 1e9)::bigint FROM tapflow_settings
           WHERE name = 'clock_skew_threshold') AS threshold_ns,
         (SELECT value::bigint FROM tapflow_settings WHERE name = 'clock_skew_min_pairs') AS min_pairs
)
SELECT p.client_agent, p.server_agent, count(*) AS pairs,
       round(e.offset_ns / 1e6, 3) AS offset_ms,
       round((percentile_disc(0.5) WITHIN GROUP (ORDER BY p.clock_offset_ns)) / 1e6, 3) AS median_offset_all_ms,
       round(min(p.clock_offset_ns) / 1e6, 3) AS min_offset_ms, round(max(p.clock_offset_ns) / 1e6, 3) AS max_offset_ms,
       count(*) FILTER (WHERE p.server_request_last_ns < p.client_request_last_ns
                           OR p.server_response_first_ns > p.client_response_first_ns) AS causality_violations,
       count(*) FILTER (WHERE p.server_request_last_ns - e.offset_ns < p.client_request_last_ns
                           OR p.server_response_first_ns - e.offset_ns > p.client_response_first_ns)
         AS violations_after_correction,
       (count(*) >= s.min_pairs AND abs(e.offset_ns) > s.threshold_ns)
         OR count(*) FILTER (WHERE p.server_request_last_ns < p.client_request_last_ns
                                OR p.server_response_first_ns > p.client_response_first_ns) > 0 AS skewed,
       min(p.ts) AS first_pair, max(p.ts) AS last_pair
  FROM vantage_pairs p
  JOIN est e USING (client_agent, server_agent)
  CROSS JOIN settings s
 GROUP BY p.client_agent, p.server_agent, e.offset_ns, s.threshold_ns, s.min_pairs;

-- LatencyFact.request_seq: the absolute TCP sequence number of the request's first byte (the
-- vantage join's key; null on UDP and for facts stored before it existed).
ALTER TABLE latency_facts ADD COLUMN request_seq bigint;
COMMENT ON COLUMN latency_facts.request_seq IS 'TCP: absolute sequence number of the request''s first byte, the same at every capture point of the connection; null on UDP';
