-- latency_facts becomes range-partitioned by day (UTC) of ts: retention drops whole days
-- (--retention-days), and a query on a time range reads only the days it names.
--
-- Primary key (id, ts): a partitioned table's unique keys must contain the partition key.
-- Idempotence is unchanged: ts is derived from request_first_ns, and request_first_ns is
-- one of the inputs of the fact id (a hash over agent, endpoints, the request's first
-- sequence number and request_first_ns), so one id always comes with one ts, and the sink's
-- INSERT ... ON CONFLICT (id, ts) DO NOTHING skips a fact already stored exactly as
-- ON CONFLICT (id) did.
--
-- ts is no longer a generated column (a partition key cannot be one): the sink writes it,
-- request_first_ns truncated to the microsecond. The rows stored before get ts computed the
-- same way (the generated value went through a double and could be 1 us off), so a fact
-- stored before and read again still conflicts on (id, ts).
--
-- Partitions are named latency_facts_pYYYYMMDD and made by latency_facts_partition(day):
-- the sink calls it before inserting a batch that holds a day it has not seen. It creates
-- the table apart and ATTACHes it, which locks latency_facts only in SHARE UPDATE EXCLUSIVE
-- mode: readers and writers go on (CREATE TABLE ... PARTITION OF would lock them out).
-- The existing rows are copied into the partitions of their days.

ALTER TABLE latency_facts RENAME TO latency_facts_v5;
ALTER INDEX latency_facts_pkey RENAME TO latency_facts_v5_pkey;
ALTER INDEX latency_facts_ts RENAME TO latency_facts_v5_ts;
ALTER INDEX latency_facts_server_command RENAME TO latency_facts_v5_server_command;
ALTER INDEX latency_facts_latency RENAME TO latency_facts_v5_latency;

-- The same columns in the same order (LIKE copies ts without its generation expression).
CREATE TABLE latency_facts (LIKE latency_facts_v5 INCLUDING DEFAULTS) PARTITION BY RANGE (ts);
ALTER TABLE latency_facts ALTER COLUMN ts SET NOT NULL;
ALTER TABLE latency_facts ADD PRIMARY KEY (id, ts);

COMMENT ON TABLE latency_facts IS 'one request and its response (or its absence) as seen at one capture point; see LatencyFact.avsc; one partition per UTC day (latency_facts_pYYYYMMDD)';
COMMENT ON COLUMN latency_facts.latency_ns IS 'response_first_ns - request_last_ns; null without a response';
COMMENT ON COLUMN latency_facts.ts IS 'request_first_ns as a timestamp (truncated to the microsecond), for humans, time ranges and partitioning';

-- The partition of one UTC day, created when missing; returns its name.
CREATE FUNCTION latency_facts_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  part text := 'latency_facts_p' || to_char(day, 'YYYYMMDD');
BEGIN
  IF to_regclass(quote_ident(part)) IS NOT NULL THEN
    RETURN part;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE latency_facts INCLUDING DEFAULTS)', part);
  EXECUTE format('ALTER TABLE latency_facts ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part,
                 (day::timestamp AT TIME ZONE 'UTC'), ((day + 1)::timestamp AT TIME ZONE 'UTC'));
  RETURN part;
EXCEPTION WHEN duplicate_table THEN
  RETURN part; -- made meanwhile by another sink
END $$;

-- request_first_ns truncated to the microsecond, exactly (no double in between)
CREATE FUNCTION pg_temp.exact_ts(ns bigint) RETURNS timestamptz LANGUAGE sql IMMUTABLE AS
  $$ SELECT to_timestamp(ns / 1000000000) + (ns / 1000 % 1000000) * interval '1 microsecond' $$;

SELECT latency_facts_partition(d)
  FROM (SELECT DISTINCT (pg_temp.exact_ts(request_first_ns) AT TIME ZONE 'UTC')::date AS d FROM latency_facts_v5) days;

INSERT INTO latency_facts (id, agent, protocol, vantage, client_ip, client_port, server_ip, server_port, command,
                           resource, status, error, request_first_ns, request_last_ns, response_first_ns,
                           response_last_ns, latency_ns, request_bytes, response_bytes, request_offset, args, loss,
                           ts, request_gap, response_gap, pairing, detail)
SELECT id, agent, protocol, vantage, client_ip, client_port, server_ip, server_port, command,
       resource, status, error, request_first_ns, request_last_ns, response_first_ns,
       response_last_ns, latency_ns, request_bytes, response_bytes, request_offset, args, loss,
       pg_temp.exact_ts(request_first_ns), request_gap, response_gap, pairing, detail
  FROM latency_facts_v5;

DROP TABLE latency_facts_v5;

-- Indexes on the parent: every partition gets them (ATTACH builds them on a new one).
-- "what happened between 10:00 and 10:05"
CREATE INDEX latency_facts_ts ON latency_facts (ts);
-- "GET on 10.0.0.5:6379 since ..."
CREATE INDEX latency_facts_server_command ON latency_facts (server_ip, server_port, command, ts);
-- "every slow HGETALL, whatever the server"
CREATE INDEX latency_facts_command ON latency_facts (command, ts);
-- "the slowest requests"
CREATE INDEX latency_facts_latency ON latency_facts (latency_ns);
