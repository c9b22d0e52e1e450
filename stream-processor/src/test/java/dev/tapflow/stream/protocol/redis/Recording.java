package dev.tapflow.stream.protocol.redis;

import dev.tapflow.stream.protocol.testing.SessionRecording;

/** A SessionOutput that keeps everything, for assertions. */
final class Recording extends SessionRecording {}
