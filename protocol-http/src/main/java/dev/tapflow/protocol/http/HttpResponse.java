package dev.tapflow.protocol.http;

/**
 * The final response to a request.
 *
 * @param code      status code
 * @param reason    reason phrase, truncated
 * @param interim   the last interim (1xx other than 101) status seen before it, or 0
 * @param bodyBytes body bytes as sent (chunk framing not counted)
 * @param chunked   the body was chunked
 */
record HttpResponse(int code, String reason, int interim, long bodyBytes, boolean chunked) {}
