package dev.tapflow.capture.live;

import com.sun.jna.LastErrorException;
import com.sun.jna.Pointer;
import dev.tapflow.capture.LinkType;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * One interface's packets, read straight from the kernel: a Linux packet socket with a
 * {@code TPACKET_V3} receive ring mapped into this process (packet(7), and the kernel's
 * Documentation/networking/packet_mmap.rst). The kernel filters each packet with the libpcap-
 * compiled program, copies it into the current block of the ring and hands whole blocks over
 * when they are full or after the block timeout; Java walks the block in place, copies each
 * frame into one reused array for the parser, and gives the block back. No native call per
 * packet, no libpcap callback: this is what makes live capture cost about what tcpdump costs
 * (see bench/capture.sh).
 *
 * <p>Block layout ({@code struct tpacket_block_desc}, native byte order):
 * <pre>
 *   0 version  4 offset_to_priv  8 block_status  12 num_pkts  16 offset_to_first_pkt  20 blk_len ...
 * each packet (struct tpacket3_hdr), from offset_to_first_pkt:
 *   0 tp_next_offset (0: last)  4 tp_sec  8 tp_nsec  12 tp_snaplen  16 tp_len  20 tp_status  24 tp_mac (u16)
 * </pre>
 * A block belongs to the kernel while {@code block_status} is 0 ({@code TP_STATUS_KERNEL}) and
 * to us once it has {@code TP_STATUS_USER}; we read it with acquire and give it back with release
 * semantics, in ring order.
 *
 * <p>Loopback: every packet passes a loopback interface twice, once outgoing and once incoming,
 * and a packet socket sees both. The filter is prefixed with {@code inbound} so the kernel
 * rejects the outgoing copy before counting or copying it: the ring carries each packet once
 * and the kernel's counters ({@link #received()}, {@link #kernelDrops()}) are true per-packet
 * numbers, not doubled.
 *
 * <p>Frames: Ethernet and loopback interfaces deliver the link-layer header
 * ({@link LinkType#EN10MB}); any other interface (tun, WireGuard, GRE...) is opened cooked and
 * delivers IP packets ({@link LinkType#RAW}). VLAN tags the NIC stripped are not re-inserted
 * (nothing downstream needs them); a {@code vlan} filter therefore does not match them.
 *
 * <p>Not thread-safe: the capture thread only.
 */
final class PacketRing implements AutoCloseable {
  /** The smallest ring block; blocks are powers of two large enough for one snap-length packet. */
  static final int MIN_BLOCK_BYTES = 128 * 1024;
  /** Bytes a packet takes in a block besides its data: tpacket3_hdr (48), sockaddr_ll (20), alignment. */
  private static final int PACKET_OVERHEAD = 128;
  private static final int TP_STATUS_KERNEL = 0;
  private static final int TP_STATUS_USER = 1;
  private static final int IFF_UP = 0x1;
  private static final int IFF_LOOPBACK = 0x8;
  private static final int ARPHRD_ETHER = 1;
  private static final int ARPHRD_LOOPBACK = 772;
  private static final VarHandle INT = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.nativeOrder());

  /** How to open a ring. */
  record Settings(int snaplen, int bufferBytes, int blockTimeoutMs, boolean promiscuous) {
    Settings {
      if (snaplen < 64 || snaplen > 262144) {
        throw new IllegalArgumentException("snap length must be 64..262144 bytes");
      }
      if (bufferBytes < 2 * MIN_BLOCK_BYTES) {
        throw new IllegalArgumentException("capture buffer must be at least " + (2 * MIN_BLOCK_BYTES / 1024) + " KiB");
      }
      if (blockTimeoutMs < 1 || blockTimeoutMs > 10_000) {
        throw new IllegalArgumentException("block timeout must be 1..10000 ms");
      }
    }

    /** A block holds at least one whole snap-length packet. */
    int blockBytes() {
      int b = MIN_BLOCK_BYTES;
      while (b < snaplen + PACKET_OVERHEAD) {
        b <<= 1;
      }
      return b;
    }

    int blocks() {
      return Math.max(2, bufferBytes / blockBytes());
    }
  }

  private final String name;
  private final int ifindex;
  private final int linkType;
  private final boolean loopback;
  private final int fd;
  private final Pointer map;
  private final long mapBytes;
  private final ByteBuffer ring;
  private final int blockBytes;
  private final int blocks;
  private final long interfaceDropsAtStart;
  private final byte[] stats = new byte[12];
  private final byte[] frame;
  private final int[] statsLen = new int[1];
  private int current;
  private long received;
  private long kernelDrops;
  private long packets;
  private long truncated;
  private boolean closed;

  private PacketRing(String name, int ifindex, int linkType, boolean loopback, int fd, Pointer map, long mapBytes,
      int blockBytes, int blocks) {
    this.name = name;
    this.ifindex = ifindex;
    this.linkType = linkType;
    this.loopback = loopback;
    this.fd = fd;
    this.map = map;
    this.mapBytes = mapBytes;
    this.ring = map.getByteBuffer(0, mapBytes).order(ByteOrder.nativeOrder());
    this.blockBytes = blockBytes;
    this.blocks = blocks;
    this.frame = new byte[blockBytes];
    this.interfaceDropsAtStart = readInterfaceDrops(name);
  }

  /**
   * Opens a ring on interface {@code name} with filter {@code expression} (empty: everything).
   *
   * @throws CaptureSetupException no such interface, the filter does not compile, a missing
   *     capability, libpcap missing, the kernel refused the buffer
   */
  static PacketRing open(String name, String expression, Settings settings) throws CaptureSetupException {
    Objects.requireNonNull(name, "name");
    Path dir = Path.of("/sys/class/net", name);
    if (name.isEmpty() || name.contains("/") || !Files.isDirectory(dir)) {
      if (name.equals("any")) {
        throw new CaptureSetupException("-i any is not supported: name the interfaces (-i eth0 -i lo); available: "
            + String.join(", ", interfaces()));
      }
      throw new CaptureSetupException("no such interface: " + name + " (available: " + String.join(", ", interfaces()) + ")");
    }
    int ifindex = readInt(dir.resolve("ifindex"), name);
    int arphrd = readInt(dir.resolve("type"), name);
    int flags = readInt(dir.resolve("flags"), name);
    boolean loopback = (flags & IFF_LOOPBACK) != 0;
    boolean ethernet = arphrd == ARPHRD_ETHER || arphrd == ARPHRD_LOOPBACK;
    int linkType = ethernet ? LinkType.EN10MB : LinkType.RAW;
    String given = expression == null ? "" : expression.trim();
    String filter = !loopback ? given : given.isEmpty() ? "inbound" : "inbound and (" + given + ")";
    BpfProgram program = BpfProgram.compile(filter, given, linkType, settings.snaplen());

    int fd;
    try {
      // protocol 0: the socket receives nothing until bind, so no packet passes unfiltered
      fd = Libc.socket(Libc.AF_PACKET, ethernet ? Libc.SOCK_RAW : Libc.SOCK_DGRAM, 0);
    } catch (LastErrorException e) {
      if (e.getErrorCode() == Libc.EPERM || e.getErrorCode() == Libc.EACCES) {
        throw new CaptureSetupException("cannot capture on " + name + ": "
            + Capabilities.advice(Capabilities.missing(settings.promiscuous()), settings.promiscuous()), e);
      }
      throw new CaptureSetupException("cannot open a packet socket (AF_PACKET): " + errno(e)
          + "; live capture needs Linux", e);
    }
    Pointer map = null;
    long mapBytes = 0;
    boolean opened = false;
    try {
      ByteBuffer b = ByteBuffer.allocate(28).order(ByteOrder.nativeOrder());
      b.putInt(0, Libc.TPACKET_V3);
      Libc.setsockopt(fd, Libc.SOL_PACKET, Libc.PACKET_VERSION, b.array(), 4);
      program.attach(fd);

      int blockBytes = settings.blockBytes();
      int blocks = settings.blocks();
      // struct tpacket_req3: block_size, block_nr, frame_size, frame_nr, retire_blk_tov, sizeof_priv, feature_req_word
      int frameBytes = 2048; // V3 frames are variable; the kernel only checks block_size / frame_size * block_nr
      b.putInt(0, blockBytes).putInt(4, blocks).putInt(8, frameBytes).putInt(12, blockBytes / frameBytes * blocks)
          .putInt(16, settings.blockTimeoutMs()).putInt(20, 0).putInt(24, 0);
      try {
        Libc.setsockopt(fd, Libc.SOL_PACKET, Libc.PACKET_RX_RING, b.array(), 28);
      } catch (LastErrorException e) {
        throw new CaptureSetupException("the kernel refused a " + ((long) blockBytes * blocks >> 20)
            + " MiB capture buffer on " + name + " (" + errno(e) + "): lower --buffer-size", e);
      }
      mapBytes = (long) blockBytes * blocks;
      map = Libc.mmap(null, mapBytes, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);

      if (settings.promiscuous()) {
        // struct packet_mreq: int ifindex, u16 type, u16 alen, u8 address[8]
        ByteBuffer mreq = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        mreq.putInt(0, ifindex).putShort(4, (short) Libc.PACKET_MR_PROMISC);
        try {
          Libc.setsockopt(fd, Libc.SOL_PACKET, Libc.PACKET_ADD_MEMBERSHIP, mreq.array(), 16);
        } catch (LastErrorException e) {
          if (e.getErrorCode() == Libc.EPERM) {
            throw new CaptureSetupException("cannot put " + name + " in promiscuous mode: "
                + Capabilities.advice(Capabilities.missing(true), true), e);
          }
          throw new CaptureSetupException("cannot put " + name + " in promiscuous mode: " + errno(e), e);
        }
      }

      // struct sockaddr_ll: u16 family, u16 protocol (network order), int ifindex, ...
      ByteBuffer sll = ByteBuffer.allocate(20).order(ByteOrder.nativeOrder());
      sll.putShort(0, (short) Libc.AF_PACKET).putShort(2, Libc.htons(Libc.ETH_P_ALL)).putInt(4, ifindex);
      try {
        Libc.bind(fd, sll.array(), 20);
      } catch (LastErrorException e) {
        if (e.getErrorCode() == Libc.ENODEV || e.getErrorCode() == Libc.ENXIO) {
          throw new CaptureSetupException("no such interface: " + name + " (it disappeared)", e);
        }
        throw new CaptureSetupException("cannot capture on " + name + ": " + errno(e), e);
      }
      PacketRing r = new PacketRing(name, ifindex, linkType, loopback, fd, map, mapBytes, blockBytes, blocks);
      opened = true; // the ring owns the socket and the mapping now
      return r;
    } catch (LastErrorException e) {
      throw new CaptureSetupException("cannot set up capture on " + name + ": " + errno(e), e);
    } finally {
      if (!opened) {
        if (map != null) {
          Libc.munmap(map, mapBytes);
        }
        closeQuietly(fd);
      }
    }
  }

  /** The interfaces of this network namespace, for error messages. */
  static List<String> interfaces() {
    try (Stream<Path> s = Files.list(Path.of("/sys/class/net"))) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    } catch (IOException e) {
      return List.of("?");
    }
  }

  String name() { return name; }

  int fd() { return fd; }

  /** {@link LinkType#EN10MB} or {@link LinkType#RAW}. */
  int linkType() { return linkType; }

  boolean loopback() { return loopback; }

  /** Ring block size in bytes. */
  int blockBytes() { return blockBytes; }

  int blocks() { return blocks; }

  /** Whether the next block in ring order is ours to read. */
  boolean blockReady() {
    return ((int) INT.getAcquire(ring, current * blockBytes + 8) & TP_STATUS_USER) != 0;
  }

  /**
   * Stops taking packets: from now on the kernel rejects every packet for this socket before
   * counting it, so after the ring is drained the counters describe exactly what was read
   * (received = packets read + kernel drops).
   */
  void stopReceiving() {
    BpfProgram.rejectAll().attach(fd);
  }

  /**
   * Whether the kernel holds packets it has not handed over yet: the block it is filling has
   * some. Read without synchronisation; good enough to decide whether to wait at shutdown.
   */
  boolean kernelHoldsPackets() {
    int base = current * blockBytes;
    return !blockReady() && (int) INT.getAcquire(ring, base + 8) == TP_STATUS_KERNEL && ring.getInt(base + 12) != 0;
  }

  /** Receives the frames of a block, in ring order, on the capture thread. */
  @FunctionalInterface
  interface FrameVisitor {
    /**
     * One frame: {@code capLen} bytes at {@code buf[0]}, valid only during this call.
     *
     * @param tsNs capture time, ns since the epoch
     * @param wireLen original length
     */
    void frame(int linkType, long tsNs, int wireLen, byte[] buf, int capLen);
  }

  /**
   * Reads the next ready block: each frame is copied into one reused array and handed to
   * {@code visitor}; then the block goes back to the kernel.
   *
   * <pre>
   * each packet (struct tpacket3_hdr), from offset_to_first_pkt:
   *   0 tp_next_offset (0: last)  4 tp_sec  8 tp_nsec  12 tp_snaplen  16 tp_len  20 tp_status  24 tp_mac (u16)
   * </pre>
   *
   * @return the number of packets in the block, or -1 when no block is ready
   */
  int readBlock(FrameVisitor visitor) {
    ByteBuffer r = ring;
    int base = current * blockBytes;
    if (((int) INT.getAcquire(r, base + 8) & TP_STATUS_USER) == 0) {
      return -1;
    }
    int count = r.getInt(base + 12);
    int limit = base + blockBytes;
    int pkt = base + r.getInt(base + 16);
    byte[] buf = frame;
    int done = 0;
    while (done < count && pkt + 26 <= limit) {
      int capLen = r.getInt(pkt + 12);
      int wireLen = r.getInt(pkt + 16);
      long tsNs = Integer.toUnsignedLong(r.getInt(pkt + 4)) * 1_000_000_000L + r.getInt(pkt + 8);
      int at = pkt + Short.toUnsignedInt(r.getShort(pkt + 24));
      if (capLen < 0 || capLen > buf.length || at + capLen > limit) {
        break; // a corrupt block: never seen, but never read past it either
      }
      r.get(at, buf, 0, capLen);
      if (capLen < wireLen) {
        truncated++;
      }
      done++;
      visitor.frame(linkType, tsNs, wireLen, buf, capLen);
      int next = r.getInt(pkt);
      if (next <= 0) {
        break;
      }
      pkt += next;
    }
    INT.setRelease(r, base + 8, TP_STATUS_KERNEL);
    current = current + 1 == blocks ? 0 : current + 1;
    packets += done;
    return done;
  }

  /**
   * Reads and adds up the kernel's counters ({@code PACKET_STATISTICS}, which resets them on
   * every read): packets that passed the filter, and those dropped for want of ring space.
   */
  void readKernelCounters() {
    statsLen[0] = stats.length;
    Libc.getsockopt(fd, Libc.SOL_PACKET, Libc.PACKET_STATISTICS, stats, statsLen);
    // struct tpacket_stats_v3 { u32 tp_packets (drops included), u32 tp_drops, u32 tp_freeze_q_cnt }
    ByteBuffer b = ByteBuffer.wrap(stats).order(ByteOrder.nativeOrder());
    received += Integer.toUnsignedLong(b.getInt(0));
    kernelDrops += Integer.toUnsignedLong(b.getInt(4));
  }

  /**
   * After {@code poll} said POLLERR: the socket's pending error (reading it clears it).
   *
   * @return the errno, 0 when none
   */
  int takeError() {
    byte[] v = new byte[4];
    Libc.getsockopt(fd, Libc.SOL_SOCKET, Libc.SO_ERROR, v, new int[] {4});
    return ByteBuffer.wrap(v).order(ByteOrder.nativeOrder()).getInt(0);
  }

  /** Whether the interface still exists with the index we bound to (it may be down). */
  boolean interfaceExists() {
    Path dir = Path.of("/sys/class/net", name);
    try {
      return Files.isDirectory(dir) && Integer.parseInt(Files.readString(dir.resolve("ifindex")).trim()) == ifindex;
    } catch (IOException | NumberFormatException e) {
      return false;
    }
  }

  /** Whether the interface is administratively up. */
  boolean interfaceUp() {
    try {
      return (Integer.decode(Files.readString(Path.of("/sys/class/net", name, "flags")).trim()) & IFF_UP) != 0;
    } catch (IOException | NumberFormatException e) {
      return false;
    }
  }

  /** Packets that passed the filter in the kernel, captured or dropped (as of {@link #readKernelCounters}). */
  long received() { return received; }

  /** Packets the kernel dropped because the ring was full (as of {@link #readKernelCounters}). */
  long kernelDrops() { return kernelDrops; }

  /** Packets read from the ring. */
  long packets() { return packets; }

  /** Packets cut by the snap length. */
  long truncatedPackets() { return truncated; }

  /** Packets the interface dropped since the ring opened ({@code rx_dropped}, before any filter). */
  long interfaceDrops() {
    long now = readInterfaceDrops(name);
    return now < 0 || interfaceDropsAtStart < 0 ? 0 : Math.max(0, now - interfaceDropsAtStart);
  }

  private static long readInterfaceDrops(String name) {
    try {
      return Long.parseLong(Files.readString(Path.of("/sys/class/net", name, "statistics", "rx_dropped")).trim());
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      Libc.munmap(map, mapBytes);
    } finally {
      closeQuietly(fd);
    }
  }

  private static void closeQuietly(int fd) {
    try {
      Libc.close(fd);
    } catch (LastErrorException e) {
      // nothing to do
    }
  }

  private static int readInt(Path file, String iface) throws CaptureSetupException {
    try {
      return Integer.decode(Files.readString(file).trim());
    } catch (IOException | NumberFormatException e) {
      throw new CaptureSetupException("cannot read " + file + " for interface " + iface + ": " + e.getMessage(), e);
    }
  }

  static String errno(LastErrorException e) {
    String s = Libc.strerror(e.getErrorCode());
    return (s == null ? "errno " + e.getErrorCode() : s) + " (errno " + e.getErrorCode() + ")";
  }

  @Override
  public String toString() {
    return name + "[" + LinkType.name(linkType) + ", " + blocks + " x " + (blockBytes / 1024) + " KiB]";
  }
}
