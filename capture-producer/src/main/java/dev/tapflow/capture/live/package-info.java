/**
 * The live capture agent (Linux): packets straight from the kernel, published to Kafka
 * without ever blocking capture, every packet and segment accounted for.
 *
 * <pre>
 * PacketRing (one per interface: AF_PACKET socket, TPACKET_V3 ring, libpcap-compiled filter run in the kernel)
 *   -> SegmentExtractor -> SegmentBatcher + SegmentBatchEncoder (the same path as capture files; Avro bytes written in place)
 *   -> LivePublisher (non-blocking producer, bounded backlog, counted drops)
 * LiveCapture: the single capture thread that drives them, the shutdown, the CaptureStats reports and JMX view
 * </pre>
 *
 * Needs CAP_NET_RAW (see {@link dev.tapflow.capture.live.Capabilities}) and libpcap (to compile
 * filters only). Errors an operator can fix are {@link dev.tapflow.capture.live.CaptureSetupException}s
 * with a one-line message.
 */
package dev.tapflow.capture.live;
