package dev.tapflow.stream.protocol.kafka;

/**
 * One Kafka frame of one direction, as the {@link KafkaDecoder} found it: a request or a
 * response, {@code <size:int32> <size bytes>}.
 *
 * @param offset   stream offset of the size field's first byte
 * @param firstNs  capture time of the frame's first byte
 * @param lastNs   capture time of its last captured byte
 * @param length   bytes on the wire, size field included ({@code 4 + size})
 * @param bytes    the frame after the size field: all of it when {@code whole}, else its first
 *                 {@code kept} bytes (the header, for frames streamed through, cut by a gap or
 *                 over the size limit)
 * @param kept     valid bytes in {@code bytes}
 * @param whole    the whole frame is in {@code bytes}: its body can be parsed
 * @param tooLarge longer than the message size limit ({@code KAFKA_FRAME_TOO_LARGE}); skipped by length
 * @param lossy    bytes of the frame were not captured (a gap inside it)
 */
record KafkaFrame(long offset, long firstNs, long lastNs, long length, byte[] bytes, int kept, boolean whole,
    boolean tooLarge, boolean lossy) {}
