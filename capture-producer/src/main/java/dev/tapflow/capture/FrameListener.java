package dev.tapflow.capture;

/** Receives the frames of a capture, in file order, on the reading thread. */
@FunctionalInterface
public interface FrameListener {

  /**
   * One captured frame.
   *
   * @param tsNs capture time, ns since the epoch
   * @param wireLen original length on the wire
   * @param frame the captured bytes (its length is the captured length); owned by the listener
   */
  void onFrame(long tsNs, int wireLen, byte[] frame);
}
