package dev.tapflow.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.tapflow.schemas.LatencyFact;
import dev.tapflow.schemas.Status;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Expected packet times, read off packets that our capture code did not read: tcpdump's
 * {@code packets.tsv} or the tests' own {@link TcpPackets}. Facts are checked against them
 * byte by byte: a request's first and last bytes sit in packets whose capture times must be
 * its {@code request_first_ns} and {@code request_last_ns}; where the server stream holds
 * nothing but replies, the replies follow each other in request order, so each reply's
 * first and last bytes, and thus {@code response_first_ns}/{@code response_last_ns}, are
 * known too.
 */
final class WireTruth {

  /** One TCP packet with payload: capture time, endpoints ({@link TcpPackets#endpoint}), seq, payload length. */
  record Wire(long tsNs, String src, String dst, long seq, int len) {}

  /** One connection as the facts name it. */
  record Conn(String client, String server) {}

  /**
   * The head of a pub/sub push in server bytes: RESP3 {@code >}, or the RESP2 array pub/sub
   * uses ({@code *3}/{@code *4} whose first element names the push kind).
   */
  static final Pattern PUSH_HEAD = Pattern.compile(
      "(?:^|\n)[>*][34]\r\n\\$\\d+\r\n(message|pmessage|subscribe|psubscribe|unsubscribe|punsubscribe"
          + "|smessage|ssubscribe|sunsubscribe)\r\n", Pattern.CASE_INSENSITIVE);

  private WireTruth() {}

  static List<Wire> fromPackets(TcpPackets packets) {
    List<Wire> out = new ArrayList<>();
    for (TcpPackets.Packet p : packets.packets) {
      if (p.hasPayload()) {
        out.add(new Wire(p.tsNs(), p.src(), p.dst(), p.seq(), p.payload().length));
      }
    }
    return out;
  }

  /** tcpdump's reading: columns ts_ns, src, dst, seq, len (a header row first). */
  static List<Wire> fromTsv(Path tsv) throws IOException {
    List<Wire> out = new ArrayList<>();
    List<String> lines = Files.readAllLines(tsv);
    assertEquals("ts_ns\tsrc\tdst\tseq\tlen", lines.get(0), tsv + " header");
    for (String line : lines.subList(1, lines.size())) {
      if (line.isBlank()) {
        continue;
      }
      String[] c = line.split("\t");
      out.add(new Wire(Long.parseLong(c[0]), endpoint(c[1]), endpoint(c[2]), Long.parseLong(c[3]),
          Integer.parseInt(c[4])));
    }
    return out;
  }

  /** "ip:port" or "[v6]:port" or "v6.port"-free "v6:port" to the canonical endpoint text. */
  private static String endpoint(String text) {
    int colon = text.lastIndexOf(':');
    String ip = text.substring(0, colon).replace("[", "").replace("]", "");
    return TcpPackets.endpoint(ip, Integer.parseInt(text.substring(colon + 1)));
  }

  static Conn conn(LatencyFact f) {
    return new Conn(TcpPackets.endpoint(f.getClientIp(), f.getClientPort()),
        TcpPackets.endpoint(f.getServerIp(), f.getServerPort()));
  }

  /** Facts per connection, each list in request order (the request's offset in the client stream). */
  static Map<Conn, List<LatencyFact>> byConnection(List<LatencyFact> facts) {
    Map<Conn, List<LatencyFact>> out = new LinkedHashMap<>();
    for (LatencyFact f : facts) {
      out.computeIfAbsent(conn(f), k -> new ArrayList<>()).add(f);
    }
    out.values().forEach(l -> l.sort(Comparator.comparingLong(LatencyFact::getRequestOffset)));
    return out;
  }

  static List<Wire> data(List<Wire> wires, String src, String dst) {
    List<Wire> out = new ArrayList<>();
    for (Wire w : wires) {
      if (w.src.equals(src) && w.dst.equals(dst) && w.len > 0) {
        out.add(w);
      }
    }
    return out;
  }

  static boolean isAnswered(LatencyFact f) {
    return f.getStatus() == Status.OK || f.getStatus() == Status.ERROR;
  }

  /**
   * Every time on a fact is the capture time of a packet with payload, in the right
   * direction on its connection; the latency is the difference of the two; the order of
   * times is sane; unanswered facts carry no response times.
   */
  static void assertTimesArePackets(String what, Conn c, List<LatencyFact> facts, List<Wire> wires) {
    List<Wire> up = data(wires, c.client(), c.server());
    List<Wire> down = data(wires, c.server(), c.client());
    for (LatencyFact f : facts) {
      String id = what + " " + c + " " + describe(f);
      assertTrue(hasTs(up, f.getRequestFirstNs()), id + ": request_first_ns is no client packet");
      assertTrue(hasTs(up, f.getRequestLastNs()), id + ": request_last_ns is no client packet");
      assertTrue(f.getRequestLastNs() >= f.getRequestFirstNs(), id + ": request_last < request_first");
      if (isAnswered(f)) {
        assertNotNull(f.getResponseFirstNs(), id + ": answered without response_first_ns");
        assertTrue(hasTs(down, f.getResponseFirstNs()), id + ": response_first_ns is no server packet");
        assertTrue(hasTs(down, f.getResponseLastNs()), id + ": response_last_ns is no server packet");
        assertTrue(f.getResponseFirstNs() >= f.getRequestLastNs(), id + ": response before request");
        assertTrue(f.getResponseLastNs() >= f.getResponseFirstNs(), id + ": response_last < response_first");
        assertEquals(f.getResponseFirstNs() - f.getRequestLastNs(), (long) f.getLatencyNs(), id + ": latency");
      } else {
        assertNull(f.getResponseFirstNs(), id + ": unanswered with response_first_ns");
        assertNull(f.getLatencyNs(), id + ": unanswered with latency");
      }
    }
  }

  /**
   * Each request's first and last bytes (request_offset, request_bytes, relative to the first
   * client payload byte seen) lie in packets captured at request_first_ns and request_last_ns.
   */
  static void assertRequestBytes(String what, Conn c, List<LatencyFact> facts, List<Wire> wires) {
    List<Wire> up = data(wires, c.client(), c.server());
    long base = up.get(0).seq;
    for (LatencyFact f : facts) {
      String id = what + " " + c + " " + describe(f);
      long first = f.getRequestOffset();
      long last = first + f.getRequestBytes() - 1;
      assertEquals(tsOfByte(up, base, first, id), f.getRequestFirstNs(), id + ": request_first_ns (byte " + first + ")");
      assertEquals(tsOfByte(up, base, last, id), f.getRequestLastNs(), id + ": request_last_ns (byte " + last + ")");
    }
  }

  /**
   * For a connection whose server stream is replies only (no pushes, no orphans): the
   * answered facts' response_bytes, in request order, tile the whole server stream, and each
   * reply's first and last bytes lie in packets captured at response_first_ns and response_last_ns.
   */
  static void assertResponseBytes(String what, Conn c, List<LatencyFact> facts, List<Wire> wires) {
    List<Wire> down = data(wires, c.server(), c.client());
    long total = streamLength(down);
    long sum = 0;
    for (LatencyFact f : facts) {
      if (isAnswered(f)) {
        sum += f.getResponseBytes();
      }
    }
    assertEquals(total, sum, what + " " + c + ": sum of response_bytes vs server stream bytes (tcpdump)");
    if (down.isEmpty()) {
      return;
    }
    long base = down.get(0).seq;
    long off = 0;
    for (LatencyFact f : facts) {
      if (!isAnswered(f)) {
        continue;
      }
      String id = what + " " + c + " " + describe(f);
      long first = off;
      long last = off + f.getResponseBytes() - 1;
      assertEquals(tsOfByte(down, base, first, id), (long) f.getResponseFirstNs(),
          id + ": response_first_ns (server byte " + first + ")");
      assertEquals(tsOfByte(down, base, last, id), (long) f.getResponseLastNs(),
          id + ": response_last_ns (server byte " + last + ")");
      off += f.getResponseBytes();
    }
  }

  /** Distinct bytes of a direction: highest relative end seen (retransmissions count once). */
  static long streamLength(List<Wire> dir) {
    if (dir.isEmpty()) {
      return 0;
    }
    long base = dir.get(0).seq;
    long end = 0;
    for (Wire w : dir) {
      end = Math.max(end, ((w.seq - base) & 0xffffffffL) + w.len);
    }
    return end;
  }

  private static long tsOfByte(List<Wire> dir, long base, long offset, String id) {
    for (Wire w : dir) {
      long rel = (w.seq - base) & 0xffffffffL;
      if (rel <= offset && offset < rel + w.len) {
        return w.tsNs;
      }
    }
    fail(id + ": no packet holds stream byte " + offset);
    return 0;
  }

  private static boolean hasTs(List<Wire> dir, Long ts) {
    if (ts == null) {
      return false;
    }
    for (Wire w : dir) {
      if (w.tsNs == ts) {
        return true;
      }
    }
    return false;
  }

  static String describe(LatencyFact f) {
    StringBuilder b = new StringBuilder(f.getCommand());
    if (f.getResource() != null) {
      b.append(' ').append(f.getResource());
    }
    if (f.getArgs() != null) {
      b.append(' ').append(f.getArgs());
    }
    String s = b.length() > 80 ? b.substring(0, 80) + "..." : b.toString();
    return "[" + s + " @" + f.getRequestOffset() + " " + f.getStatus() + "]";
  }

  /** command, resource and args joined by spaces, as {@code SET key3 me}. */
  static String line(LatencyFact f) {
    StringBuilder b = new StringBuilder(f.getCommand());
    if (f.getResource() != null) {
      b.append(' ').append(f.getResource());
    }
    if (f.getArgs() != null) {
      b.append(' ').append(f.getArgs());
    }
    return b.toString();
  }
}
