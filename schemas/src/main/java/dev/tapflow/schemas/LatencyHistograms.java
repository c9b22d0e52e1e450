package dev.tapflow.schemas;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.zip.DataFormatException;
import org.HdrHistogram.Histogram;

/**
 * The latency histogram of {@link LatencyWindow#getHistogram()}: an HdrHistogram of
 * nanoseconds with {@value #SIGNIFICANT_DIGITS} significant digits, auto-resizing (any
 * value from 1 ns up), in HdrHistogram's compressed V2 encoding. Every writer and reader of
 * that field goes through here, so the precision and the encoding are stated once.
 */
public final class LatencyHistograms {
  /** HdrHistogram's numberOfSignificantValueDigits. */
  public static final int SIGNIFICANT_DIGITS = 3;
  /**
   * HdrHistogram's stated precision for {@value #SIGNIFICANT_DIGITS} digits: a value read
   * back (a percentile, the max) lies within this fraction of a recorded value.
   */
  public static final double RELATIVE_ERROR = 1e-3;

  private LatencyHistograms() {}

  /** An empty histogram that grows to whatever is recorded. */
  public static Histogram create() {
    return new Histogram(SIGNIFICANT_DIGITS);
  }

  /** The compressed V2 encoding. */
  public static byte[] encode(Histogram h) {
    ByteBuffer buf = ByteBuffer.allocate(h.getNeededByteBufferCapacity());
    int n = h.encodeIntoCompressedByteBuffer(buf);
    return Arrays.copyOf(buf.array(), n);
  }

  /**
   * Reads an encoding made by {@link #encode}; the result auto-resizes, so more values and
   * other histograms can be added to it.
   *
   * @throws IllegalArgumentException when the bytes are not such an encoding
   */
  public static Histogram decode(ByteBuffer bytes) {
    try {
      Histogram h = Histogram.decodeFromCompressedByteBuffer(bytes.duplicate(), 0);
      h.setAutoResize(true);
      return h;
    } catch (DataFormatException | RuntimeException e) {
      throw new IllegalArgumentException("not an HdrHistogram compressed encoding: " + e, e);
    }
  }

  public static Histogram decode(byte[] bytes) {
    return decode(ByteBuffer.wrap(bytes));
  }
}
