package dev.tapflow.stream.protocol.memcached;

/**
 * One decoded memcached message, text or binary, request or response. Text requests carry
 * the command word upper-cased; text responses carry their first word ({@code VALUE},
 * {@code STORED}, {@code VA}, {@code EN}, a number, ...). Binary packets carry opcode,
 * status and opaque; {@code command} is then the opcode's name.
 *
 * @param key       first key (text) or the packet's key (binary), truncated, or null
 * @param keys      keys named by a text retrieval request; 0 otherwise
 * @param noreply   text: {@code noreply} or {@code quit}: memcached sends nothing back
 * @param quiet     meta {@code q} flag or a binary quiet opcode: answered only in some cases
 * @param hits      text responses: VALUE blocks in a retrieval response
 * @param opcode    binary opcode, or -1 for text
 * @param status    binary response status (0 = success)
 * @param keyLength binary: the header's key length (a Stat response ends with an empty key)
 */
record MemcachedMessage(
    String command, String key, String args, int keys, boolean noreply, boolean quiet,
    long offset, long firstNs, long lastNs, long length,
    int hits, boolean error, String errorText,
    int opcode, int status, int opaque, int keyLength) {}
