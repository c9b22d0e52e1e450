#!/usr/bin/env bash
# capture-sample.sh — records src/test/resources/kv.pcap: a python3 kv server on 127.0.0.1:7070
# and a client (one request at a time, then a pipelined batch), captured by tcpdump in a network
# namespace (scripts/lib/capture-common.sh). Truth: the server's own log, kv.server-log.tsv, one
# line per request it answered (command, key, answer). Needs root, tcpdump, python3, iproute2.
set -euo pipefail
export LC_ALL=C
SELF=$(readlink -f "$0")
HERE=$(dirname "$SELF")
ROOT=$(cd "$HERE/../.." && pwd)
OUT="$HERE/src/test/resources"
die() { echo "capture-sample: error: $*" >&2; exit 1; }
log() { echo "capture-sample: $*" >&2; }
# shellcheck source=../../scripts/lib/capture-common.sh
. "$ROOT/scripts/lib/capture-common.sh"
if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  in_namespace "$SELF" tapflow-kv
  exit 0
fi
TMP=$(mktemp -d /tmp/tapflow-kv.XXXXXX)
TCPDUMP_PID=
SERVER_PID=
cleanup() {
  [[ -z $TCPDUMP_PID ]] || kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  [[ -z $SERVER_PID ]] || kill "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
cat >"$TMP/server.py" <<'PY'
import socket, sys, threading
store, log = {}, open(sys.argv[1], "w", buffering=1)
log.write("command\tkey\tanswer\n")
def serve(c):
    buf = b""
    while True:
        data = c.recv(4096)
        if not data:
            break
        buf += data
        while b"\r\n" in buf:
            line, buf = buf.split(b"\r\n", 1)
            words = line.decode().split(" ", 2)
            cmd, key = words[0].upper(), (words[1] if len(words) > 1 else "")
            if cmd == "SET" and len(words) == 3:
                store[key] = words[2]; answer = "OK"
            elif cmd == "GET":
                answer = "OK " + store[key] if key in store else "ERR not found"
            elif cmd == "DEL":
                answer = "OK" if store.pop(key, None) is not None else "ERR not found"
            else:
                answer = "ERR unknown command"
            log.write("%s\t%s\t%s\n" % (cmd, key, answer))
            c.sendall(answer.encode() + b"\r\n")
    c.close()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7070)); s.listen(8)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
python3 "$TMP/server.py" "$TMP/server.tsv" &
SERVER_PID=$!
for ((i = 0; i < 100; i++)); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', 7070), 1).close()" 2>/dev/null && break
  sleep 0.05
done
tcpdump_start "$TMP/kv.pcap" "tcp port 7070"
python3 - <<'PY'
import socket
def ask(c, line):
    c.sendall(line.encode() + b"\r\n")
    data = b""
    while not data.endswith(b"\r\n"):
        data += c.recv(4096)
c = socket.create_connection(("127.0.0.1", 7070))
for line in ["SET user:1 alice", "GET user:1", "GET user:2", "SET user:2 bob", "DEL user:1", "DEL user:1"]:
    ask(c, line)
c.close()
c = socket.create_connection(("127.0.0.1", 7070))   # pipelined: ten requests in one write
c.sendall(b"".join(b"GET user:%d\r\n" % (i % 3) for i in range(10)))
data = b""
while data.count(b"\r\n") < 10:
    data += c.recv(4096)
c.close()
PY
tcpdump_stop
mkdir -p "$OUT"
cp "$TMP/kv.pcap" "$OUT/kv.pcap"
cp "$TMP/server.tsv" "$OUT/kv.server-log.tsv"
log "wrote $OUT/kv.pcap ($(($(wc -l <"$OUT/kv.server-log.tsv") - 1)) requests)"
