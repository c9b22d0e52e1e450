package dev.tapflow.capture;

import dev.tapflow.schemas.ConnectionKey;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.ByteBuffer;
import java.util.Collection;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.Set;

/**
 * The capturing host's own IP addresses (those of its network namespace's interfaces, read
 * once when the agent starts), so each batch can say which endpoints of its connection live
 * on this host: the processor's strongest evidence of the capture's vantage (a connection
 * whose server address is local was captured on the server's host). Immutable.
 */
public final class LocalAddresses {
  /** {@code SegmentBatch.local_endpoints}: endpoint a of the ConnectionKey is local. */
  public static final int A = 1;
  /** {@code SegmentBatch.local_endpoints}: endpoint b is local. */
  public static final int B = 2;

  private static final LocalAddresses NONE = new LocalAddresses(Set.of());

  private final Set<ByteBuffer> addresses;

  private LocalAddresses(Set<ByteBuffer> addresses) {
    this.addresses = addresses;
  }

  /** No address known (file imports: the file says nothing about the host it came from). */
  public static LocalAddresses none() {
    return NONE;
  }

  /** These addresses (4 or 16 bytes each). */
  public static LocalAddresses of(Collection<byte[]> addresses) {
    Set<ByteBuffer> set = new HashSet<>();
    for (byte[] a : addresses) {
      set.add(ByteBuffer.wrap(a.clone()));
    }
    return new LocalAddresses(Set.copyOf(set));
  }

  /** Every address of every interface of this host (network namespace), loopback included; none if they cannot be listed. */
  public static LocalAddresses ofThisHost() {
    Set<byte[]> found = new java.util.LinkedHashSet<>();
    try {
      Enumeration<NetworkInterface> ifs = NetworkInterface.getNetworkInterfaces();
      while (ifs != null && ifs.hasMoreElements()) {
        Enumeration<InetAddress> as = ifs.nextElement().getInetAddresses();
        while (as.hasMoreElements()) {
          found.add(as.nextElement().getAddress());
        }
      }
    } catch (SocketException e) {
      return NONE; // then the processor decides from the handshake alone
    }
    return of(found);
  }

  /** Bits {@link #A} and {@link #B}: which endpoints of {@code key} are addresses of this host. */
  public int endpoints(ConnectionKey key) {
    if (addresses.isEmpty()) {
      return 0;
    }
    return (addresses.contains(key.getIpA()) ? A : 0) | (addresses.contains(key.getIpB()) ? B : 0);
  }

  public boolean isEmpty() {
    return addresses.isEmpty();
  }
}
