package dev.tapflow.capture;

import com.sun.jna.Callback;
import com.sun.jna.Native;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import org.pcap4j.core.NotOpenException;
import org.pcap4j.core.PcapHandle;
import org.pcap4j.core.PcapHandle.TimestampPrecision;
import org.pcap4j.core.PcapNativeException;
import org.pcap4j.core.Pcaps;
import org.pcap4j.core.RawPacketListener;

/**
 * Reads a pcap or pcapng file through libpcap (pcap4j), frame by frame, with nanosecond
 * timestamps whatever the file's precision. libpcap opens every file (its checks, its link
 * type); a classic pcap file whose records are all sound is then read in Java
 * ({@link PcapRecords}: ~10x faster than the callback below), anything else by libpcap.
 *
 * <p>Uses libpcap's callback loop ({@code pcap_loop} via {@code PcapHandle.loop}), which is
 * 2-5x faster than pulling packets one by one. pcap4j keeps the timestamp and original length
 * of the current packet in thread-locals, so they are read inside the callback. Exceptions
 * thrown by the listener stop the loop ({@code pcap_breakloop}) and are rethrown by
 * {@link #read} unchanged; errors of the file itself (corrupt, truncated) become a
 * {@link CaptureFileException} with libpcap's message.
 *
 * <p>pcap4j itself can throw inside libpcap's callback, before our listener runs (e.g. a
 * corrupt record whose nanoseconds exceed 999999999). JNA would log that and carry on, losing
 * the packet; a JNA callback exception handler routes it back to the reading thread's reader,
 * which stops and reports the file as corrupt.
 *
 * <p>Not thread-safe; one {@link #read} per reader.
 */
public final class PcapFileReader implements AutoCloseable {
  /** The reader looping on this thread, for exceptions thrown inside JNA callbacks. */
  private static final ThreadLocal<PcapFileReader> READING = new ThreadLocal<>();

  static {
    Callback.UncaughtExceptionHandler previous = Native.getCallbackExceptionHandler();
    Native.setCallbackExceptionHandler((callback, e) -> {
      PcapFileReader reader = READING.get();
      if (reader != null) {
        reader.callbackFailure = e;
        reader.breakLoop();
      } else if (previous != null) {
        previous.uncaughtException(callback, e);
      }
    });
  }

  private Throwable callbackFailure;
  private final Path file;
  private final PcapHandle handle;
  private final int linkType;
  private long frames;
  private boolean read;

  private PcapFileReader(Path file, PcapHandle handle, int linkType) {
    this.file = file;
    this.handle = handle;
    this.linkType = linkType;
  }

  /** Opens {@code file}; fails with a one-line reason if it is missing or not a readable capture. */
  public static PcapFileReader open(Path file) throws CaptureFileException {
    if (Files.isDirectory(file)) {
      throw new CaptureFileException(file, "is a directory");
    }
    if (!Files.exists(file)) {
      throw new CaptureFileException(file, "no such file");
    }
    if (!Files.isReadable(file)) {
      throw new CaptureFileException(file, "not readable (permission denied)");
    }
    PcapHandle handle;
    try {
      handle = Pcaps.openOffline(file.toString(), TimestampPrecision.NANO);
    } catch (PcapNativeException e) {
      throw new CaptureFileException(file, "not a readable pcap/pcapng file (file header at byte 0): " + e.getMessage(), e);
    } catch (RuntimeException | UnsatisfiedLinkError e) {
      // JNA could not load libpcap, or pcap4j failed otherwise
      throw new CaptureFileException(file, "cannot open with libpcap: " + e, e);
    }
    Integer dlt = handle.getDlt().value();
    return new PcapFileReader(file, handle, dlt == null ? -1 : dlt);
  }

  /** The file's link type as libpcap reports it (a DLT_ value; see {@link LinkType}). */
  public int linkType() {
    return linkType;
  }

  /** The file being read. */
  public Path file() {
    return file;
  }

  /** Frames passed to the listener so far. */
  public long frames() {
    return frames;
  }

  /**
   * Reads every frame to the end of the file.
   *
   * @return the number of frames read
   * @throws CaptureFileException if the file turns out corrupt or truncated (frames before the
   *     damage were passed to the listener)
   */
  public long read(FrameListener listener) throws CaptureFileException {
    return read((tsNs, wireLen, buf, off, len) -> listener.onFrame(tsNs, wireLen, java.util.Arrays.copyOfRange(buf, off, off + len)));
  }

  /**
   * As {@link #read(FrameListener)}, each frame a slice of a buffer valid only during the call:
   * a classic pcap file whose framing is sound is read in Java ({@link PcapRecords}, no copy per
   * frame), anything else by libpcap.
   */
  long read(PcapRecords.SliceListener listener) throws CaptureFileException {
    if (read) {
      throw new IllegalStateException("a capture file is read once");
    }
    PcapRecords records = PcapRecords.check(file);
    if (records == null) {
      return readWithLibpcap(listener);
    }
    read = true;
    try {
      records.read((tsNs, wireLen, buf, off, len) -> {
        frames++;
        listener.onFrame(tsNs, wireLen, buf, off, len);
      });
      return frames;
    } catch (java.io.IOException e) {
      throw new CaptureFileException(file, "read error after " + frames + " packets: " + e.getMessage(), e);
    }
  }

  private long readWithLibpcap(PcapRecords.SliceListener listener) throws CaptureFileException {
    if (read) {
      throw new IllegalStateException("a capture file is read once");
    }
    read = true;
    RuntimeException[] listenerFailure = new RuntimeException[1];
    Error[] listenerError = new Error[1];
    RawPacketListener callback = raw -> {
      if (listenerFailure[0] != null || listenerError[0] != null) {
        return;
      }
      try {
        Timestamp ts = handle.getTimestamp();
        long sec = Math.floorDiv(ts.getTime(), 1000L);
        if (sec < 0) {
          sec += 1L << 32; // libpcap reads pcap's 32-bit seconds as signed: past 2038 they wrap
        }
        long tsNs = sec * 1_000_000_000L + ts.getNanos();
        int wireLen = handle.getOriginalLength();
        frames++;
        listener.onFrame(tsNs, wireLen, raw, 0, raw.length);
      } catch (RuntimeException e) {
        listenerFailure[0] = e;
        breakLoop();
      } catch (Error e) {
        listenerError[0] = e;
        breakLoop();
      }
    };
    READING.set(this);
    try {
      handle.loop(-1, callback);
    } catch (PcapNativeException e) {
      String reason = handle.isOpen() ? nativeError(e) : e.getMessage();
      throw new CaptureFileException(file, "corrupt or truncated after " + frames + " packets" + at() + ": " + reason, e);
    } catch (InterruptedException e) {
      // pcap_breakloop: ours after a failure, handled below
      if (listenerFailure[0] == null && listenerError[0] == null && callbackFailure == null) {
        Thread.currentThread().interrupt();
        throw new CaptureFileException(file, "reading interrupted after " + frames + " packets", e);
      }
    } catch (NotOpenException e) {
      throw new IllegalStateException("capture handle closed while reading " + file, e);
    } finally {
      READING.remove();
    }
    if (callbackFailure != null) {
      throw new CaptureFileException(file, "corrupt packet record after " + frames + " packets" + at() + ": "
          + callbackFailure.getMessage(), callbackFailure);
    }
    if (listenerError[0] != null) {
      throw listenerError[0];
    }
    if (listenerFailure[0] != null) {
      throw listenerFailure[0];
    }
    return frames;
  }

  /** Where the record after the frames read starts, as ", at byte N" (empty when the file's framing does not say). */
  private String at() {
    long offset = CaptureFileOffsets.afterPackets(file, frames);
    return offset < 0 ? "" : ", at byte " + offset;
  }

  private static String nativeError(PcapNativeException e) {
    // pcap4j says "Error occurred: <pcap_geterr>"; keep libpcap's words
    String m = e.getMessage();
    String prefix = "Error occurred: ";
    return m != null && m.startsWith(prefix) ? m.substring(prefix.length()) : m;
  }

  private void breakLoop() {
    try {
      handle.breakLoop();
    } catch (NotOpenException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public void close() {
    handle.close();
  }
}
