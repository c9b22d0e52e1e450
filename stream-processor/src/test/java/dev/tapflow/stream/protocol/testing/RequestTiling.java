package dev.tapflow.stream.protocol.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The request hook ({@code SessionOutput.request}) on a recorded connection: each decoded
 * request's place in the client stream, in wire order. On a connection captured whole, the
 * requests tile the client stream (what {@code tapflow replay} relies on to cut each request's
 * bytes out of it) but for blank lines between inline commands, which are no request; every
 * exchange names one of them, and cutting the stream at every byte reports the same requests.
 */
public final class RequestTiling {

  private RequestTiling() {}

  /** One request as the hook reported it. */
  public record Request(long offset, long length, long firstNs, long lastNs) {}

  /** A recording that also keeps the hook's reports. */
  public static final class Recording extends SessionRecording {
    public final List<Request> requests = new ArrayList<>();

    @Override
    public void request(long streamOffset, long length, long firstNs, long lastNs) {
      requests.add(new Request(streamOffset, length, firstNs, lastNs));
    }
  }

  /** Feeds a connection whole and byte by byte and checks the tiling; returns the requests. */
  public static List<Request> check(SessionFeeder.Sessions sessions, String name, List<Chunk> chunks) {
    Recording whole = new Recording();
    SessionFeeder.feed(sessions, chunks, SessionFeeder.NONE, false, whole);
    Recording bytewise = new Recording();
    SessionFeeder.feed(sessions, chunks, SessionFeeder.EVERY_BYTE, false, bytewise);
    assertEquals(whole.requests, bytewise.requests, name + ": the same requests whatever the cuts");
    java.io.ByteArrayOutputStream client = new java.io.ByteArrayOutputStream();
    chunks.stream().filter(Chunk::client).forEach(c -> client.writeBytes(c.bytes()));
    byte[] stream = client.toByteArray();
    long next = 0;
    Set<Long> offsets = new HashSet<>();
    for (Request r : whole.requests) {
      assertTrue(r.offset() >= next && blank(stream, next, r.offset()), name + ": requests tile the client stream at " + r);
      assertTrue(r.length() > 0 && r.firstNs() <= r.lastNs(), name + ": " + r);
      offsets.add(r.offset());
      next = r.offset() + r.length();
    }
    assertTrue(next <= stream.length && blank(stream, next, stream.length), name + ": the last request ends the client stream");
    assertEquals(whole.requests.size(), whole.exchanges.size(), name + ": one exchange per request");
    whole.exchanges.forEach(e -> assertTrue(offsets.contains(e.requestOffset()), name + ": " + e));
    return whole.requests;
  }

  private static boolean blank(byte[] b, long from, long to) {
    for (long i = from; i < to; i++) {
      if (b[(int) i] != '\r' && b[(int) i] != '\n' && b[(int) i] != ' ') {
        return false;
      }
    }
    return true;
  }
}
