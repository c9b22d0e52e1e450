package dev.tapflow.capture;

/**
 * A connection's identity in canonical order, as primitives: the flow map's key. The batcher
 * fills one mutable probe per packet and looks it up without allocating; only a new connection
 * gets its own copy. Addresses are held as big-endian numbers (IPv4 in {@code aLo}/{@code bLo},
 * IPv6 as two halves), so comparing them unsigned compares the address bytes unsigned.
 */
final class FlowKey {
  int transport;
  boolean v6;
  long aHi;
  long aLo;
  int portA;
  long bHi;
  long bLo;
  int portB;
  /** {@link #hashCode}, computed once by {@link #fill}. */
  private int hash;

  /**
   * Fills this key from a decoded packet, endpoints in canonical order.
   *
   * @return true when the packet goes from endpoint a to endpoint b
   */
  boolean fill(DecodedPacket p) {
    byte[] f = p.frame;
    long sHi;
    long sLo;
    long dHi;
    long dLo;
    if (p.addrLen == 4) {
      sHi = 0;
      sLo = PacketDecoder.u32(f, p.srcAddrOff);
      dHi = 0;
      dLo = PacketDecoder.u32(f, p.dstAddrOff);
    } else {
      sHi = PacketDecoder.u64(f, p.srcAddrOff);
      sLo = PacketDecoder.u64(f, p.srcAddrOff + 8);
      dHi = PacketDecoder.u64(f, p.dstAddrOff);
      dLo = PacketDecoder.u64(f, p.dstAddrOff + 8);
    }
    transport = p.transport;
    v6 = p.addrLen == 16;
    int c = Long.compareUnsigned(sHi, dHi);
    if (c == 0) c = Long.compareUnsigned(sLo, dLo);
    if (c == 0) c = Integer.compare(p.srcPort, p.dstPort);
    boolean srcIsA = c <= 0;
    if (srcIsA) {
      aHi = sHi; aLo = sLo; portA = p.srcPort;
      bHi = dHi; bLo = dLo; portB = p.dstPort;
    } else {
      aHi = dHi; aLo = dLo; portA = p.dstPort;
      bHi = sHi; bLo = sLo; portB = p.srcPort;
    }
    hash = computeHash();
    return srcIsA;
  }

  FlowKey copy() {
    FlowKey k = new FlowKey();
    k.transport = transport;
    k.v6 = v6;
    k.aHi = aHi;
    k.aLo = aLo;
    k.portA = portA;
    k.bHi = bHi;
    k.bLo = bLo;
    k.portB = portB;
    k.hash = hash;
    return k;
  }

  /** Address a as bytes: 4 for IPv4, 16 for IPv6. */
  byte[] addrA() {
    return bytes(aHi, aLo);
  }

  /** Address b as bytes: 4 for IPv4, 16 for IPv6. */
  byte[] addrB() {
    return bytes(bHi, bLo);
  }

  private byte[] bytes(long hi, long lo) {
    if (!v6) {
      return new byte[] {(byte) (lo >>> 24), (byte) (lo >>> 16), (byte) (lo >>> 8), (byte) lo};
    }
    byte[] out = new byte[16];
    for (int i = 0; i < 8; i++) {
      out[i] = (byte) (hi >>> (56 - 8 * i));
      out[8 + i] = (byte) (lo >>> (56 - 8 * i));
    }
    return out;
  }

  @Override
  public boolean equals(Object o) {
    if (!(o instanceof FlowKey)) return false;
    FlowKey k = (FlowKey) o;
    return hash == k.hash && aLo == k.aLo && bLo == k.bLo && portA == k.portA && portB == k.portB
        && aHi == k.aHi && bHi == k.bHi && transport == k.transport && v6 == k.v6;
  }

  @Override
  public int hashCode() {
    return hash;
  }

  private int computeHash() {
    long h = aLo * 0x9E3779B97F4A7C15L;
    h = (h ^ bLo) * 0x9E3779B97F4A7C15L;
    h = (h ^ aHi ^ (bHi << 1)) * 0x9E3779B97F4A7C15L;
    h = (h ^ ((long) portA << 16 | portB) ^ ((long) transport << 40) ^ (v6 ? 1L << 48 : 0)) * 0x9E3779B97F4A7C15L;
    return (int) (h ^ (h >>> 32));
  }
}
