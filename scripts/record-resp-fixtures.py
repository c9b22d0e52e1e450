#!/usr/bin/env python3
"""Records real Redis client/server byte streams as RESP decoder test fixtures.

Starts the installed redis-server on a random loopback port, puts a tiny recording TCP
proxy in front of it, drives it with redis-cli, redis-benchmark (with and without -P) and a
few raw-socket clients (inline commands, CLIENT REPLY, pub/sub), and writes one fixture per
scenario to stream-processor/src/test/resources/resp/<scenario>.resp:

    # comment lines
    <connection> <c|s> <capture time ns> <base64 of the bytes one recv() returned>

Lines are in capture order over all connections ('c' = client to server). A chunk is
recorded before it is forwarded, so a reply is always recorded after its request.
redis-benchmark scenarios also get <scenario>.truth: the server's INFO commandstats calls
per command after CONFIG RESETSTAT (the truth the decoded facts must match).

Usage: scripts/record-resp-fixtures.py [output-dir]
Needs: redis-server, redis-cli, redis-benchmark (Debian: redis-server redis-tools).
"""
import base64
import os
import socket
import subprocess
import sys
import threading
import time

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "stream-processor", "src", "test", "resources", "resp")


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
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.threads = []
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
                t = threading.Thread(target=self._pump, args=(cid, src, dst, d), daemon=True)
                t.start()
                self.threads.append(t)

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


COMMAND_DOCS = base64.b64encode(b"*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n").decode()


def without_command_docs(lines):
    """Drops redis-cli's start-up COMMAND DOCS request and its ~170 KB reply (whole chunks:
    the reply is complete before redis-cli sends anything else). Kept in one fixture only."""
    kept, dropping = [], set()
    for l in lines:
        cid, d, _, b = l.split()
        if d == "c":
            dropping.discard(cid)
            if b == COMMAND_DOCS:
                dropping.add(cid)
                continue
        if cid in dropping:
            continue
        kept.append(l)
    return kept


def write(name, lines, comment, keep_command_docs=False):
    if not keep_command_docs:
        lines = without_command_docs(lines)
        comment += " (redis-cli's start-up COMMAND DOCS exchange removed)"
    path = os.path.join(OUT, name + ".resp")
    with open(path, "w") as f:
        f.write("# tapflow RESP fixture, recorded by scripts/record-resp-fixtures.py\n")
        f.write("# " + comment + "\n")
        f.write("# <connection> <c|s> <capture time ns> <base64 bytes>\n")
        for l in lines:
            f.write(l + "\n")
    print("wrote", path, len(lines), "chunks")


def cli(port, commands, *flags):
    """redis-cli reading commands from stdin: one command at a time, each awaiting its reply."""
    subprocess.run(["redis-cli", "-p", str(port), *flags], input="\n".join(commands) + "\n",
                   text=True, capture_output=True, timeout=30)


def raw(port):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(2)
    return s


def send(s, data, wait=0.05):
    s.sendall(data)
    time.sleep(wait)


def drain(s):
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass


def admin(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True).stdout


def main():
    os.makedirs(OUT, exist_ok=True)
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                               "--daemonize", "no", "--enable-debug-command", "yes"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if admin(port, "PING").strip() == "PONG":
                break
            time.sleep(0.1)
        rec = Recorder(port)
        p = rec.port

        # 1. RESP2 through redis-cli: strings, lists, hashes, nil, errors, MULTI/EXEC, a large value
        cli(p, ["SET greeting hello", "GET greeting", "GET missing", "LPUSH list a b c", "LRANGE list 0 -1",
                "LLEN greeting", "HSET h f1 v1 f2 v2", "HGETALL h", "INCR counter", "MGET greeting missing",
                "MULTI", "INCR counter", "GET greeting", "EXEC", "SET big " + "x" * 3000, "GET big",
                "EXPIRE greeting 100", "TTL greeting", "NOSUCHCOMMAND arg", "DEL greeting list h big"])
        write("resp2-redis-cli", rec.take(), "redis-cli, RESP2: COMMAND DOCS (a 170 KB reply), strings, lists, hashes, nil, errors, MULTI/EXEC, a 3000-byte value",
          keep_command_docs=True)

        # 2. credentials: AUTH, HELLO AUTH, CONFIG SET masterauth, MIGRATE AUTH, ACL SETUSER
        admin(port, "ACL", "SETUSER", "alice", "on", ">s3cr3t-alice", "~*", "&*", "+@all")
        cli(p, ["AUTH alice wrong-s3cr3t", "AUTH alice s3cr3t-alice", "AUTH s3cr3t-single",
                "HELLO 2 AUTH alice s3cr3t-alice SETNAME conn1", "CONFIG SET masterauth s3cr3t-master",
                "MIGRATE 127.0.0.1 1 k 0 100 AUTH s3cr3t-migrate", "ACL SETUSER bob on >s3cr3t-bob ~*",
                "PING"])
        admin(port, "CONFIG", "SET", "masterauth", "")
        write("resp2-auth", rec.take(), "redis-cli: AUTH (wrong, right, one-argument), HELLO AUTH, CONFIG SET masterauth, MIGRATE AUTH, ACL SETUSER; every secret contains 's3cr3t'")

        # 3. RESP3 through redis-cli -3 (HELLO 3): maps, sets, doubles, attributes, pushes, verbatim
        cli(p, ["HSET h3 a 1 b 2", "HGETALL h3", "SADD s3 x y", "SMEMBERS s3", "ZADD z 1.5 m", "ZRANGE z 0 -1 WITHSCORES",
                "DEBUG PROTOCOL map", "DEBUG PROTOCOL set", "DEBUG PROTOCOL double",
                "DEBUG PROTOCOL true", "DEBUG PROTOCOL null", "DEBUG PROTOCOL verbatim", "CLIENT TRACKING ON",
                "GET tracked", "SET tracked 1", "GET missing3", "DEL h3 s3 z tracked",
                # redis-cli 7.0 cannot parse '|' (nor '(') and exits here: the attribute reply is the last thing recorded
                "DEBUG PROTOCOL attrib", "PING"], "-3")
        write("resp3-redis-cli", rec.take(), "redis-cli -3: HELLO 3, maps, sets, doubles, DEBUG PROTOCOL map/set/bignum/..., CLIENT TRACKING invalidation push, DEBUG PROTOCOL attrib (redis-cli exits on it)")

        # 3b. RESP3 pushes and attributes on a raw socket, one by one and pipelined
        s = raw(p)
        for c in (b"HELLO 3", b"DEBUG PROTOCOL push", b"DEBUG PROTOCOL attrib", b"DEBUG PROTOCOL bignum", b"PING"):
            send(s, c + b"\r\n")
        send(s, b"DEBUG PROTOCOL push\r\nDEBUG PROTOCOL attrib\r\nDEBUG PROTOCOL attrib\r\nPING\r\n", 0.2)
        s.close()
        write("resp3-push-attrib", rec.take(), "raw socket, HELLO 3: DEBUG PROTOCOL push, attrib and bignum one by one, then pipelined")

        # 4. inline commands with quotes; an unbalanced one makes Redis answer an error and close
        s = raw(p)
        send(s, b"PING\r\n")
        send(s, b"SET k \"a b\\x41\\n\"\r\nGET k\r\n")
        send(s, b"ECHO 'it\\'s'\r\n\r\n   \r\nECHO \"x\" y\r\n")
        send(s, b"set lower 'single quoted value'\r\nget lower\r\n")
        send(s, b"SET bad \"unclosed double\r\nGET k\r\n", 0.2)
        drain(s)
        s.close()
        write("inline-quotes", rec.take(), "raw socket: inline commands, quotes, escapes, blank lines, unbalanced quotes (Redis replies an error and closes; the last GET is never answered)")

        # 5. CLIENT REPLY OFF / ON / SKIP, one at a time, then the same pipelined in one write
        seq = [b"PING", b"CLIENT REPLY OFF", b"PING", b"SET r 1", b"CLIENT REPLY ON", b"PING",
               b"CLIENT REPLY SKIP", b"GET r", b"PING", b"CLIENT REPLY OFF", b"CLIENT REPLY SKIP",
               b"CLIENT REPLY ON", b"PING"]
        s = raw(p)
        for c in seq:
            send(s, c + b"\r\n")
        send(s, b"".join(c + b"\r\n" for c in seq), 0.2)
        s.close()
        write("client-reply", rec.take(), "raw socket: CLIENT REPLY OFF/ON/SKIP one by one, then pipelined")

        # 6. pub/sub in RESP2: subscriber on a raw socket, publisher through redis-cli
        def pubsub(hello3):
            sub = raw(p)
            if hello3:
                send(sub, b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
            send(sub, b"*3\r\n$9\r\nSUBSCRIBE\r\n$4\r\nnews\r\n$6\r\nsports\r\n")
            send(sub, b"*2\r\n$10\r\nPSUBSCRIBE\r\n$2\r\nn*\r\n")
            send(sub, b"*1\r\n$4\r\nPING\r\n")
            if hello3:
                send(sub, b"*2\r\n$3\r\nGET\r\n$4\r\nnews\r\n")  # RESP3 allows commands in subscribe mode
            cli(p, ["PUBLISH news hello", "PUBLISH sports goal", "PUBLISH nothing x"])
            time.sleep(0.1)
            send(sub, b"*2\r\n$11\r\nUNSUBSCRIBE\r\n$4\r\nnews\r\n")
            send(sub, b"*1\r\n$12\r\nPUNSUBSCRIBE\r\n")
            send(sub, b"*1\r\n$11\r\nUNSUBSCRIBE\r\n")
            send(sub, b"*2\r\n$3\r\nGET\r\n$4\r\nnews\r\n")  # back to normal mode
            send(sub, b"*2\r\n$9\r\nSUBSCRIBE\r\n$5\r\nagain\r\n")
            send(sub, b"*1\r\n$5\r\nRESET\r\n")
            send(sub, b"*2\r\n$3\r\nGET\r\n$4\r\nnews\r\n")
            sub.close()
        pubsub(False)
        write("pubsub-resp2", rec.take(), "RESP2 subscriber (SUBSCRIBE 2 channels, PSUBSCRIBE, PING, UNSUBSCRIBE..., GET, SUBSCRIBE, RESET, GET) and a redis-cli publisher")
        pubsub(True)
        write("pubsub-resp3", rec.take(), "the same subscriber after HELLO 3 (pushes are > frames), plus GET while subscribed")

        # 7. redis-benchmark, without and with pipelining; truth from INFO commandstats
        for name, extra in (("benchmark", []), ("benchmark-pipelined", ["-P", "16"])):
            rec.take()
            admin(port, "CONFIG", "RESETSTAT")
            subprocess.run(["redis-benchmark", "-p", str(p), "-n", "64", "-c", "2", "-r", "50",
                            "-t", "ping,set,get,incr,lpush,lrange_100,mset", *extra, "-q"],
                           capture_output=True, timeout=120)
            lines = rec.take()
            stats = admin(port, "INFO", "commandstats")
            write(name, lines, "redis-benchmark -n 64 -c 2 -r 50 -t ping,set,get,incr,lpush,lrange_100,mset " + " ".join(extra))
            with open(os.path.join(OUT, name + ".truth"), "w") as f:
                f.write("# INFO commandstats calls after CONFIG RESETSTAT (INFO itself excluded)\n")
                for l in stats.splitlines():
                    if l.startswith("cmdstat_"):
                        cmd = l[len("cmdstat_"):].split(":")[0]
                        calls = l.split("calls=")[1].split(",")[0]
                        if cmd != "info" and cmd != "config|resetstat":
                            f.write("%s %s\n" % (cmd, calls))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
