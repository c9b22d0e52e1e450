#!/usr/bin/env python3
"""Records real memcached client/server byte streams as decoder test fixtures.

Starts the installed memcached on a random loopback port (TCP only: -U 0), puts a recording
TCP proxy in front of it, drives it with small raw-socket clients (text: storage, multi-get,
noreply, incr/decr, touch, delete, stats, meta commands with and without quiet mode; binary:
Set, GetK, a GetKQ batch closed by Noop, Delete, Increment/Decrement, Stat, Quit) and writes
one fixture per scenario to stream-processor/src/test/resources/memcached/<scenario>.mc:

    # comment lines
    <connection> <c|s> <capture time ns> <base64 of the bytes one recv() returned>

and <scenario>.truth: the deltas of memcached's own `stats` counters over the scenario
(cmd_get, cmd_set, get_hits, get_misses, delete_*, incr_*, decr_*, touch_*), read on a
connection that bypasses the proxy. The decoded facts must agree with them.

Usage: scripts/record-memcached-fixtures.py [output-dir]
Needs: memcached (Debian: memcached).
"""
import base64
import os
import socket
import struct
import subprocess
import sys
import threading
import time

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "stream-processor", "src", "test", "resources", "memcached")

TRUTH = ["cmd_get", "cmd_set", "cmd_touch", "get_hits", "get_misses", "delete_hits", "delete_misses",
         "incr_hits", "incr_misses", "decr_hits", "decr_misses", "touch_hits", "touch_misses"]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Recorder:
    """A TCP proxy that records every chunk, per connection and direction, in order."""

    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.lock = threading.Lock()
        self.lines = []
        self.conns = 0
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            s = socket.create_connection(("127.0.0.1", self.upstream))
            with self.lock:
                cid = self.conns
                self.conns += 1
            for src, dst, d in ((c, s, "c"), (s, c, "s")):
                threading.Thread(target=self._pump, args=(cid, src, dst, d), daemon=True).start()

    def _pump(self, cid, src, dst, d):
        while True:
            try:
                b = src.recv(65536)
            except OSError:
                b = b""
            if not b:
                try:
                    dst.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                return
            with self.lock:
                self.lines.append("%d %s %d %s" % (cid, d, time.time_ns(), base64.b64encode(b).decode()))
            try:
                dst.sendall(b)
            except OSError:
                return

    def take(self):
        time.sleep(0.3)
        with self.lock:
            lines, self.lines = self.lines, []
        return lines


def stats(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"stats\r\n")
    buf = recv_until(s, b"END\r\n")
    s.close()
    out = {}
    for line in buf.decode().split("\r\n"):
        f = line.split(" ")
        if len(f) == 3 and f[0] == "STAT":
            out[f[1]] = f[2]
    return out


def recv_until(s, term):
    buf = b""
    while not buf.endswith(term):
        b = s.recv(65536)
        if not b:
            break
        buf += b
    return buf


def text_scenario(port):
    s = socket.create_connection(("127.0.0.1", port))

    def cmd(line, term=b"\r\n"):
        s.sendall(line)
        return recv_until(s, term)

    cmd(b"set k1 0 0 100\r\n" + b"a" * 100 + b"\r\n")
    cmd(b"set k2 5 0 20\r\n" + b"b" * 20 + b"\r\n")
    cmd(b"add k1 0 0 1\r\nx\r\n")                     # NOT_STORED
    cmd(b"get x k1 k2 y\r\n", b"END\r\n")              # 2 hits, 2 misses
    cmd(b"gets k1\r\n", b"END\r\n")
    s.sendall(b"set k3 0 0 10 noreply\r\n" + b"c" * 10 + b"\r\n")   # noreply: nothing comes back
    s.sendall(b"delete nothere noreply\r\n")
    cmd(b"get k3\r\n", b"END\r\n")
    cmd(b"append k3 0 0 2\r\nzz\r\n")
    cmd(b"set cnt 0 0 1\r\n1\r\n")
    cmd(b"incr cnt 5\r\n")
    cmd(b"decr cnt 10\r\n")
    cmd(b"incr nocnt 1\r\n")                           # NOT_FOUND
    cmd(b"touch k1 100\r\n")
    cmd(b"delete k2\r\n")
    cmd(b"delete k2\r\n")                              # NOT_FOUND
    cmd(b"get k2\r\n", b"END\r\n")
    cmd(b"version\r\n")
    cmd(b"verbosity 1\r\n")
    cmd(b"bogus\r\n")                                  # ERROR
    cmd(b"incr k1 1\r\n")                              # CLIENT_ERROR (not a number)
    cmd(b"stats\r\n", b"END\r\n")
    # pipelined: three gets written at once
    s.sendall(b"get k1\r\nget k3\r\nget nope\r\n")
    got = b""
    while got.count(b"END\r\n") < 3:
        got += s.recv(65536)
    # meta commands
    cmd(b"ms mk 2 T0\r\nhi\r\n")                       # HD
    cmd(b"mg mk v f\r\n")                              # VA 2
    cmd(b"mg mmiss v\r\n")                             # EN
    cmd(b"mg mk s\r\n")                                # HD s2
    cmd(b"ma mcnt\r\n")                                # NF
    cmd(b"mn\r\n")                                     # MN
    # quiet batch closed by mn: q hides EN (mg), HD (ms, md)
    s.sendall(b"mg mk v q\r\nmg mmiss v q\r\nms mk2 1 q\r\nx\r\nmd mk2 q\r\nmd mmiss q\r\nmn\r\n")
    recv_until(s, b"MN\r\n")
    # the same batch with opaques: the NF now names the request it answers
    s.sendall(b"ms mk2 1 q O1\r\nx\r\nmd mk2 q O2\r\nmd mmiss q O3\r\nmg mmiss v q O4 k\r\nmn\r\n")
    recv_until(s, b"MN\r\n")
    cmd(b"md mk\r\n")                                  # HD
    s.sendall(b"quit\r\n")
    time.sleep(0.1)
    s.close()


MAGIC_REQ = 0x80


def bin_req(opcode, key=b"", extras=b"", value=b"", opaque=0):
    return struct.pack(">BBHBBHIIQ", MAGIC_REQ, opcode, len(key), len(extras), 0, 0,
                       len(key) + len(extras) + len(value), opaque, 0) + extras + key + value


def bin_read(s, buf, until_opaque, stat=False):
    """Reads response packets until the one with until_opaque (for Stat: its empty-key one)."""
    while True:
        while len(buf) < 24:
            buf += s.recv(65536)
        _, op, kl, el, _, st, bl, opq, _ = struct.unpack(">BBHBBHIIQ", buf[:24])
        while len(buf) < 24 + bl:
            buf += s.recv(65536)
        buf = buf[24 + bl:]
        if opq == until_opaque and (not stat or kl == 0):
            return buf


def binary_scenario(port):
    s = socket.create_connection(("127.0.0.1", port))
    buf = b""
    setx = struct.pack(">II", 0, 0)
    s.sendall(bin_req(0x01, b"k1", setx, b"a" * 100, 1)); buf = bin_read(s, buf, 1)
    s.sendall(bin_req(0x01, b"k2", setx, b"b" * 20, 2)); buf = bin_read(s, buf, 2)
    s.sendall(bin_req(0x01, b"k3", setx, b"c" * 2046, 3)); buf = bin_read(s, buf, 3)
    s.sendall(bin_req(0x0c, b"k3", opaque=4)); buf = bin_read(s, buf, 4)            # GetK hit
    s.sendall(bin_req(0x00, b"nope", opaque=5)); buf = bin_read(s, buf, 5)          # Get: Key not found
    # quiet batch: GetKQ x, k1, k2, y, then Noop closes it
    batch = b"".join(bin_req(0x0d, k, opaque=10 + i) for i, k in enumerate([b"x", b"k1", b"k2", b"y"]))
    s.sendall(batch + bin_req(0x0a, opaque=20)); buf = bin_read(s, buf, 20)
    # quiet sets and a quiet delete of a missing key (an error: answered)
    s.sendall(bin_req(0x11, b"q1", setx, b"q", 21) + bin_req(0x14, b"missing", opaque=22)
              + bin_req(0x0a, opaque=23)); buf = bin_read(s, buf, 23)
    s.sendall(bin_req(0x01, b"cnt", setx, b"1", 30)); buf = bin_read(s, buf, 30)
    incr = struct.pack(">QQI", 1, 0, 0)
    s.sendall(bin_req(0x05, b"cnt", incr, opaque=31)); buf = bin_read(s, buf, 31)
    s.sendall(bin_req(0x06, b"cnt", struct.pack(">QQI", 5, 0, 0), opaque=32)); buf = bin_read(s, buf, 32)
    s.sendall(bin_req(0x04, b"k2", opaque=33)); buf = bin_read(s, buf, 33)          # Delete
    s.sendall(bin_req(0x04, b"k2", opaque=34)); buf = bin_read(s, buf, 34)          # Key not found
    s.sendall(bin_req(0x10, opaque=35)); buf = bin_read(s, buf, 35, stat=True)
    s.sendall(bin_req(0x0b, opaque=36)); buf = bin_read(s, buf, 36)                 # Version
    s.sendall(bin_req(0x07, opaque=37)); buf = bin_read(s, buf, 37)                 # Quit: answered, then closed
    s.close()


def run(rec, mc_port, name, fn, comment):
    before = stats(mc_port)
    fn(rec.port)
    lines = rec.take()
    after = stats(mc_port)
    with open(os.path.join(OUT, name + ".mc"), "w") as f:
        f.write("# tapflow memcached fixture, recorded by scripts/record-memcached-fixtures.py\n")
        f.write("# " + comment + "\n")
        f.write("# <connection> <c|s> <capture time ns> <base64 bytes>\n")
        for l in lines:
            f.write(l + "\n")
    with open(os.path.join(OUT, name + ".truth"), "w") as f:
        f.write("# memcached stats deltas over the scenario (%s)\n" % after.get("version", "?"))
        for k in TRUTH:
            f.write("%s %d\n" % (k, int(after.get(k, 0)) - int(before.get(k, 0))))
    print("wrote", name, len(lines), "chunks")


def main():
    os.makedirs(OUT, exist_ok=True)
    port = free_port()
    argv = ["memcached", "-U", "0", "-l", "127.0.0.1", "-p", str(port), "-m", "16"]
    if os.geteuid() == 0:
        argv += ["-u", "nobody"]  # memcached refuses to run as root
    mc = subprocess.Popen(argv)
    try:
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        rec = Recorder(port)
        run(rec, port, "text", text_scenario, "text protocol: storage, multi-get, noreply, counters, "
            "touch, delete, stats, errors, pipelined gets, meta commands and a quiet meta batch")
        run(rec, port, "binary", binary_scenario, "binary protocol: Set, GetK, Get miss, GetKQ batch + Noop, "
            "SetQ/DeleteQ + Noop, Increment, Decrement, Delete, Stat, Version, Quit")
    finally:
        mc.terminate()
        mc.wait()


if __name__ == "__main__":
    main()
