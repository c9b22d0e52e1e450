#!/usr/bin/env python3
"""impair-forwarder.py — an L2 bridge between two veth interfaces that impairs the link.

    impair-forwarder.py IF_A IF_B [--loss P] [--reorder P] [--dup P] [--delay-ms MS]
                        [--reorder-hold-ms MS] [--seed N] [--ready-file PATH]

Run it (as root) in the network namespace that holds both interfaces, e.g. the middle
namespace of scripts/capture-redis-impaired.sh. Every Ethernet frame that arrives on one
interface is sent out of the other through AF_PACKET raw sockets (one per interface, bound
with ETH_P_ALL); frames the socket sees as PACKET_OUTGOING (its own sends) are ignored, so
nothing loops. Only ARP, IPv4 and IPv6 frames pass; anything else is counted and dropped.
It refuses interfaces whose driver is not veth, and it opens no other interface.

Per IPv4/IPv6 frame, with a seeded random.Random (three draws per frame, always, in this
order, so one seed and one frame sequence give one outcome):
  - loss:    dropped with probability --loss;
  - dup:     sent twice (back to back) with probability --dup;
  - reorder: with probability --reorder (if no frame of that direction is already held) the
             frame is held back and sent right after the next frame of the same direction,
             or --reorder-hold-ms after it arrived if no next frame comes first.
Every frame (ARP too, which is otherwise untouched) is delayed by --delay-ms, through a
time-ordered queue (heapq) served with select() timeouts; frames due at the same time keep
their order.

On SIGTERM or SIGINT it prints its counts per direction to stderr, one line each:
  impair-forwarder: A->B received=.. forwarded=.. dropped=.. duplicated=.. reordered=..
      released_by_next=.. released_by_timeout=.. not_ip=.. oversize=.. socket_drops=..
      unsent_at_exit=..
(forwarded counts frames sent, duplicate copies included; oversize counts frames longer
than 1514 bytes, which means an offload is still on; socket_drops is the kernel's count of
frames the raw socket lost, which would be loss nobody asked for).
"""
import argparse
import array
import fcntl
import heapq
import itertools
import os
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_STATISTICS = 6
SO_RCVBUFFORCE = 33
SO_SNDBUFFORCE = 32
SIOCETHTOOL = 0x8946
ETHTOOL_GDRVINFO = 0x00000003
ETHERTYPES = {0x0806: "arp", 0x0800: "ipv4", 0x86DD: "ipv6"}
MAX_FRAME = 1514


def driver_of(ifname):
    """The interface's driver name, by the SIOCETHTOOL ETHTOOL_GDRVINFO ioctl."""
    # struct ethtool_drvinfo: cmd u32, driver[32], version[32], fw_version[32], bus_info[32], ...
    buf = array.array("B", struct.pack("I", ETHTOOL_GDRVINFO) + b"\0" * 192)
    addr, _ = buf.buffer_info()
    ifreq = struct.pack("16sP", ifname.encode(), addr)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)
    return buf.tobytes()[4:36].split(b"\0", 1)[0].decode()


class Direction:
    def __init__(self, name, rx, tx):
        self.name = name
        self.rx = rx          # socket frames arrive on
        self.tx = tx          # socket frames leave by
        self.held = None      # (frame, deadline) of the frame held back for reordering
        self.c = dict.fromkeys(
            ["received", "forwarded", "dropped", "duplicated", "reordered", "released_by_next",
             "released_by_timeout", "not_ip", "oversize", "socket_drops", "unsent_at_exit"], 0)


def open_socket(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    for opt, size in ((SO_RCVBUFFORCE, 8 << 20), (SO_SNDBUFFORCE, 8 << 20)):
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, size)
        except OSError:
            pass
    s.bind((ifname, ETH_P_ALL))
    s.setblocking(False)
    return s


def main():
    ap = argparse.ArgumentParser(description="L2 forwarder that impairs a veth link")
    ap.add_argument("if_a")
    ap.add_argument("if_b")
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--dup", type=float, default=0.0)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--reorder-hold-ms", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ready-file", help="created once both sockets are bound")
    args = ap.parse_args()

    if args.if_a == args.if_b:
        sys.exit("impair-forwarder: the two interfaces must differ")
    for p in (args.loss, args.reorder, args.dup):
        if not 0.0 <= p <= 1.0:
            sys.exit("impair-forwarder: probabilities must be in [0, 1]")
    for ifname in (args.if_a, args.if_b):
        try:
            drv = driver_of(ifname)
        except OSError as e:
            sys.exit(f"impair-forwarder: {ifname}: {e}")
        if drv != "veth":
            sys.exit(f"impair-forwarder: {ifname} is a {drv!r} interface; only veth is allowed")

    rng = random.Random(args.seed)
    delay = args.delay_ms / 1000.0
    hold = args.reorder_hold_ms / 1000.0
    sa, sb = open_socket(args.if_a), open_socket(args.if_b)
    dirs = {sa.fileno(): Direction(f"{args.if_a}->{args.if_b}", sa, sb),
            sb.fileno(): Direction(f"{args.if_b}->{args.if_a}", sb, sa)}
    ifname_of = {sa.fileno(): args.if_a, sb.fileno(): args.if_b}
    queue = []                 # (due, order, direction, frame)
    order = itertools.count()
    stop = []

    def on_signal(signum, _frame):
        stop.append(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write(f"{os.getpid()}\n")

    def schedule(due, d, frame):
        heapq.heappush(queue, (due, next(order), d, frame))

    def arrive(d, frame, now):
        d.c["received"] += 1
        if len(frame) > MAX_FRAME:
            d.c["oversize"] += 1
        etype = struct.unpack_from("!H", frame, 12)[0] if len(frame) >= 14 else -1
        if etype not in ETHERTYPES:
            d.c["not_ip"] += 1
            return
        due = now + delay
        if etype == 0x0806:               # ARP: only delayed
            schedule(due, d, frame)
            return
        r_loss, r_dup, r_reorder = rng.random(), rng.random(), rng.random()
        if r_loss < args.loss:
            d.c["dropped"] += 1
            return
        copies = 1
        if r_dup < args.dup:
            d.c["duplicated"] += 1
            copies = 2
        if r_reorder < args.reorder and d.held is None:
            d.c["reordered"] += 1
            d.held = (frame, due + hold)
            copies -= 1                   # a duplicate copy, if any, goes on time
            for _ in range(copies):
                schedule(due, d, frame)
            return
        for _ in range(copies):
            schedule(due, d, frame)
        if d.held is not None:            # the held frame goes right after this one
            schedule(due, d, d.held[0])
            d.held = None
            d.c["released_by_next"] += 1

    while not stop:
        now = time.monotonic()
        for d in dirs.values():           # held frames whose time is up
            if d.held is not None and d.held[1] <= now:
                schedule(d.held[1], d, d.held[0])
                d.held = None
                d.c["released_by_timeout"] += 1
        while queue and queue[0][0] <= now:
            _, _, d, frame = queue[0]
            try:
                d.tx.send(frame)
            except BlockingIOError:       # tx queue full: retry on the next turn, order kept
                break
            heapq.heappop(queue)
            d.c["forwarded"] += 1
        deadlines = [queue[0][0]] if queue else []
        deadlines += [d.held[1] for d in dirs.values() if d.held is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else 0.5
        try:
            readable, _, _ = select.select([sa, sb], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for s in readable:
            d = dirs[s.fileno()]
            for _ in range(256):          # drain what is there, in arrival order
                try:
                    frame, addr = s.recvfrom(65536)
                except BlockingIOError:
                    break
                # addr = (ifname, proto, pkttype, hatype, hwaddr)
                if addr[2] == PACKET_OUTGOING or addr[0] != ifname_of[s.fileno()]:
                    continue
                arrive(d, frame, now)

    for s in (sa, sb):
        d = dirs[s.fileno()]
        try:
            d.c["socket_drops"] = struct.unpack(
                "II", s.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))[1]
        except OSError:
            d.c["socket_drops"] = -1
        d.c["unsent_at_exit"] = sum(1 for q in queue if q[2] is d) + (d.held is not None)
    for d in dirs.values():
        print(f"impair-forwarder: {d.name} " + " ".join(f"{k}={v}" for k, v in d.c.items()),
              file=sys.stderr, flush=True)
    sa.close()
    sb.close()


if __name__ == "__main__":
    main()
