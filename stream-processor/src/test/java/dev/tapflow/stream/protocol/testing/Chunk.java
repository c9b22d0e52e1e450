package dev.tapflow.stream.protocol.testing;

/** Bytes one side of one connection sent, as captured (a recv() or a TCP segment's payload). */
public record Chunk(String connection, boolean client, long tsNs, byte[] bytes) {}
