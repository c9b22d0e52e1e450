package dev.tapflow.cli;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * A deliberately small reading of a client-to-server Redis byte stream, for tests only: the
 * words of each request, from RESP arrays of bulk strings ({@code *N\r\n$len\r\n...}) or
 * inline lines (split at spaces; quotes are not interpreted). It shares no code with the
 * processor's decoder, so tests can compare the processor's commands with it. It stops at
 * the first thing it does not understand.
 */
final class ClientRequests {

  private ClientRequests() {}

  /** The client-to-server payload of one connection, packets concatenated in capture order. */
  static byte[] stream(List<TcpPackets.Packet> clientData) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    long next = -1;
    for (TcpPackets.Packet p : clientData) {
      long seq = p.seq();
      if (next >= 0) {
        long ahead = (seq - next) << 32 >> 32; // signed 32-bit distance
        if (ahead < 0) { // retransmission: keep only the new bytes
          int skip = (int) Math.min(-ahead, p.payload().length);
          out.write(p.payload(), skip, p.payload().length - skip);
          next = (seq + p.payload().length) & 0xffffffffL;
          continue;
        }
      }
      out.writeBytes(p.payload());
      next = (seq + p.payload().length) & 0xffffffffL;
    }
    return out.toByteArray();
  }

  /** The words of every complete request in {@code s}. */
  static List<List<String>> parse(byte[] s) {
    List<List<String>> out = new ArrayList<>();
    int pos = 0;
    while (pos < s.length) {
      if (s[pos] == '*') {
        int eol = eol(s, pos);
        if (eol < 0) {
          break;
        }
        int n = Integer.parseInt(ascii(s, pos + 1, eol));
        int p = eol + 2;
        List<String> words = new ArrayList<>();
        boolean complete = true;
        for (int i = 0; i < n; i++) {
          if (p >= s.length || s[p] != '$') {
            complete = false;
            break;
          }
          int e = eol(s, p);
          if (e < 0) {
            complete = false;
            break;
          }
          int len = Integer.parseInt(ascii(s, p + 1, e));
          if (e + 2 + len + 2 > s.length) {
            complete = false;
            break;
          }
          words.add(new String(s, e + 2, len, StandardCharsets.ISO_8859_1));
          p = e + 2 + len + 2;
        }
        if (!complete) {
          break;
        }
        out.add(words);
        pos = p;
      } else {
        int nl = pos;
        while (nl < s.length && s[nl] != '\n') {
          nl++;
        }
        if (nl >= s.length) {
          break;
        }
        int end = nl > pos && s[nl - 1] == '\r' ? nl - 1 : nl;
        String line = ascii(s, pos, end).trim();
        if (!line.isEmpty()) {
          out.add(List.of(line.split(" +")));
        }
        pos = nl + 1;
      }
    }
    return out;
  }

  /** Upper-cased command names of {@link #parse}. */
  static List<String> commands(byte[] s) {
    List<String> out = new ArrayList<>();
    for (List<String> words : parse(s)) {
      out.add(words.get(0).toUpperCase());
    }
    return out;
  }

  /**
   * The secrets on the wire: the password of every {@code AUTH [user] password} and of every
   * {@code HELLO ... AUTH user password}.
   */
  static Set<String> passwords(byte[] s) {
    Set<String> out = new TreeSet<>();
    for (List<String> w : parse(s)) {
      String cmd = w.get(0).toUpperCase();
      if (cmd.equals("AUTH") && w.size() >= 2) {
        out.add(w.get(w.size() - 1));
      } else if (cmd.equals("HELLO")) {
        for (int i = 1; i + 2 < w.size(); i++) {
          if (w.get(i).equalsIgnoreCase("AUTH")) {
            out.add(w.get(i + 2));
          }
        }
      }
    }
    return out;
  }

  private static int eol(byte[] s, int from) {
    for (int i = from; i + 1 < s.length; i++) {
      if (s[i] == '\r' && s[i + 1] == '\n') {
        return i;
      }
    }
    return -1;
  }

  private static String ascii(byte[] s, int from, int to) {
    return new String(s, from, to - from, StandardCharsets.ISO_8859_1);
  }
}
