"""tcpdump's reading of a capture as a TSV: `tcpdump -tt -nn -v --nano -r FILE | python3 tcpdump_packets.py`.

One row per IPv4 packet, in capture order:
  ts_ns           capture time, ns since the epoch
  proto           udp or tcp
  src, dst        ip:port, or a bare address for a non-first IP fragment (no transport header)
  ip_id           IP identification
  frag_offset     fragment offset in bytes; more_fragments 1 when the MF flag is set
  seq             TCP: sequence number as tcpdump prints it (relative: 1 is the first byte after the SYN); else -
  len             TCP payload bytes, or the IP payload bytes of a UDP packet or fragment
  dns_id, qr      where tcpdump decoded a DNS message starting in the packet: its id and q (query) or r; else -
"""
import re
import sys

HEAD = re.compile(r"(\d+)\.(\d{9}) IP \(.*?id (\d+), offset (\d+), flags \[([^\]]*)\], proto (\w+) \(\d+\), length (\d+)\)")


def endpoint(s):
    return re.sub(r"\.(\d+)$", r":\1", s) if s.count(".") == 4 else s


def main():
    lines = sys.stdin.read().splitlines()
    print("ts_ns\tproto\tsrc\tdst\tip_id\tfrag_offset\tmore_fragments\tseq\tlen\tdns_id\tqr")
    i = 0
    while i < len(lines):
        head = lines[i]
        i += 1
        body = ""
        while i < len(lines) and lines[i].startswith(" "):
            body += " " + lines[i].strip()
            i += 1
        m = HEAD.match(head)
        if not m:
            sys.exit("unexpected tcpdump line: " + head)
        ipid, off, flags, proto, iplen = m.group(3), m.group(4), m.group(5), m.group(6).lower(), int(m.group(7))
        e = re.match(r" (\S+) > (\S+?):? (.*)", body)
        rest = e.group(3)
        seq, length, dns = "-", str(iplen - 20), None
        if proto == "tcp":
            s = re.search(r"seq (\d+)", rest)
            seq = s.group(1) if s else "-"
            length = re.search(r"length (\d+)", rest).group(1)
            dns = re.search(r"length \d+ (\d+)[*|+%-]*(?: \[\w+\])* ", rest)
        elif off == "0":
            dns = re.match(r"(\d+)[*|+%-]*(?: \[\w+\])* ", rest)
        dns_id, qr = "-", "-"
        if dns:
            dns_id = dns.group(1)
            qr = "q" if re.search(r" \S+\? ", rest) else "r"
        print("\t".join([m.group(1) + m.group(2), proto, endpoint(e.group(1)), endpoint(e.group(2)), ipid, off,
                         "1" if "+" in flags else "0", seq, length, dns_id, qr]))


main()
