package dev.tapflow.stream.protocol.kafka;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * The topics and partitions a request names, summarised for a fact's {@code resource}:
 * {@code orders-3}; {@code orders-0,orders-1}; {@code orders[0..11]}; {@code orders[0..3,7]};
 * several topics joined by commas ({@code orders[0..11],events[0..2]}); more than
 * {@value #MAX_TOPICS_LISTED} topics, or more than {@value #MAX_CHARS} characters, as
 * {@code 5 topics}. Topics without partitions (Metadata, CreateTopics, ...) are their name.
 */
final class KafkaResource {

  /** Topics named one by one; more are counted. */
  static final int MAX_TOPICS_LISTED = 3;
  /** Longest summary; a longer one is counted instead. */
  static final int MAX_CHARS = 200;
  /** Distinct topics remembered while building (a request may name many). */
  private static final int MAX_TRACKED = 1024;

  private final Map<String, TreeSet<Integer>> topics = new LinkedHashMap<>();
  private int untracked;

  void topic(String name) {
    partitions(name);
  }

  void partition(String topic, int partition) {
    TreeSet<Integer> p = partitions(topic);
    if (p != null && p.size() < MAX_TRACKED) {
      p.add(partition);
    }
  }

  private TreeSet<Integer> partitions(String topic) {
    String name = KafkaHeaders.printable(topic == null ? "" : topic);
    TreeSet<Integer> p = topics.get(name);
    if (p == null) {
      if (topics.size() >= MAX_TRACKED) {
        untracked++;
        return null;
      }
      p = new TreeSet<>();
      topics.put(name, p);
    }
    return p;
  }

  boolean isEmpty() {
    return topics.isEmpty();
  }

  /** The summary, or null when no topic was named. */
  String summary() {
    int count = topics.size() + untracked;
    if (count == 0) {
      return null;
    }
    if (count > MAX_TOPICS_LISTED) {
      return count + " topics";
    }
    StringBuilder b = new StringBuilder();
    for (Map.Entry<String, TreeSet<Integer>> e : topics.entrySet()) {
      if (b.length() > 0) {
        b.append(',');
      }
      append(b, e.getKey(), e.getValue());
    }
    if (b.length() > MAX_CHARS) {
      return count == 1 ? clip(topics.keySet().iterator().next()) + "[" + topics.values().iterator().next().size()
          + " partitions]" : count + " topics";
    }
    return b.toString();
  }

  private static String clip(String s) {
    return s.length() <= MAX_CHARS / 2 ? s : s.substring(0, MAX_CHARS / 2) + "...";
  }

  private static void append(StringBuilder b, String topic, TreeSet<Integer> partitions) {
    if (partitions.isEmpty()) {
      b.append(topic);
      return;
    }
    if (partitions.size() <= 2) {
      String sep = "";
      for (int p : partitions) {
        b.append(sep).append(topic).append('-').append(p);
        sep = ",";
      }
      return;
    }
    b.append(topic).append('[');
    Integer start = null;
    int prev = 0;
    String sep = "";
    for (int p : partitions) {
      if (start != null && p == prev + 1) {
        prev = p;
        continue;
      }
      if (start != null) {
        b.append(sep).append(range(start, prev));
        sep = ",";
      }
      start = p;
      prev = p;
    }
    b.append(sep).append(range(start, prev)).append(']');
  }

  private static String range(int from, int to) {
    return from == to ? Integer.toString(from) : to == from + 1 ? from + "," + to : from + ".." + to;
  }
}
