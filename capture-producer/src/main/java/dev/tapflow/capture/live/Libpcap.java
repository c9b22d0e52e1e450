package dev.tapflow.capture.live;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * libpcap, for one job: compiling capture filters ({@code pcap_compile} on a
 * {@code pcap_open_dead} handle). The kernel runs the compiled classic BPF program on the
 * packet socket; libpcap never sees a packet.
 *
 * <p>The library is {@code pcap} as JNA finds it (Debian's {@code libpcap0.8} installs
 * {@code libpcap.so.0.8}); the system property {@code tapflow.libpcap} names another.
 */
final class Libpcap {
  /** The library name, or a path; for unusual installs (and the test of the missing-library error). */
  static final String LIBRARY = System.getProperty("tapflow.libpcap", "pcap");

  private static volatile boolean loaded;

  private Libpcap() {}

  /** Loads libpcap once; a one-line error naming the package to install when it is missing. */
  static synchronized void load() throws CaptureSetupException {
    if (loaded) {
      return;
    }
    Native.register(Libpcap.class, open(LIBRARY));
    loaded = true;
  }

  /** Opens the library {@code name}, or says in one line that it is missing and how to install it. */
  static NativeLibrary open(String name) throws CaptureSetupException {
    try {
      return NativeLibrary.getInstance(name);
    } catch (UnsatisfiedLinkError e) {
      throw new CaptureSetupException("libpcap is not installed or cannot be loaded ('" + name
          + "'): install it (Debian/Ubuntu: apt-get install libpcap0.8; RHEL/Fedora: dnf install libpcap)", e);
    }
  }

  static native Pointer pcap_open_dead(int linkType, int snaplen);

  /** {@code program}: struct bpf_program (u_int bf_len; struct bpf_insn *bf_insns), 16 bytes. */
  static native int pcap_compile(Pointer pcap, Pointer program, String expression, int optimize, int netmask);

  static native void pcap_freecode(Pointer program);

  static native Pointer pcap_geterr(Pointer pcap);

  static native void pcap_close(Pointer pcap);

  static native String pcap_lib_version();
}
