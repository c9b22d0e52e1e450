package dev.tapflow.capture.live;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The Linux capabilities live capture needs, and which of them the calling thread lacks (read
 * from {@code /proc/thread-self/status}: capabilities are per thread).
 *
 * <ul>
 *   <li>{@code CAP_NET_RAW}: opening a packet socket ({@code socket(AF_PACKET)}); always.</li>
 *   <li>{@code CAP_NET_ADMIN}: only to put an interface in promiscuous mode
 *       ({@code --promiscuous}); a host agent watching its own traffic does not need it.</li>
 * </ul>
 */
public final class Capabilities {
  /** Bit numbers from linux/capability.h. */
  static final int CAP_NET_ADMIN = 12;
  static final int CAP_NET_RAW = 13;

  private Capabilities() {}

  /** The capabilities live capture needs, for messages and docs. */
  public static List<String> needed(boolean promiscuous) {
    return promiscuous ? List.of("CAP_NET_RAW", "CAP_NET_ADMIN") : List.of("CAP_NET_RAW");
  }

  /** The needed capabilities the calling thread does not have (empty when it cannot tell). */
  static List<String> missing(boolean promiscuous) {
    long eff = effective();
    List<String> out = new ArrayList<>();
    if (eff < 0) {
      return out;
    }
    if ((eff & (1L << CAP_NET_RAW)) == 0) {
      out.add("CAP_NET_RAW");
    }
    if (promiscuous && (eff & (1L << CAP_NET_ADMIN)) == 0) {
      out.add("CAP_NET_ADMIN");
    }
    return out;
  }

  /** The calling thread's effective capability set, or -1 when unknown. */
  static long effective() {
    for (String file : List.of("/proc/thread-self/status", "/proc/self/status")) {
      try {
        for (String line : Files.readAllLines(Path.of(file))) {
          if (line.startsWith("CapEff:")) {
            return Long.parseUnsignedLong(line.substring(7).trim(), 16);
          }
        }
      } catch (IOException | NumberFormatException e) {
        // try the next, else unknown
      }
    }
    return -1;
  }

  /** The one-line advice for a permission error. */
  static String advice(List<String> missing, boolean promiscuous) {
    String caps = String.join(" and ", missing.isEmpty() ? needed(promiscuous) : missing);
    String setcap = String.join(",", needed(promiscuous)).toLowerCase(java.util.Locale.ROOT);
    return "live capture needs " + caps + ", which this process does not have: run as root, grant them to "
        + "java (setcap " + setcap + "+ep \"$(readlink -f \"$(command -v java)\")\"), or use the systemd unit "
        + "deploy/systemd/tapflow-capture.service (AmbientCapabilities=)";
  }
}
