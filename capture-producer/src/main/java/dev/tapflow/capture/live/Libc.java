package dev.tapflow.capture.live;

import com.sun.jna.LastErrorException;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * The few libc calls a packet socket needs, JNA direct-mapped (one native call each, no
 * per-call reflection). Constants are Linux's, identical on x86-64 and arm64. Calls that fail
 * throw {@link LastErrorException} carrying errno.
 */
final class Libc {
  static {
    Native.register(Libc.class, NativeLibrary.getInstance("c"));
  }

  static final int AF_PACKET = 17;
  static final int SOCK_RAW = 3;
  static final int SOCK_DGRAM = 2;
  static final int SOL_SOCKET = 1;
  static final int SO_ERROR = 4;
  static final int SO_ATTACH_FILTER = 26;
  static final int SOL_PACKET = 263;
  static final int PACKET_ADD_MEMBERSHIP = 1;
  static final int PACKET_MR_PROMISC = 1;
  static final int PACKET_RX_RING = 5;
  static final int PACKET_STATISTICS = 6;
  static final int PACKET_VERSION = 10;
  static final int TPACKET_V3 = 2;
  static final int ETH_P_ALL = 0x0003;
  static final int PROT_READ = 1;
  static final int PROT_WRITE = 2;
  static final int MAP_SHARED = 1;
  static final short POLLIN = 1;
  static final short POLLERR = 8;

  static final int EPERM = 1;
  static final int EINTR = 4;
  static final int ENXIO = 6;
  static final int ENOMEM = 12;
  static final int EACCES = 13;
  static final int ENODEV = 19;
  static final int EINVAL = 22;
  static final int ENETDOWN = 100;

  private Libc() {}

  static native int socket(int domain, int type, int protocol) throws LastErrorException;

  static native int setsockopt(int fd, int level, int name, byte[] value, int len) throws LastErrorException;

  static native int getsockopt(int fd, int level, int name, byte[] value, int[] len) throws LastErrorException;

  static native int bind(int fd, byte[] sockaddr, int len) throws LastErrorException;

  static native Pointer mmap(Pointer addr, long len, int prot, int flags, int fd, long offset) throws LastErrorException;

  static native int munmap(Pointer addr, long len) throws LastErrorException;

  /** {@code fds}: struct pollfd[] (int fd, short events, short revents), 8 bytes each. */
  static native int poll(byte[] fds, long nfds, int timeoutMs) throws LastErrorException;

  static native int close(int fd) throws LastErrorException;

  static native String strerror(int errno);

  /** Swaps a 16-bit value to network byte order (what htons does on a little-endian host). */
  static short htons(int v) {
    return java.nio.ByteOrder.nativeOrder() == java.nio.ByteOrder.BIG_ENDIAN ? (short) v : Short.reverseBytes((short) v);
  }
}
