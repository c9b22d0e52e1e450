package dev.tapflow.cli.replay;

import dev.tapflow.protocol.api.FactStatus;

/**
 * One request cut out of a captured connection, ready to be sent again, with what happened
 * to it in the capture.
 *
 * @param connection        the captured connection's number in this replay (from 1)
 * @param command           as on facts: {@code GET}, {@code CLIENT}, memcached {@code SET}, {@code GetKQ}
 * @param bytes             the request exactly as the client sent it
 * @param tsNs              capture time of its first byte (its place in the schedule)
 * @param originalStatus    how it ended in the capture
 * @param originalError     the server's error text in the capture, or null
 * @param originalLatencyNs captured latency (response's first byte − request's last byte), or -1
 * @param dependsOn         how many earlier replayed requests of its connection had been answered
 *                          (or needed no answer) in the capture when it was sent: it is not sent
 *                          before as many are answered by the target, so a client that waited
 *                          for replies still waits, and a pipelining one still pipelines
 */
public record CapturedRequest(long connection, String command, byte[] bytes, long tsNs, FactStatus originalStatus,
    String originalError, long originalLatencyNs, long dependsOn) {}
