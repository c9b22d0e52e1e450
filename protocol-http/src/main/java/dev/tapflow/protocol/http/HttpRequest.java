package dev.tapflow.protocol.http;

/**
 * What a fact needs of one request: no header values are kept but the Host (never
 * {@code Authorization} or {@code Cookie}), and the path without its query string unless
 * configured otherwise.
 *
 * @param method         as sent (upper case by RFC 9110; kept as is)
 * @param path           the target's path, truncated to the session's argument limit
 * @param host           the Host header, or empty
 * @param expectContinue the request carried {@code Expect: 100-continue}
 * @param upgrade        the protocol it asked to upgrade to ({@code Upgrade} header), or empty
 */
record HttpRequest(String method, String path, String host, boolean expectContinue, String upgrade) {}
