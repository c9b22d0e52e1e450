package dev.tapflow.stream.protocol.memcached;

import dev.tapflow.stream.protocol.testing.SessionRecording;

/** A SessionOutput that keeps everything, for assertions, and the session's retrieval counts. */
final class Recording extends SessionRecording {

  /** the session's retrieval hits and misses at the end of the run */
  long hits;
  long misses;
}
