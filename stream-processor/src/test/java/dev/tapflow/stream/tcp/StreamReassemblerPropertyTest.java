package dev.tapflow.stream.tcp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.tapflow.stream.tcp.RecordedDirections.Direction;
import dev.tapflow.stream.tcp.StreamReassembler.GapCause;
import dev.tapflow.stream.testing.PropertyCheck;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.ObjIntConsumer;
import java.util.zip.CRC32;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Properties of {@link StreamReassembler} on real segment sequences: every direction of the
 * recorded Redis captures (redis-benchmark plain and pipelined, the redis-cli session with its
 * 100 KB value and 270 KB of replies, pub/sub), read through the capture agent's own path.
 * Each try takes a window of one direction, disturbs it as a capture can (reordering within
 * a bounded distance, duplicates, retransmits re-cut across segment boundaries, drops,
 * acknowledgements), feeds it, and checks the result against the recorded stream.
 *
 * <p>The reassembler anchors stream offset 0 on the first segment it sees, so the window's
 * first segment (the SYN, or the first data segment of a window that starts mid-stream) is
 * always fed first; everything after it is fair game.
 */
class StreamReassemblerPropertyTest {

  private static final int TRIES = 300;
  private static final long SEQ_MASK = 0xffffffffL;
  private static final long STEP_NS = 1_000;
  /** Default buffer bounds and a reorder timeout no try reaches: only drops, acks and the flush may declare gaps. */
  private static final ReassemblyLimits PATIENT = new ReassemblyLimits(ReassemblyLimits.DEFAULTS.maxBufferedBytes(),
      ReassemblyLimits.DEFAULTS.maxBufferedSegments(), TimeUnit.HOURS.toNanos(1));
  private static final String[] CAPTURES = {"benchmark-plain", "benchmark-pipelined", "redis-cli-session", "pubsub"};

  private static List<Direction> directions;
  private static long totalBytes;

  @BeforeAll
  static void readCaptures() throws Exception {
    List<Direction> all = new ArrayList<>();
    for (String name : CAPTURES) {
      all.addAll(RecordedDirections.read(Path.of("src/test/resources/pcap/redis", name + ".pcap")));
    }
    directions = List.copyOf(all);
    totalBytes = directions.stream().mapToLong(d -> d.stream().length).sum();
  }

  // ---------------------------------------------------------------------------------------
  // The properties

  @Test
  void theCapturesAreUsable() {
    assertTrue(directions.size() > 50, directions.size() + " directions");
    assertTrue(directions.stream().anyMatch(d -> d.stream().length >= 100_000 && d.segments().size() > 60),
        "a direction carrying the 100 KB value over many segments");
    for (Direction d : directions) {
      Case whole = whole(directions.indexOf(d));
      Outcome o = run(whole, feed(whole));
      assertArrayEquals(d.stream(), o.recorder.bytes(), d.name());
    }
  }

  /** Reordered, duplicated and re-cut, but complete: exactly the recorded stream comes out. */
  @Test
  void reorderedDuplicatedAndResegmentedDeliversTheStreamExactly() {
    forAllFed(r -> generate(r, new Profile(0, 0, false, 0, 0, 0)), (c, feed, o) -> {
      Direction d = directions.get(c.direction);
      byte[] expected = Arrays.copyOfRange(d.stream(), (int) feed.origin, (int) feed.windowEnd);
      assertEquals(List.of(), o.recorder.gaps(), "gaps");
      assertEquals(List.of(), o.recorder.anomalies, "anomalies");
      assertArrayEquals(expected, o.recorder.bytes(), "delivered stream");
      assertAccounted(feed, o);
      assertCompletionTimes(c, feed, o);
      // (a window of a lone FIN starts nothing: there is no byte to anchor on)
      boolean finFed = o.reassembler.started()
          && feed.steps.stream().anyMatch(s -> s instanceof Data data && data.fin);
      assertEquals(finFed, o.reassembler.finished(), "finished exactly when the FIN was fed");
    });
  }

  /** With drops: delivered bytes and gaps tile the stream; the gaps are exactly the ranges no copy reached. */
  @Test
  void withDropsBytesAndGapsTileTheStream() {
    forAllFed(r -> generate(r, new Profile(30, 0, false, 0, 0, 0)), (c, feed, o) -> {
      assertTiles(c, feed, o);
      for (Run gap : o.recorder.gaps()) {
        assertEquals(GapCause.STREAM_END, gap.cause, "only the flush declares gaps here: " + gap);
        boolean startsAfterBytes = gap.offset == 0 || feed.firstFedAt[(int) gap.offset - 1] != Feed.NEVER;
        boolean endsAtBytes = gap.end() == o.reassembler.deliveredOffset()
            || feed.firstFedAt[(int) gap.end()] != Feed.NEVER;
        assertTrue(startsAfterBytes && endsAtBytes, "a gap is one whole hole: " + gap);
      }
      assertEquals(List.of(), o.recorder.anomalies, "anomalies");
    });
  }

  /**
   * With acknowledgements interleaved at positions the sender had already sent and the
   * capture either already showed or lost for good: same tiling, and gaps only for bytes
   * that were dropped. With loose acks (anywhere up to the highest byte fed so far, as a
   * capture that shows an ACK before the data it acknowledges would) a gap may also cover
   * bytes whose every copy came after an ack beyond them, and nothing else.
   */
  @Test
  void withAcksGapsAreOnlyForBytesTheCaptureLostOrShowedTooLate() {
    forAllFed(r -> generate(r, new Profile(30, 30, r.nextInt(3) == 0, 0, 0, 0)), (c, feed, o) -> {
      assertTiles(c, feed, o);
      for (Run gap : o.recorder.gaps()) {
        assertTrue(gap.cause == GapCause.ACKED_NOT_CAPTURED || gap.cause == GapCause.STREAM_END, gap.toString());
      }
      assertEquals(List.of(), o.recorder.anomalies, "anomalies");
    });
  }

  /** Saving and restoring the state at random points changes nothing that comes out. */
  @Test
  void stateRoundTripsAnywhereChangeNothing() {
    PropertyCheck.forAll(TRIES, r -> generate(r, new Profile(20, 20, r.nextBoolean(), 0, 30, 50)),
        StreamReassemblerPropertyTest::shrink, c -> {
          Feed feed = feed(c);
          Outcome straight = run(c.with(x -> x.roundTripPct = 0), feed);
          Outcome restored = run(c, feed);
          assertEquals(straight.recorder.events(), restored.recorder.events());
          assertArrayEquals(state(straight.reassembler), state(restored.reassembler), "final state");
          assertEquals(straight.reassembler.retransmittedBytes(), restored.reassembler.retransmittedBytes());
          assertEquals(straight.reassembler.gapBytes(), restored.reassembler.gapBytes());
          assertEquals(straight.reassembler.finished(), restored.reassembler.finished(), "finished");
        });
  }

  /**
   * With tiny bounds and garbage mixed in (any sequence number, SYN/FIN flags, snap-length
   * cuts, acks, clocks going backwards): nothing throws, the buffered bytes stay within the
   * bound after every call (plus at most the call's own segment), the state reads back after
   * every call, and what comes out is still one contiguous run of bytes and gaps.
   */
  @Test
  void tinyBoundsAndGarbageStayBoundedAndNeverThrow() {
    forAllFed(r -> generate(r, new Profile(20, 20, true, 20, 0, 100)).with(x -> x.roundTripPct = 100),
        (c, feed, o) -> {
          assertFalse(o.reassembler.hasBuffered(), "nothing buffered after the flush");
          assertEquals(0, o.reassembler.bufferedBytes(), "buffered bytes after the flush");
          assertEquals(o.recorder.gapLength(), o.reassembler.gapBytes(), "gap bytes counted");
        });
  }

  /** A check of one fed case. */
  private interface FedCheck {
    void check(Case c, Feed feed, Outcome outcome);
  }

  /** Checks {@link #TRIES} generated cases, each fed once and flushed. */
  private static void forAllFed(Function<SplittableRandom, Case> generate, FedCheck check) {
    PropertyCheck.forAll(TRIES, generate, StreamReassemblerPropertyTest::shrink, c -> {
      Feed feed = feed(c);
      check.check(c, feed, run(c, feed));
    });
  }

  // ---------------------------------------------------------------------------------------
  // Cases

  /** What a property varies (maximum percentages per segment; 0 turns a disturbance off). */
  private record Profile(int maxDropPct, int maxAckPct, boolean looseAcks, int maxGarbagePct, int maxRoundTripPct,
      int tinyLimitsPct) {}

  /**
   * One try: the window [start, start + length) of a direction's segments (capture order), and
   * how it is disturbed before it is fed (percentages are per segment). The disturbances draw
   * from {@code seed}.
   */
  private static final class Case implements Cloneable {
    int direction;
    int start;
    int length;
    int reorderDistance;
    int duplicatePct;
    int resegmentPct;
    int dropPct;
    int ackPct;
    boolean looseAcks;
    int garbagePct;
    int roundTripPct;
    /** sequence numbers wrap at this byte of the window (modulo its length) */
    boolean wrap;
    int wrapAt;
    /** the clock sometimes goes backwards */
    boolean jitter;
    ReassemblyLimits limits = PATIENT;
    long seed;

    /** A copy with {@code change} applied. */
    Case with(Consumer<Case> change) {
      try {
        Case c = (Case) clone();
        change.accept(c);
        return c;
      } catch (CloneNotSupportedException e) {
        throw new AssertionError(e);
      }
    }

    @Override
    public String toString() {
      return directions.get(direction).name() + " segments [" + start + ", " + (start + length) + ")"
          + " reorder<=" + reorderDistance + " dup " + duplicatePct + "% recut " + resegmentPct + "% drop "
          + dropPct + "% ack " + ackPct + "%" + (looseAcks ? " (loose)" : "") + " garbage " + garbagePct
          + "% round-trip " + roundTripPct + "%" + (wrap ? " seq wraps at window byte " + wrapAt : "")
          + (jitter ? " clock jitter" : "") + " " + limits + " seed " + seed;
    }
  }

  /** A whole direction, undisturbed. */
  private static Case whole(int direction) {
    Case c = new Case();
    c.direction = direction;
    c.length = directions.get(direction).segments().size();
    return c;
  }

  private static Case generate(SplittableRandom r, Profile p) {
    int direction;
    if (r.nextBoolean()) {
      direction = r.nextInt(directions.size());
    } else { // weighted by bytes: the long multi-segment transfers get their share
      long pick = r.nextLong(totalBytes);
      direction = 0;
      while (pick >= directions.get(direction).stream().length) {
        pick -= directions.get(direction).stream().length;
        direction++;
      }
    }
    Case c = whole(direction);
    if (r.nextBoolean()) {
      int n = c.length;
      c.length = 1 + r.nextInt(n);
      c.start = r.nextInt(n - c.length + 1);
    }
    c.reorderDistance = r.nextInt(33);
    c.duplicatePct = r.nextInt(21);
    c.resegmentPct = r.nextInt(21);
    c.dropPct = pct(r, p.maxDropPct);
    c.ackPct = pct(r, p.maxAckPct);
    c.looseAcks = p.looseAcks;
    c.garbagePct = pct(r, p.maxGarbagePct);
    c.roundTripPct = pct(r, p.maxRoundTripPct);
    c.wrap = r.nextBoolean();
    c.wrapAt = r.nextInt(1 << 20);
    c.jitter = p.maxGarbagePct > 0 && r.nextBoolean();
    if (r.nextInt(100) < p.tinyLimitsPct) {
      c.limits = new ReassemblyLimits(r.nextInt(4097), 1 + r.nextInt(16),
          r.nextBoolean() ? r.nextLong(1, 100 * STEP_NS) : PATIENT.reorderTimeoutNs());
    }
    c.seed = r.nextLong();
    return c;
  }

  private static int pct(SplittableRandom r, int max) {
    return max == 0 ? 0 : r.nextInt(max + 1);
  }

  /** Smaller windows first, then fewer disturbances of each kind. */
  private static List<Case> shrink(Case c) {
    List<Case> out = new ArrayList<>();
    if (c.length > 1) {
      out.add(c.with(x -> x.length = c.length / 2));
      out.add(c.with(x -> {
        x.start = c.start + c.length / 2;
        x.length = c.length - c.length / 2;
      }));
      out.add(c.with(x -> x.length = c.length - 1));
      out.add(c.with(x -> {
        x.start = c.start + 1;
        x.length = c.length - 1;
      }));
    }
    less(out, c, c.reorderDistance, (x, v) -> x.reorderDistance = v);
    less(out, c, c.duplicatePct, (x, v) -> x.duplicatePct = v);
    less(out, c, c.resegmentPct, (x, v) -> x.resegmentPct = v);
    less(out, c, c.dropPct, (x, v) -> x.dropPct = v);
    less(out, c, c.ackPct, (x, v) -> x.ackPct = v);
    less(out, c, c.garbagePct, (x, v) -> x.garbagePct = v);
    less(out, c, c.roundTripPct, (x, v) -> x.roundTripPct = v);
    if (c.wrap || c.jitter || c.looseAcks) {
      out.add(c.with(x -> {
        x.wrap = false;
        x.jitter = false;
        x.looseAcks = false;
      }));
    }
    return out;
  }

  /** Candidates with none and with half of one disturbance. */
  private static void less(List<Case> out, Case c, int value, ObjIntConsumer<Case> set) {
    if (value > 0) {
      out.add(c.with(x -> set.accept(x, 0)));
      out.add(c.with(x -> set.accept(x, value / 2)));
    }
  }

  // ---------------------------------------------------------------------------------------
  // Feeds: what the reassembler is given

  /** One call into the reassembler. */
  private sealed interface Step permits Data, Ack, Raw, RawAck {}

  /** Recorded bytes [offset, offset + length) of the direction (a SYN: length 0). */
  private record Data(long offset, int length, boolean syn, boolean fin) implements Step {
    long end() {
      return offset + length;
    }
  }

  /** The peer acknowledged every byte before {@code offset}. */
  private record Ack(long offset) implements Step {}

  /** A segment that is not part of the recording: any sequence number, flags and bytes. */
  private record Raw(long seq, boolean syn, boolean fin, byte[] payload, int wireLen) implements Step {}

  /** An acknowledgement of any sequence number. */
  private record RawAck(long seq) implements Step {}

  /**
   * A disturbed window, with what the checks need to know about it. Offsets in
   * {@code firstFedAt} and {@code ackedBefore} are relative to {@code origin} (the
   * reassembler's offset 0).
   */
  private static final class Feed {
    static final int NEVER = Integer.MAX_VALUE;

    final List<Step> steps = new ArrayList<>();
    /** stream offset of the window's first byte */
    long origin;
    /** stream offset after the window's last byte */
    long windowEnd;
    /** seq = baseSeq + offset + shift (mod 2^32): where the sequence numbers wrap */
    long shift;
    /** per byte: the index of the first step that carried it, or NEVER */
    int[] firstFedAt;
    /** per byte: the index of the first ack beyond it, or NEVER */
    int[] ackedBefore;
    /** payload bytes in all Data steps */
    long fedBytes;
  }

  private static Feed feed(Case c) {
    Direction d = directions.get(c.direction);
    SplittableRandom r = new SplittableRandom(c.seed);
    Feed f = new Feed();
    List<Data> window = new ArrayList<>();
    for (int i = c.start; i < c.start + c.length; i++) {
      RecordedDirections.Segment s = d.segments().get(i);
      window.add(s.syn() ? new Data(0, 0, true, false) : new Data(d.offsetOf(s), s.payload().length, false, s.fin()));
    }
    // the reassembler anchors on the first segment it sees: a SYN, or one with bytes
    while (window.size() > 1 && !window.get(0).syn && window.get(0).length == 0) {
      window.remove(0);
    }
    Data anchor = window.get(0);
    f.origin = anchor.offset;
    f.windowEnd = window.stream().mapToLong(Data::end).max().orElseThrow();
    long span = f.windowEnd - f.origin;
    f.shift = !c.wrap ? 0 : (-(d.baseSeq() + f.origin + (span == 0 ? 0 : c.wrapAt % span))) & SEQ_MASK;

    // re-cut, duplicate, drop
    List<Data> disturbed = new ArrayList<>();
    for (Data s : window.subList(1, window.size())) {
      List<Data> copies = new ArrayList<>();
      if (s.length >= 2 && r.nextInt(100) < c.resegmentPct) {
        // two retransmits of this segment that overlap each other: [offset, b) and [a, end), a < b
        long b = s.offset + 1 + r.nextInt(s.length);
        long a = s.offset + r.nextInt((int) (b - s.offset));
        copies.add(new Data(s.offset, (int) (b - s.offset), false, false));
        copies.add(new Data(a, (int) (s.end() - a), false, s.fin));
      } else {
        copies.add(s);
      }
      if (s.length >= 1 && s.end() < f.windowEnd && r.nextInt(100) < c.resegmentPct) {
        // a retransmit straddling this segment's end and what follows it
        long a = s.offset + r.nextInt(s.length);
        long b = Math.min(f.windowEnd, s.end() + 1 + r.nextInt(3000));
        copies.add(new Data(a, (int) (b - a), false, false));
      }
      for (Data copy : copies) {
        disturbed.add(copy);
        if (r.nextInt(100) < c.duplicatePct) {
          disturbed.add(copy);
        }
      }
    }
    disturbed.removeIf(s -> r.nextInt(100) < c.dropPct);
    // reorder within a bounded distance: each moves by at most reorderDistance places
    List<double[]> keyed = new ArrayList<>();
    for (int i = 0; i < disturbed.size(); i++) {
      keyed.add(new double[] {i + r.nextDouble() * (c.reorderDistance + 1), i});
    }
    keyed.sort(Comparator.comparingDouble(k -> k[0]));
    List<Data> order = new ArrayList<>();
    order.add(anchor);
    keyed.forEach(k -> order.add(disturbed.get((int) k[1])));

    // which step first carried each byte: the acks need it, and so do the checks
    int span32 = Math.toIntExact(span);
    int[] firstFedIndex = new int[span32];
    Arrays.fill(firstFedIndex, Feed.NEVER);
    for (int i = 0; i < order.size(); i++) {
      Data s = order.get(i);
      for (long b = s.offset; b < s.end(); b++) {
        int rel = (int) (b - f.origin);
        firstFedIndex[rel] = Math.min(firstFedIndex[rel], i);
      }
    }
    // interleave acks and garbage; indexes in firstFedAt become step indexes
    int[] stepOfData = new int[order.size()];
    List<Integer> ackSteps = new ArrayList<>();
    int safe = 0; // bytes before it were fed already or never will be
    long fedEnd = 0;
    long finAt = -1; // once the FIN was fed: where the stream ends
    List<Long> ackedUpTo = new ArrayList<>(); // what each ack covers: a FIN takes a sequence number, not a byte
    for (int i = 0; i < order.size(); i++) {
      Data s = order.get(i);
      if (c.garbagePct > 0 && r.nextInt(100) < c.garbagePct) {
        f.steps.add(garbage(r, d, f));
      }
      stepOfData[i] = f.steps.size();
      f.steps.add(s);
      f.fedBytes += s.length;
      if (s.fin) {
        finAt = s.end() - f.origin;
      }
      if (s.length > 0) {
        fedEnd = Math.max(fedEnd, s.end() - f.origin);
      }
      while (safe < span32 && (firstFedIndex[safe] <= i || firstFedIndex[safe] == Feed.NEVER)) {
        safe++;
      }
      if (r.nextInt(100) < c.ackPct) {
        long upTo = c.looseAcks ? fedEnd : safe;
        if (upTo == finAt) {
          upTo++; // the peer acknowledges the FIN
        }
        Ack ack = new Ack(r.nextLong(upTo + 1));
        ackedUpTo.add(finAt >= 0 ? Math.min(ack.offset, finAt) : ack.offset);
        ackSteps.add(f.steps.size());
        f.steps.add(ack);
      }
      if (c.garbagePct > 0 && r.nextInt(100) < c.garbagePct) {
        f.steps.add(r.nextBoolean() ? new RawAck(r.nextLong(1L << 32))
            : new Ack(r.nextLong(Math.max(1, span + 3000)) - 1000));
      }
    }
    long tileEnd = fedEnd;
    for (long a : ackedUpTo) {
      tileEnd = Math.max(tileEnd, a);
    }
    if (finAt >= 0) {
      tileEnd = Math.max(tileEnd, finAt); // bytes lost before a captured FIN are a gap at the end
    }
    f.firstFedAt = new int[Math.toIntExact(tileEnd)];
    Arrays.fill(f.firstFedAt, Feed.NEVER);
    for (int b = 0; b < Math.min(span32, f.firstFedAt.length); b++) {
      if (firstFedIndex[b] != Feed.NEVER) {
        f.firstFedAt[b] = stepOfData[firstFedIndex[b]];
      }
    }
    f.ackedBefore = new int[f.firstFedAt.length];
    Arrays.fill(f.ackedBefore, Feed.NEVER);
    int acked = 0;
    for (int i = 0; i < ackedUpTo.size(); i++) {
      for (; acked < ackedUpTo.get(i); acked++) {
        f.ackedBefore[acked] = ackSteps.get(i);
      }
    }
    return f;
  }

  /** Bytes that are no part of the stream, near it or anywhere in sequence space. */
  private static Raw garbage(SplittableRandom r, Direction d, Feed f) {
    long seq = r.nextBoolean() ? r.nextLong(1L << 32)
        : (d.baseSeq() + f.shift + f.origin + r.nextLong(-70_000, f.windowEnd - f.origin + 70_000)) & SEQ_MASK;
    byte[] payload = new byte[r.nextInt(4) == 0 ? 0 : r.nextInt(1, 3000)];
    r.nextBytes(payload);
    int wireLen = r.nextInt(5) == 0 ? payload.length + r.nextInt(1, 3000) : payload.length;
    return new Raw(seq, r.nextInt(20) == 0, r.nextInt(20) == 0, payload, wireLen);
  }

  // ---------------------------------------------------------------------------------------
  // Running a feed

  /** A contiguous piece of the output: delivered bytes, or a gap (data == null). */
  private record Run(long offset, long length, byte[] data, GapCause cause, long tsNs) {
    long end() {
      return offset + length;
    }

    @Override
    public String toString() {
      return (data == null ? "gap " + cause : "bytes") + " [" + offset + ", " + end() + ")@" + tsNs;
    }
  }

  /** What came out, checked as it comes: one contiguous run from offset 0, no empty pieces. */
  private static final class Recorder implements StreamReassembler.Receiver {
    final List<Run> runs = new ArrayList<>();
    final List<String> anomalies = new ArrayList<>();
    long next;
    long now;
    boolean clockMonotonic = true;

    @Override
    public void bytes(byte[] buf, int off, int len, long streamOffset, long tsNs) {
      check(streamOffset, len);
      if (clockMonotonic && tsNs > now) {
        fail("bytes [" + streamOffset + ", " + (streamOffset + len) + ") complete at " + tsNs + ", after now " + now);
      }
      runs.add(new Run(streamOffset, len, Arrays.copyOfRange(buf, off, off + len), null, tsNs));
    }

    @Override
    public void gap(long streamOffset, long length, long tsNs, GapCause cause) {
      check(streamOffset, length);
      runs.add(new Run(streamOffset, length, null, cause, tsNs));
    }

    @Override
    public void anomaly(String name, long streamOffset, String detail) {
      anomalies.add(name + " at " + streamOffset + ": " + detail);
    }

    private void check(long offset, long length) {
      if (offset != next || length <= 0) {
        fail("output not contiguous: [" + offset + ", " + (offset + length) + ") after " + next + "; so far " + runs);
      }
      next = offset + length;
    }

    List<Run> gaps() {
      return runs.stream().filter(r -> r.data == null).toList();
    }

    long gapLength() {
      return gaps().stream().mapToLong(Run::length).sum();
    }

    byte[] bytes() {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      runs.stream().filter(r -> r.data != null).forEach(r -> out.writeBytes(r.data));
      return out.toByteArray();
    }

    /** Everything that came out, in order, comparable. */
    List<String> events() {
      List<String> out = new ArrayList<>();
      for (Run r : runs) {
        CRC32 crc = new CRC32();
        if (r.data != null) {
          crc.update(r.data);
        }
        out.add(r + " crc " + crc.getValue());
      }
      out.addAll(anomalies);
      return out;
    }
  }

  private record Outcome(StreamReassembler reassembler, Recorder recorder) {}

  private static Outcome run(Case c, Feed f) {
    Direction d = directions.get(c.direction);
    SplittableRandom r = new SplittableRandom(c.seed ^ 0x5eed);
    StreamReassembler reassembler = new StreamReassembler();
    Recorder out = new Recorder();
    out.clockMonotonic = !c.jitter;
    long t0 = d.segments().get(0).tsNs();
    for (int i = 0; i < f.steps.size(); i++) {
      long ts = t0 + (i + 1) * STEP_NS - (c.jitter && r.nextInt(10) == 0 ? r.nextLong(50 * STEP_NS) : 0);
      out.now = ts;
      Step step = f.steps.get(i);
      long segmentBytes = 0;
      if (step instanceof Data s) {
        long seq = (d.baseSeq() + f.shift + (s.syn ? -1 : s.offset)) & SEQ_MASK;
        byte[] payload = Arrays.copyOfRange(d.stream(), (int) s.offset, (int) s.end());
        reassembler.segment(seq, s.syn, s.fin, payload, ts, c.limits, out);
        segmentBytes = s.length;
      } else if (step instanceof Ack a) {
        reassembler.acked((d.baseSeq() + f.shift + f.origin + a.offset) & SEQ_MASK, ts, out);
      } else if (step instanceof Raw g) {
        reassembler.segment(g.seq, g.syn, g.fin, g.payload, g.wireLen, ts, c.limits, out);
        segmentBytes = g.payload.length;
      } else if (step instanceof RawAck a) {
        reassembler.acked(a.seq, ts, out);
      }
      if (reassembler.bufferedBytes() > c.limits.maxBufferedBytes() + segmentBytes) {
        fail("after step " + i + " (" + step + ") " + reassembler.bufferedBytes() + " bytes buffered, bound "
            + c.limits.maxBufferedBytes());
      }
      if (c.roundTripPct > 0 && r.nextInt(100) < c.roundTripPct) {
        byte[] saved = state(reassembler);
        StreamReassembler restored = restore(saved);
        assertArrayEquals(saved, state(restored), "a restored state writes the same bytes");
        assertEquals(reassembler.bufferedBytes(), restored.bufferedBytes(), "buffered bytes: counted and restored");
        reassembler = restored;
      }
    }
    out.now = t0 + (f.steps.size() + 1) * STEP_NS;
    reassembler.flush(out.now, out);
    return new Outcome(reassembler, out);
  }

  private static byte[] state(StreamReassembler r) {
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      r.writeTo(new DataOutputStream(bytes));
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static StreamReassembler restore(byte[] state) {
    try {
      return StreamReassembler.readFrom(new DataInputStream(new ByteArrayInputStream(state)));
    } catch (IOException e) {
      throw new AssertionError("a state the reassembler wrote does not read back", e);
    }
  }

  // ---------------------------------------------------------------------------------------
  // Checks

  /**
   * The output covers [0, end) once (checked as it came), where end is the last byte fed or
   * acknowledged, or the FIN's position when one was captured; a byte is delivered, with its
   * recorded value, exactly when a copy of it was fed before any ack beyond it; otherwise it
   * is inside a gap.
   */
  private static void assertTiles(Case c, Feed f, Outcome o) {
    byte[] stream = directions.get(c.direction).stream();
    assertEquals(f.firstFedAt.length, o.reassembler.deliveredOffset(), "delivered up to the last byte fed or acked, or the FIN");
    for (Run run : o.recorder.runs) {
      for (long b = run.offset; b < run.end(); b++) {
        int i = (int) b;
        boolean lost = f.firstFedAt[i] == Feed.NEVER || f.ackedBefore[i] < f.firstFedAt[i];
        if (run.data == null && !lost) {
          fail("byte " + b + " was fed (step " + f.firstFedAt[i] + ", first ack beyond it at step "
              + (f.ackedBefore[i] == Feed.NEVER ? "none" : f.ackedBefore[i]) + ") but is inside " + run);
        }
        if (run.data != null && lost) {
          fail("byte " + b + " was never fed before an ack beyond it, yet delivered in " + run);
        }
        if (run.data != null && run.data[(int) (b - run.offset)] != stream[(int) (f.origin + b)]) {
          fail("byte " + b + " delivered with a value the stream does not have, in " + run);
        }
      }
    }
    assertAccounted(f, o);
    assertCompletionTimes(c, f, o);
  }

  /**
   * Bytes are complete when every byte before them is: a run's time is the latest first
   * capture of any byte from the end of the last gap up to its own end (after a gap nothing
   * was waited for, so the count starts again).
   */
  private static void assertCompletionTimes(Case c, Feed f, Outcome o) {
    long t0 = directions.get(c.direction).segments().get(0).tsNs();
    long complete = Long.MIN_VALUE;
    for (Run run : o.recorder.runs) {
      if (run.data == null) {
        complete = Long.MIN_VALUE;
        continue;
      }
      for (long b = run.offset; b < run.end(); b++) {
        complete = Math.max(complete, t0 + (f.firstFedAt[(int) b] + 1) * STEP_NS);
      }
      assertEquals(complete, run.tsNs, "completion time of " + run);
    }
  }

  /** Every byte fed is delivered or counted as retransmitted; nothing is left buffered. */
  private static void assertAccounted(Feed f, Outcome o) {
    long delivered = o.recorder.runs.stream().filter(r -> r.data != null).mapToLong(Run::length).sum();
    assertEquals(f.fedBytes - delivered, o.reassembler.retransmittedBytes(), "retransmitted bytes");
    assertEquals(o.recorder.gapLength(), o.reassembler.gapBytes(), "gap bytes");
    assertEquals(0, o.reassembler.bufferedBytes(), "buffered bytes after the flush");
    assertFalse(o.reassembler.hasBuffered(), "pieces after the flush");
  }
}
