package dev.tapflow.sink;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import org.apache.kafka.common.TopicPartition;

/**
 * The sink's consumer positions in PostgreSQL ({@code sink_offsets}): stored in the
 * transaction that stores the rows, read back when partitions are assigned. All SQL is
 * parameterised.
 */
final class SinkOffsets {
  private static final String UPSERT = "INSERT INTO sink_offsets (group_id, topic, kafka_partition, next_offset)"
      + " VALUES (?, ?, ?, ?) ON CONFLICT (group_id, topic, kafka_partition) DO UPDATE"
      + " SET next_offset = GREATEST(sink_offsets.next_offset, EXCLUDED.next_offset), updated_at = now()";
  private static final String SELECT = "SELECT next_offset FROM sink_offsets"
      + " WHERE group_id = ? AND topic = ? AND kafka_partition = ?";

  private SinkOffsets() {}

  /** Stores next offsets (never moving one backwards), inside the caller's transaction. */
  static void store(Connection c, String groupId, Map<TopicPartition, Long> next) throws SQLException {
    if (next.isEmpty()) {
      return;
    }
    try (PreparedStatement ps = c.prepareStatement(UPSERT)) {
      for (Map.Entry<TopicPartition, Long> e : next.entrySet()) {
        ps.setString(1, groupId);
        ps.setString(2, e.getKey().topic());
        ps.setInt(3, e.getKey().partition());
        ps.setLong(4, e.getValue());
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  /** The stored next offsets of those partitions that have one. */
  static Map<TopicPartition, Long> load(Connection c, String groupId, Collection<TopicPartition> partitions)
      throws SQLException {
    Map<TopicPartition, Long> out = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement(SELECT)) {
      for (TopicPartition tp : partitions) {
        ps.setString(1, groupId);
        ps.setString(2, tp.topic());
        ps.setInt(3, tp.partition());
        try (ResultSet rs = ps.executeQuery()) {
          if (rs.next()) {
            out.put(tp, rs.getLong(1));
          }
        }
      }
    }
    return out;
  }
}
