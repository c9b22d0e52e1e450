package dev.tapflow.sink;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;

/**
 * A record of the facts topic the sink could not store, kept in
 * {@code sink_rejected_records} with its raw bytes (see V2 migration).
 *
 * <p>This table is the sink's dead-letter store; it does not also send to
 * {@code tapflow.dead-letters.v1} (the stream processor's): a reject is written in the same
 * PostgreSQL transaction as the batch and its consumer positions, so it is stored exactly once
 * however the sink is stopped, which a Kafka produce beside that transaction could not promise;
 * and it is where the rest of the sink's output is, queryable with {@code tapflow sql}.
 */
record RejectedRecord(String topic, int partition, long offset, String reason, byte[] key, byte[] value) {

  private static final String INSERT = "INSERT INTO sink_rejected_records"
      + " (topic, kafka_partition, kafka_offset, reason, record_key, record_value)"
      + " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING";

  String where() {
    return topic + "-" + partition + "@" + offset;
  }

  /** Inserts in the caller's transaction. */
  static void insert(Connection c, List<RejectedRecord> rejects) throws SQLException {
    if (rejects.isEmpty()) {
      return;
    }
    try (PreparedStatement ps = c.prepareStatement(INSERT)) {
      for (RejectedRecord r : rejects) {
        ps.setString(1, r.topic);
        ps.setInt(2, r.partition);
        ps.setLong(3, r.offset);
        ps.setString(4, r.reason.replace('\0', '?')); // text columns refuse NUL
        ps.setBytes(5, r.key);
        ps.setBytes(6, r.value);
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }
}
