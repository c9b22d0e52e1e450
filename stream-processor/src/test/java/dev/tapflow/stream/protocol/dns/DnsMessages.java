package dev.tapflow.stream.protocol.dns;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;

/** Test helper: DNS messages built with dnsjava, as wire bytes. */
final class DnsMessages {

  private DnsMessages() {}

  static Message query(int id, String name, int type) {
    try {
      Message m = Message.newQuery(Record.newRecord(Name.fromString(name, Name.root), type, DClass.IN));
      m.getHeader().setID(id);
      return m;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static byte[] queryBytes(int id, String name, int type) {
    return query(id, name, type).toWire();
  }

  /** The response to a query, with {@code answers} A records (or TXT records of 200 bytes for TXT queries). */
  static byte[] response(Message query, int rcode, int answers) {
    try {
      Message r = new Message(query.getHeader().getID());
      r.getHeader().setFlag(Flags.QR);
      r.getHeader().setRcode(rcode);
      r.getHeader().setOpcode(query.getHeader().getOpcode());
      Record q = query.getQuestion();
      r.addRecord(q, Section.QUESTION);
      for (int i = 0; i < answers; i++) {
        Record a = q.getType() == Type.TXT
            ? new TXTRecord(q.getName(), DClass.IN, 60, "x".repeat(200) + i)
            : new ARecord(q.getName(), DClass.IN, 60, InetAddress.getByAddress(new byte[] {10, 0, 0, (byte) i}));
        r.addRecord(a, Section.ANSWER);
      }
      return r.toWire();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static byte[] response(int id, String name, int type, int rcode, int answers) {
    return response(query(id, name, type), rcode, answers);
  }

  static byte[] ok(int id, String name, int type) {
    return response(id, name, type, Rcode.NOERROR, 1);
  }

  /** An UPDATE of zone {@code zone} (opcode 5, the zone in the question section). */
  static byte[] update(int id, String zone, boolean response, int rcode) {
    Message m = query(id, zone, Type.SOA);
    m.getHeader().setOpcode(Opcode.UPDATE);
    if (response) {
      m.getHeader().setFlag(Flags.QR);
      m.getHeader().setRcode(rcode);
    }
    return m.toWire();
  }

  /** With the 2-byte length prefix of DNS over TCP. */
  static byte[] tcp(byte[] message) {
    byte[] out = new byte[message.length + 2];
    out[0] = (byte) (message.length >> 8);
    out[1] = (byte) message.length;
    System.arraycopy(message, 0, out, 2, message.length);
    return out;
  }

  static byte[] concat(byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) {
      n += p.length;
    }
    byte[] out = new byte[n];
    int at = 0;
    for (byte[] p : parts) {
      System.arraycopy(p, 0, out, at, p.length);
      at += p.length;
    }
    return out;
  }
}
