-- Records of the facts topic the sink could not store: undecodable bytes, or a row the
-- database refused (e.g. a NUL character in text). Kept with their raw bytes so nothing
-- is lost silently; the sink logs each one with topic/partition/offset and counts it.
CREATE TABLE sink_rejected_records (
  topic           text        NOT NULL,
  kafka_partition integer     NOT NULL,
  kafka_offset    bigint      NOT NULL,
  reason          text        NOT NULL,
  record_key      bytea,
  record_value    bytea,
  rejected_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, kafka_partition, kafka_offset)
);
