package dev.tapflow.capture.live;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A capture filter compiled by libpcap into classic BPF, ready for {@code SO_ATTACH_FILTER}.
 *
 * <p>Compiled for the link type the socket delivers and the snap length: the program's
 * accept instructions return the snap length, and the kernel cuts each packet to what the
 * program returns, so the filter also applies the snap length. Compiled on a
 * {@code pcap_open_dead} handle, which libpcap treats as live for Linux's special loads: the
 * {@code inbound}/{@code outbound} qualifiers become checks of the packet's direction that the
 * kernel answers ({@code SKF_AD_PKTTYPE}).
 */
final class BpfProgram {
  private final int instructions;
  private final byte[] code; // struct sock_filter[] == struct bpf_insn[]: u16 code, u8 jt, u8 jf, u32 k

  private BpfProgram(int instructions, byte[] code) {
    this.instructions = instructions;
    this.code = code;
  }

  /**
   * @param expression pcap-filter(7) syntax; empty accepts everything
   * @param linkType the DLT of the frames the socket delivers
   * @throws CaptureSetupException with libpcap's words when the expression does not compile
   */
  static BpfProgram compile(String expression, int linkType, int snaplen) throws CaptureSetupException {
    return compile(expression, expression, linkType, snaplen);
  }

  /**
   * As {@link #compile(String, int, int)}; {@code given} is the expression as the user typed
   * it, for the error message ({@code expression} may wrap it, e.g. in {@code inbound and (...)}).
   */
  static BpfProgram compile(String expression, String given, int linkType, int snaplen) throws CaptureSetupException {
    Libpcap.load();
    Pointer dead = Libpcap.pcap_open_dead(linkType, snaplen);
    if (dead == null) {
      throw new CaptureSetupException("libpcap could not make a handle to compile the filter (out of memory?)");
    }
    Memory program = new Memory(16);
    program.clear();
    try {
      if (Libpcap.pcap_compile(dead, program, expression, 1, 0xFFFFFFFF) != 0) {
        throw new CaptureSetupException("--filter '" + given + "': " + Libpcap.pcap_geterr(dead).getString(0));
      }
      try {
        int n = program.getInt(0);
        Pointer insns = program.getPointer(Native64.POINTER_OFFSET);
        return new BpfProgram(n, insns.getByteArray(0, n * 8));
      } finally {
        Libpcap.pcap_freecode(program);
      }
    } finally {
      Libpcap.pcap_close(dead);
    }
  }

  /** A program that rejects every packet: attached at shutdown, so the kernel stops counting and queueing. */
  static BpfProgram rejectAll() {
    // BPF_RET | BPF_K (0x06), jt 0, jf 0, k 0: keep 0 bytes of every packet
    byte[] insn = new byte[8];
    insn[0] = 0x06;
    return new BpfProgram(1, insn);
  }

  /** Attaches the program to a socket (the kernel copies it), replacing the one attached before. */
  void attach(int fd) {
    Memory insns = new Memory(code.length);
    insns.write(0, code, 0, code.length);
    // struct sock_fprog { unsigned short len; struct sock_filter *filter; }
    ByteBuffer fprog = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
    fprog.putShort(0, (short) instructions);
    fprog.putLong(Native64.POINTER_OFFSET, Pointer.nativeValue(insns));
    Libc.setsockopt(fd, Libc.SOL_SOCKET, Libc.SO_ATTACH_FILTER, fprog.array(), 16);
    insns.clear(); // keeps insns reachable until the kernel has copied it
  }

  int instructions() {
    return instructions;
  }

  /** Where a pointer sits after a leading 4-byte or 2-byte field on a 64-bit ABI. */
  private static final class Native64 {
    static final int POINTER_OFFSET = 8;

    static {
      if (com.sun.jna.Native.POINTER_SIZE != 8) {
        throw new ExceptionInInitializerError("live capture needs a 64-bit JVM");
      }
    }
  }
}
