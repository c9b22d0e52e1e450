-- Protocol detail on facts (LatencyFact.detail): a flat map of strings whose names each
-- protocol documents (memcached hits/misses, Kafka api_version/client_id, DNS rcode/answers).
ALTER TABLE latency_facts ADD COLUMN detail jsonb NOT NULL DEFAULT '{}';
