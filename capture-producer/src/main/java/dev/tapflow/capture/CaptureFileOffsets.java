package dev.tapflow.capture;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where things are in a capture file, for error messages: libpcap says what is wrong but not
 * where. Walks the file's framing only (pcap record headers, pcapng block lengths), after a
 * failure, so the cost is never paid by a good file.
 *
 * <p>pcap: a 24-byte file header, then records of a 16-byte header ({@code incl_len} at +8)
 * and {@code incl_len} bytes. pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html):
 * blocks of type(4) total length(4) body total length(4); the Section Header Block (type
 * 0x0A0D0D0A) sets the byte order with its magic 0x1A2B3C4D; packets are Enhanced (6), Simple
 * (3) and obsolete (2) Packet Blocks; the link type is in the Interface Description Block (1).
 */
final class CaptureFileOffsets {

  private static final int PCAPNG_SHB = 0x0A0D0D0A;
  private static final int PCAPNG_IDB = 1;
  /** Offset of the link type in a pcap file header. */
  private static final long PCAP_LINK_TYPE = 20;

  private CaptureFileOffsets() {}

  /**
   * The offset of the record (pcap) or packet block (pcapng) that follows the first
   * {@code packets} packets: where the damage is when libpcap stopped after them. -1 when the
   * file's framing does not lead there (then the message has no offset).
   */
  static long afterPackets(Path file, long packets) {
    return walk(file, packets, false);
  }

  /** The offset of the link type (pcap file header) or of the first interface description (pcapng), or -1. */
  static long linkType(Path file) {
    return walk(file, 0, true);
  }

  private static long walk(Path file, long packets, boolean linkType) {
    try (InputStream raw = Files.newInputStream(file);
        DataInputStream in = new DataInputStream(new BufferedInputStream(raw, 1 << 16))) {
      int magic = in.readInt();
      if (magic == PCAPNG_SHB) {
        return pcapng(in, packets, linkType);
      }
      boolean swapped = switch (magic) {
        case 0xa1b2c3d4, 0xa1b23c4d -> false;
        case 0xd4c3b2a1, 0x4d3cb2a1 -> true;
        default -> throw new EOFException();
      };
      if (linkType) {
        return PCAP_LINK_TYPE;
      }
      skip(in, 20);
      long pos = 24;
      for (long i = 0; i < packets; i++) {
        skip(in, 8);
        long incl = order(in.readInt(), swapped) & 0xffffffffL;
        skip(in, 4 + incl);
        pos += 16 + incl;
      }
      return pos;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private static long pcapng(DataInputStream in, long packets, boolean linkType) throws IOException {
    long pos = 0;
    int type = PCAPNG_SHB;
    boolean swapped = false;
    long seen = 0;
    while (true) {
      if (type == PCAPNG_SHB) {
        int lengthRaw = in.readInt();
        int bom = in.readInt();
        swapped = bom == 0x4D3C2B1A;
        long length = order(lengthRaw, swapped) & 0xffffffffL;
        skip(in, length - 12);
        pos += length;
      } else {
        if (linkType && type == PCAPNG_IDB || !linkType && seen == packets && packetBlock(type)) {
          return pos;
        }
        long length = order(in.readInt(), swapped) & 0xffffffffL;
        if (length < 12) {
          return pos; // a block that cannot be: the damage is here
        }
        skip(in, length - 8);
        pos += length;
        if (packetBlock(type)) {
          seen++;
        }
      }
      int next = in.readInt();
      type = next == PCAPNG_SHB ? next : order(next, swapped);
    }
  }

  private static boolean packetBlock(int type) {
    return type == 6 || type == 3 || type == 2;
  }

  private static int order(int v, boolean swapped) {
    return swapped ? Integer.reverseBytes(v) : v;
  }

  private static void skip(DataInputStream in, long n) throws IOException {
    long left = n;
    while (left > 0) {
      long k = in.skip(left);
      if (k <= 0) {
        if (in.read() < 0) {
          throw new EOFException();
        }
        k = 1;
      }
      left -= k;
    }
  }
}
