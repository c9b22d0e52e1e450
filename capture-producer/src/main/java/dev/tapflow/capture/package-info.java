/**
 * The capture agent's core: packets in, {@code SegmentBatch} records out.
 *
 * <pre>
 * PcapFileReader (libpcap via pcap4j, pcap_loop callback), or live.PacketRing (the kernel's ring)
 *   -> SegmentExtractor:
 *        PacketDecoder (link / IP / TCP-UDP headers parsed in place into a DecodedPacket flyweight)
 *        IpFragmentReassembler (IP fragments only: bounded reassembly, the whole datagram parsed as one packet)
 *   -> SegmentBatcher (canonical connection keys, one open batch per connection, size/time/FIN/RST bounds)
 *   -> SegmentSink: Segment objects for a BatchListener (KafkaSegmentPublisher, or an in-memory consumer
 *      such as {@code tapflow analyze}), or SegmentBatchEncoder (Avro bytes, for the live agent)
 * </pre>
 *
 * {@link dev.tapflow.capture.CaptureFileImporter} wires these for one file and returns its
 * {@link dev.tapflow.capture.CaptureStats}: every packet is a published segment or counted under
 * a {@link dev.tapflow.capture.SkipReason}. Only {@code KafkaSegmentPublisher} (files) and
 * {@code live.LivePublisher} (the live agent) know Kafka.
 */
package dev.tapflow.capture;
