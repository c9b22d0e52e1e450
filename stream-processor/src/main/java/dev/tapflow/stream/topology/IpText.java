package dev.tapflow.stream.topology;

/** Text form of an address: dotted IPv4, or IPv6 with the longest zero run compressed (RFC 5952). */
public final class IpText {
  private IpText() {}

  /** The text of {@code ip} (4 or 16 bytes). Trackers keep theirs ({@code TrackedFlow}): a flow's facts all name the same two. */
  public static String of(byte[] ip) {
    return format(ip);
  }

  private static String format(byte[] ip) {
    if (ip.length == 4) {
      return (ip[0] & 0xff) + "." + (ip[1] & 0xff) + "." + (ip[2] & 0xff) + "." + (ip[3] & 0xff);
    }
    if (ip.length != 16) {
      return "invalid";
    }
    int[] g = new int[8];
    for (int i = 0; i < 8; i++) {
      g[i] = ((ip[2 * i] & 0xff) << 8) | (ip[2 * i + 1] & 0xff);
    }
    int bestStart = -1;
    int bestLen = 1; // a single zero group is not compressed
    for (int i = 0; i < 8; ) {
      if (g[i] != 0) {
        i++;
        continue;
      }
      int j = i;
      while (j < 8 && g[j] == 0) {
        j++;
      }
      if (j - i > bestLen) {
        bestStart = i;
        bestLen = j - i;
      }
      i = j;
    }
    StringBuilder sb = new StringBuilder(39);
    for (int i = 0; i < 8; i++) {
      if (i == bestStart) {
        sb.append("::");
        i += bestLen - 1;
        continue;
      }
      if (sb.length() > 0 && sb.charAt(sb.length() - 1) != ':') {
        sb.append(':');
      }
      sb.append(Integer.toHexString(g[i]));
    }
    return sb.toString();
  }
}
