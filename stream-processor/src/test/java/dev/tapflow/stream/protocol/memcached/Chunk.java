package dev.tapflow.stream.protocol.memcached;

/** Bytes one side of one connection sent, as captured (a recv() or a TCP segment's payload). */
record Chunk(String connection, boolean client, long tsNs, byte[] bytes) {}
