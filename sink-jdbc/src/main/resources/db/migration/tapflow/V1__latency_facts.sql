-- One row per LatencyFact (schemas/src/main/avro/LatencyFact.avsc): the columns carry the
-- Avro field names exactly, so JSON lines, Avro and SQL speak the same words.
-- Capture times are nanoseconds since the epoch (bigint); ts is the request's first packet
-- time for humans and time-range queries (to_timestamp rounds to the microsecond, and the
-- double it takes can be off by up to 1 us; the *_ns columns are the exact values).
-- Issue 6 will range-partition this table by day; that migration rebuilds it.
CREATE TABLE latency_facts (
  id                text     PRIMARY KEY,
  agent             text     NOT NULL,
  protocol          text     NOT NULL,
  vantage           text     NOT NULL,
  client_ip         text     NOT NULL,
  client_port       integer  NOT NULL,
  server_ip         text     NOT NULL,
  server_port       integer  NOT NULL,
  command           text     NOT NULL,
  resource          text,
  status            text     NOT NULL,
  error             text,
  request_first_ns  bigint   NOT NULL,
  request_last_ns   bigint   NOT NULL,
  response_first_ns bigint,
  response_last_ns  bigint,
  latency_ns        bigint,
  request_bytes     bigint   NOT NULL,
  response_bytes    bigint   NOT NULL DEFAULT 0,
  request_offset    bigint   NOT NULL DEFAULT 0,
  args              text,
  loss              boolean  NOT NULL DEFAULT false,
  ts                timestamptz GENERATED ALWAYS AS (to_timestamp(request_first_ns::double precision / 1e9)) STORED
);

COMMENT ON TABLE latency_facts IS 'one request and its response (or its absence) as seen at one capture point; see LatencyFact.avsc';
COMMENT ON COLUMN latency_facts.latency_ns IS 'response_first_ns - request_last_ns; null without a response';
COMMENT ON COLUMN latency_facts.ts IS 'request_first_ns as a timestamp (microseconds), for humans and time ranges';

-- "what happened between 10:00 and 10:05"
CREATE INDEX latency_facts_ts ON latency_facts (ts);
-- "GET on 10.0.0.5:6379 since ..."
CREATE INDEX latency_facts_server_command ON latency_facts (server_ip, server_port, command, ts);
-- "the slowest requests"
CREATE INDEX latency_facts_latency ON latency_facts (latency_ns);
