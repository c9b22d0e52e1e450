package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The rule {@code tapflow topics} applies to the number of partitions (README, Partitions). */
class PartitionRuleTest {

  @Test
  void atLeastEveryThreadAndAMultipleOfTwelve() {
    for (int processors = 1; processors <= 64; processors++) {
      for (int threads = 1; threads <= 4; threads++) {
        int p = Topics.partitionsFor(processors, threads);
        assertTrue(p >= processors * threads, "a task for every thread: " + processors + " x " + threads + " -> " + p);
        assertEquals(0, p % 12, "a multiple of 12: " + p);
        assertTrue(p - 12 < Math.max(12, processors * threads), "the smallest such: " + p);
        for (int n : new int[] {1, 2, 3, 4, 6, 12}) {
          assertEquals(0, p % n, n + " instances share " + p + " partitions evenly");
        }
      }
    }
    assertEquals(12, Topics.partitionsFor(4, 1), "the default (--max-processors 4) keeps the old 12");
  }

  @Test
  void minInsyncReplicasLeaveOneReplicaToLose() {
    assertEquals(1, Topics.minInsyncReplicas((short) 1));
    assertEquals(1, Topics.minInsyncReplicas((short) 2));
    assertEquals(2, Topics.minInsyncReplicas((short) 3));
    assertEquals(2, Topics.minInsyncReplicas((short) 5));
  }
}
