#!/usr/bin/env bash
# capture-split-secrets.sh — real Redis and memcached sessions whose passwords are split across
# TCP segments, for the tests that look for secrets in the processor's saved connection state
# (its changelog topic): SecretsInSavedStateTest (stream-processor) and SecretsTest (cli).
#
#   scripts/capture-split-secrets.sh   -> stream-processor/src/test/resources/pcap/secrets/
#                                         split.pcap, split.txt (one secret a line, its pieces
#                                         as sent, separated by spaces), README-split.md
#
# Needs root, redis-server, memcached, python3, tcpdump, iproute2. Runs in a fresh network
# namespace (lo MTU 1500, offloads off). A python3 client (TCP_NODELAY) writes every command
# whole except its password, which goes in two or three writes 30 ms apart: each write is its
# own segment, and 30 ms of capture time apart they land in different segment batches (the
# agent flushes a connection's batch after 5 ms), so the processor saves the connection's
# state between them, with part of the password received. On the wire, in order:
#   redis-server (port 6379): CONFIG SET requirepass P1; AUTH P1; AUTH P2 (wrong: WRONGPASS);
#     HELLO 3 AUTH default P3 (wrong); inline "AUTH P1"; ACL SETUSER alice on >P4 ~* +@all;
#     CONFIG SET masterauth P5; MIGRATE of a missing key with AUTH2 bob P6 (NOKEY)
#   memcached -S (binary, port 11211): SASL list mechs; SASL Auth PLAIN "\0alice\0P7"
#     (refused: no user database, but the password crossed the wire)
set -euo pipefail
export LC_ALL=C
SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
OUT="$ROOT/stream-processor/src/test/resources/pcap/secrets"
die() { echo "capture-split-secrets: error: $*" >&2; exit 1; }
log() { echo "capture-split-secrets: $*" >&2; }
# shellcheck source=lib/capture-common.sh
source "$ROOT/scripts/lib/capture-common.sh"

if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  for c in redis-server memcached python3 tcpdump ip; do
    command -v "$c" >/dev/null || die "missing $c (apt-get install redis-server memcached python3 tcpdump iproute2)"
  done
  in_namespace "$SELF" tapflow-split-secrets
  exit
fi

TMP=$(mktemp -d)
REDIS_PID=; TCPDUMP_PID=; MEMCACHED_PID=
cleanup() {
  [[ -z $TCPDUMP_PID ]] || kill "$TCPDUMP_PID" 2>/dev/null || true
  [[ -z $MEMCACHED_PID ]] || kill "$MEMCACHED_PID" 2>/dev/null || true
  [[ -z $REDIS_PID ]] || kill "$REDIS_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" --daemonize no \
  >"$TMP/redis.log" 2>&1 &
REDIS_PID=$!
for ((i = 0; i < 100; i++)); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', 6379), 1).close()" 2>/dev/null && break
  sleep 0.05
done
printf 'mech_list: plain\n' >"$TMP/memcached.conf"
SASL_CONF_PATH="$TMP" memcached_start 11211 -S -p 11211 -U 0 -l 127.0.0.1

mkdir -p "$OUT"
PCAP="$OUT/split.pcap"
tcpdump_start "$PCAP" 'tcp port 6379 or tcp port 11211'
python3 - "$OUT/split.txt" <<'PY'
import socket, struct, sys, time

PAUSE = 0.03  # between the pieces of a password: separate segments, separate batches
P1 = 'tapflow-split-requirepass-P1x7Q'
P2 = 'tapflow-split-wrong-auth-P2k9W'
P3 = 'tapflow-split-hello-auth-P3m4Z'
P4 = 'tapflow-split-acl-alice-P4v8R'
P5 = 'tapflow-split-masterauth-P5j2T'
P6 = 'tapflow-split-migrate-auth2-P6q5Y'
P7 = 'tapflow-split-memcached-sasl-P7w3N'
pieces = {}

def cut(secret, n):
    """The secret in n pieces of about equal length."""
    step = -(-len(secret) // n)
    return [secret[i:i + step] for i in range(0, len(secret), step)]

def send(s, parts):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i, p in enumerate(parts):
        if i:
            time.sleep(PAUSE)
        s.sendall(p)

def reply(s):
    """One RESP reply line (enough for the replies these commands get: +OK, -ERR ..., or HELLO's map)."""
    data = b''
    while not data.endswith(b'\r\n'):
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit('redis closed the connection')
        data += chunk
    return data

def resp(args, secret_at, n, r):
    """A RESP command whose argument secret_at goes in n pieces."""
    head = b'*%d\r\n' % len(args)
    for a in args[:secret_at]:
        head += b'$%d\r\n%s\r\n' % (len(a), a.encode())
    secret = args[secret_at]
    parts = cut(secret, n)
    pieces[secret] = parts
    tail = b'\r\n'
    for a in args[secret_at + 1:]:
        tail += b'$%d\r\n%s\r\n' % (len(a), a.encode())
    wire = [head + b'$%d\r\n' % len(secret) + parts[0].encode()] + [p.encode() for p in parts[1:-1]] \
        + [parts[-1].encode() + tail]
    send(r, wire)
    return reply(r)

with socket.create_connection(('127.0.0.1', 6379), 5) as r:
    assert resp(['CONFIG', 'SET', 'requirepass', P1], 3, 3, r) == b'+OK\r\n'
    assert resp(['AUTH', P1], 1, 2, r) == b'+OK\r\n'
    assert resp(['AUTH', P2], 1, 3, r).startswith(b'-WRONGPASS')
    assert resp(['HELLO', '3', 'AUTH', 'default', P3], 4, 2, r).startswith(b'-WRONGPASS')
    # inline, as typed into a terminal: the line buffer holds the partial password
    parts = cut(P1, 2)  # (split.txt keeps P1's pieces from AUTH)
    send(r, [b'AUTH ' + parts[0].encode(), parts[1].encode() + b'\r\n'])
    assert reply(r) == b'+OK\r\n'
    assert resp(['ACL', 'SETUSER', 'alice', 'on', '>' + P4, '~*', '+@all'], 4, 2, r) == b'+OK\r\n'
    pieces[P4] = [p.lstrip('>') for p in pieces.pop('>' + P4)]
    assert resp(['CONFIG', 'SET', 'masterauth', P5], 3, 2, r) == b'+OK\r\n'
    # MIGRATE of a key that does not exist (NOKEY), but the credentials crossed the wire
    assert resp(['MIGRATE', '127.0.0.1', '1', 'nokey', '0', '1000', 'AUTH2', 'bob', P6], 8, 3, r)

with socket.create_connection(('127.0.0.1', 11211), 5) as m:
    def request(opcode, key, parts):
        value = b''.join(parts)
        head = struct.pack('>BBHBBHIIQ', 0x80, opcode, len(key), 0, 0, 0, len(key) + len(value), opcode, 0)
        send(m, [head + key + parts[0]] + parts[1:])
        h = m.recv(24, socket.MSG_WAITALL)
        body = struct.unpack('>I', h[8:12])[0]
        if body:
            m.recv(body, socket.MSG_WAITALL)
    request(0x20, b'', [b''])                                     # SASL list mechs
    parts = cut(P7, 3)
    pieces[P7] = parts
    request(0x21, b'PLAIN', [b'\0alice\0' + parts[0].encode()] + [p.encode() for p in parts[1:]])  # SASL Auth

with open(sys.argv[1], 'w') as f:
    for secret in (P1, P2, P3, P4, P5, P6, P7):
        assert ''.join(pieces[secret]) == secret
        f.write(' '.join(pieces[secret]) + '\n')
PY
tcpdump_stop

# every piece is on the wire, no password whole in one packet: the test proves what it says
while read -r -a parts; do
  whole=$(printf '%s' "${parts[@]}")
  for p in "${parts[@]}"; do grep -qaF "$p" "$PCAP" || die "piece $p is not in the capture"; done
  if tcpdump -r "$PCAP" -A 2>/dev/null | grep -F "$whole" >/dev/null; then die "$whole went in one packet"; fi
done <"$OUT/split.txt"
cat >"$OUT/README-split.md" <<MD
# Passwords split across TCP segments

Made by \`scripts/capture-split-secrets.sh\` (redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'),
memcached $(memcached -V | cut -d' ' -f2), a python3 client, tcpdump, in a network namespace;
${TAPFLOW_CAPTURE_PATH:-}). The commands are listed at the top of the script: every password goes
in two or three writes 30 ms apart (separate segments, separate segment batches), so a
processor saves the connection's state with part of a password received. \`split.txt\` holds
each secret as its pieces were sent, separated by spaces (fake; in clear on the wire on
purpose). SecretsInSavedStateTest and SecretsTest look for them in every saved state, topic
(changelogs included), table, log line and output.

$(sizes "$PCAP")
MD
log "wrote $PCAP ($(stat -c %s "$PCAP") bytes)"
