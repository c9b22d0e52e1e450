-- The sink's Kafka positions, written in the same transaction as the rows they cover, so
-- the database alone says what it holds: a restarted sink resumes here (exactly once even
-- when the Kafka offset commit after the transaction never happened).
CREATE TABLE sink_offsets (
  group_id        text        NOT NULL,
  topic           text        NOT NULL,
  kafka_partition integer     NOT NULL,
  next_offset     bigint      NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, kafka_partition)
);
