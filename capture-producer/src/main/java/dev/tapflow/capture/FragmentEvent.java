package dev.tapflow.capture;

/**
 * What IP fragment reassembly ({@link IpFragmentReassembler}) did, counted in
 * {@link CaptureStats} beside the per-packet {@link SkipReason}s. Each counts fragments or
 * datagrams, as it says. Later fragments of a dropped datagram start a new one, which then
 * times out or is left at the end (as on Linux), so one datagram may be counted twice.
 */
public enum FragmentEvent {
  /** Fragments seen: IPv4 packets with MF or a non-zero offset, IPv6 packets with a fragment header that is not atomic. */
  FRAGMENTS,
  /** Datagrams reassembled and handed on as if they had arrived whole. */
  REASSEMBLED,
  /** Fragments ignored as duplicates: every byte of them was already held, identical (RFC 8200 section 4.5 allows it). */
  DUPLICATES,
  /** Fragments that overlapped held data other than as a duplicate: their datagram is dropped (RFC 5722; Linux does the same for IPv4 since 4.19). */
  OVERLAPS,
  /**
   * Fragments inconsistent with themselves or their datagram, which is dropped: no data, a
   * non-last one whose length is not a multiple of 8, a last one ending before data already held
   * or elsewhere than an earlier last one, data beyond the last one's end.
   */
  MALFORMED,
  /** Fragments reaching beyond {@link IpFragmentReassembler.Options#maxDatagramBytes}: their datagram is dropped. */
  TOO_LARGE,
  /** Fragments cut by the capture's snap length: their datagram cannot be rebuilt and is dropped. */
  SNAP_TRUNCATED,
  /** Incomplete datagrams evicted {@link IpFragmentReassembler.Options#timeoutNs} of capture time after their first fragment. */
  TIMED_OUT,
  /** Incomplete datagrams evicted, oldest first, to stay within {@link IpFragmentReassembler.Options#maxDatagrams}. */
  DATAGRAM_LIMIT,
  /**
   * Incomplete datagrams dropped to stay within {@link IpFragmentReassembler.Options#maxBufferedBytes}:
   * the oldest ones, or the growing one when it alone would exceed it.
   */
  BUFFER_LIMIT,
  /** Incomplete datagrams still held, and not timed out, when the capture ended. */
  INCOMPLETE_AT_END
}
