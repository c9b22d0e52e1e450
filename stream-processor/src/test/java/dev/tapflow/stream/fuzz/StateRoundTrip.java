package dev.tapflow.stream.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInput;
import java.io.DataInputStream;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;

/** Saves a state, reads it back, and checks the copy saves to the same bytes: what a restart does. */
final class StateRoundTrip {

  interface Writer<T> {
    void write(T state, DataOutput out) throws IOException;
  }

  interface Reader<T> {
    T read(DataInput in) throws IOException;
  }

  private StateRoundTrip() {}

  /** The state read back from {@code state}'s bytes; fails when it does not write the same bytes again. */
  static <T> T check(T state, Writer<T> writer, Reader<T> reader) throws IOException {
    byte[] first = bytes(state, writer);
    T restored = reader.read(new DataInputStream(new ByteArrayInputStream(first)));
    assertArrayEquals(first, bytes(restored, writer), "state reads back as written");
    return restored;
  }

  private static <T> byte[] bytes(T state, Writer<T> writer) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    writer.write(state, new DataOutputStream(out));
    return out.toByteArray();
  }
}
