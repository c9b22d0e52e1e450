package dev.tapflow.capture;

import java.nio.file.Path;

/**
 * A capture file could not be opened or read to its end: missing, not a pcap/pcapng file,
 * corrupt or truncated. The message is one line naming the file and the reason (libpcap's own
 * words where it gave some), fit to show a user as is.
 */
public final class CaptureFileException extends Exception {
  private static final long serialVersionUID = 1L;

  private final transient Path file;

  public CaptureFileException(Path file, String reason) {
    super(file + ": " + oneLine(reason));
    this.file = file;
  }

  public CaptureFileException(Path file, String reason, Throwable cause) {
    super(file + ": " + oneLine(reason), cause);
    this.file = file;
  }

  /** The file that could not be read. */
  public Path file() {
    return file;
  }

  private static String oneLine(String s) {
    return s == null ? "unknown error" : s.replaceAll("\\s*[\\r\\n]+\\s*", " ").trim();
  }
}
