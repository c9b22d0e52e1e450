package dev.tapflow.stream.protocol.dns;

/**
 * One DNS message (RFC 1035 section 4.1), reduced to what pairing and facts need.
 *
 * @param id        header ID: a response carries its query's
 * @param response  the QR bit
 * @param opcode    QUERY 0, IQUERY 1, STATUS 2, NOTIFY 4, UPDATE 5, DSO 6
 * @param rcode     the response code, extended by the EDNS OPT record when the message parsed whole
 * @param qname     the first question's name (the zone, for UPDATE) in presentation form without the
 *                  final dot, case as sent; null without a readable question
 * @param qtype     its type, or -1
 * @param qclass    its class, or -1
 * @param answers   the header's answer count (UPDATE: prerequisites)
 * @param truncated the TC bit: the answer did not fit (the client retries over TCP)
 * @param malformed why the whole message does not parse (header and question were then read alone), or null
 * @param offset    where it starts: TCP stream offset of its length prefix, or UDP packet number
 * @param firstNs   capture time of its first byte
 * @param lastNs    capture time of its last byte
 * @param length    bytes on the wire (TCP: with the 2-byte length prefix)
 */
record DnsMessage(
    int id, boolean response, int opcode, int rcode,
    String qname, int qtype, int qclass, int answers, boolean truncated, String malformed,
    long offset, long firstNs, long lastNs, long length) {}
