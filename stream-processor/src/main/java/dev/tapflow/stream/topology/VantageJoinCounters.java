package dev.tapflow.stream.topology;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/** What the vantage join of one application did, summed over its tasks (for metrics and tests). */
public final class VantageJoinCounters {
  final LongAdder pairs = new LongAdder();
  final LongAdder causalityViolations = new LongAdder();
  /** per "client_agent -> server_agent": the latest median clock offset a task computed, ns */
  final Map<String, Long> medianOffsetNs = new ConcurrentHashMap<>();
  /** per "client_agent -> server_agent": whether the latest judgement was "skewed" */
  final Map<String, Boolean> skewed = new ConcurrentHashMap<>();

  /** Pairs published. */
  public long pairs() {
    return pairs.sum();
  }

  /** Pairs whose raw times break causality: the server's request time before the client's, or its answer after the client got it. */
  public long causalityViolations() {
    return causalityViolations.sum();
  }

  /** The latest median clock offset (server agent minus client agent) per agent pair judged so far, ns. */
  public Map<String, Long> medianOffsetsNs() {
    return new TreeMap<>(medianOffsetNs);
  }

  /** Agent pairs (as "client -> server") currently judged skewed. */
  public java.util.Set<String> skewedAgentPairs() {
    java.util.Set<String> out = new java.util.TreeSet<>();
    skewed.forEach((k, v) -> {
      if (v) {
        out.add(k);
      }
    });
    return out;
  }
}
