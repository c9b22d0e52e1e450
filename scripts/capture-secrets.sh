#!/usr/bin/env bash
# capture-secrets.sh — a fixture of real Redis and memcached sessions that send known (fake) passwords
# through every command that carries one, for the redaction test (SecretsTest):
#
#   scripts/capture-secrets.sh     -> stream-processor/src/test/resources/pcap/secrets/
#                                     secrets.pcap, secrets.txt (one secret a line), README.md
#
# Needs root, redis-server, redis-cli, tcpdump, iproute2. Runs in a fresh network namespace
# (lo MTU 1500, offloads off). Two servers: A (captured, port 6379) and B (port 6380, the
# MIGRATE target, also captured: A authenticates to B with AUTH and AUTH2).
#
# On the wire, in order (every secret distinct, so a leak names its command):
#   A: CONFIG SET requirepass S1            AUTH S1 (redis-cli -a)        HELLO 3 AUTH default S1
#      AUTH default S1                       AUTH tapflow-wrong-password-S9 (fails: WRONGPASS)
#      ACL SETUSER alice on >S2 #sha256(S3) ~* +@all     AUTH alice S2    ACL SETUSER alice <S2
#      ACL SETUSER alice !sha256(S3)         ACL SETUSER carol #S7 (63 hex digits: refused, and
#      Redis' error quotes the modifier)     CONFIG SET masterauth S4
#      SET secret:key S8 (a value: never stored unless asked)
#      GET "k'); DROP TABLE latency_facts; --" (a key that is SQL: stored as text, nothing dropped)
#      MIGRATE 127.0.0.1 6380 mig:1 0 5000 AUTH S5
#      MIGRATE 127.0.0.1 6380 mig:2 0 5000 AUTH2 bob S6
#   B: requirepass S5, user bob with S6 (set over the unix socket, not captured)
#   memcached -S (binary protocol, port 11211): SASL list mechs, SASL Auth PLAIN "\0alice\0S10",
#      SASL Step with S10 (the server refuses both: its SASL has no user database here, but the
#      password crossed the wire, which is what the test needs)
set -euo pipefail
export LC_ALL=C
SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
OUT="$ROOT/stream-processor/src/test/resources/pcap/secrets"
die() { echo "capture-secrets: error: $*" >&2; exit 1; }
log() { echo "capture-secrets: $*" >&2; }
# shellcheck source=lib/capture-common.sh
source "$ROOT/scripts/lib/capture-common.sh"

S1='tapflow-secret-requirepass-S1'
S2='tapflow-secret-acl-alice-S2'
S3='tapflow-secret-acl-hashed-S3'
S4='tapflow-secret-masterauth-S4'
S5='tapflow-secret-migrate-auth-S5'
S6='tapflow-secret-migrate-auth2-S6'
S8='tapflow-secret-value-S8'
S9='tapflow-wrong-password-S9'
S10='tapflow-secret-memcached-sasl-S10'
SQL_KEY="k'); DROP TABLE latency_facts; --"
H3=$(printf '%s' "$S3" | sha256sum | cut -c1-64)
S7=$(printf '%s' 'tapflow-secret-bad-hash-S7' | sha256sum | cut -c1-63)

if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  for c in redis-server redis-cli memcached python3 tcpdump ip sha256sum; do
    command -v "$c" >/dev/null || die "missing $c (apt-get install redis-server redis-tools memcached tcpdump iproute2)"
  done
  in_namespace "$SELF" tapflow-secrets
  exit
fi

TMP=$(mktemp -d)
A_PID=; B_PID=; TCPDUMP_PID=; MEMCACHED_PID=
cleanup() {
  [[ -z $TCPDUMP_PID ]] || kill "$TCPDUMP_PID" 2>/dev/null || true
  [[ -z $MEMCACHED_PID ]] || kill "$MEMCACHED_PID" 2>/dev/null || true
  [[ -z $A_PID ]] || kill "$A_PID" 2>/dev/null || true
  [[ -z $B_PID ]] || kill "$B_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

redis_start() { # PORT NAME: sets the pid variable NAME_PID
  redis-server --port "$1" --bind 127.0.0.1 --unixsocket "$TMP/$2.sock" --unixsocketperm 700 \
    --save '' --appendonly no --dir "$TMP" --dbfilename "$2.rdb" --daemonize no >"$TMP/$2.log" 2>&1 &
  eval "$2_PID=$!"
  local i
  for ((i = 0; i < 100; i++)); do
    redis-cli -s "$TMP/$2.sock" PING >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  die "redis-server $2 did not start"
}
redis_start 6379 A
redis_start 6380 B
# B's credentials over its unix socket: not in the capture
redis-cli -s "$TMP/B.sock" ACL SETUSER bob on ">$S6" '~*' '+@all' >/dev/null
redis-cli -s "$TMP/B.sock" CONFIG SET requirepass "$S5" >/dev/null

printf 'mech_list: plain\n' >"$TMP/memcached.conf"
SASL_CONF_PATH="$TMP" memcached_start 11211 -S -p 11211 -U 0 -l 127.0.0.1

mkdir -p "$OUT"
PCAP="$OUT/secrets.pcap"
tcpdump_start "$PCAP" 'tcp port 6379 or tcp port 6380 or tcp port 11211'
A=(redis-cli -h 127.0.0.1 -p 6379)
"${A[@]}" CONFIG SET requirepass "$S1" >/dev/null
"${A[@]}" -a "$S1" --no-auth-warning PING >/dev/null
"${A[@]}" HELLO 3 AUTH default "$S1" >/dev/null
"${A[@]}" -a "$S1" --no-auth-warning AUTH default "$S1" >/dev/null
"${A[@]}" AUTH "$S9" >/dev/null 2>&1 || true
"${A[@]}" -a "$S1" --no-auth-warning ACL SETUSER alice on ">$S2" "#$H3" '~*' '+@all' >/dev/null
"${A[@]}" --user alice --pass "$S2" --no-auth-warning PING >/dev/null
"${A[@]}" -a "$S1" --no-auth-warning ACL SETUSER alice "<$S2" >/dev/null
"${A[@]}" -a "$S1" --no-auth-warning ACL SETUSER alice "!$H3" >/dev/null
"${A[@]}" -a "$S1" --no-auth-warning ACL SETUSER carol "#$S7" >/dev/null 2>&1 || true
"${A[@]}" -a "$S1" --no-auth-warning CONFIG SET masterauth "$S4" >/dev/null
"${A[@]}" -a "$S1" --no-auth-warning SET secret:key "$S8" >/dev/null
"${A[@]}" -a "$S1" --no-auth-warning GET "$SQL_KEY" >/dev/null
"${A[@]}" -a "$S1" --no-auth-warning SET mig:1 one >/dev/null
"${A[@]}" -a "$S1" --no-auth-warning SET mig:2 two >/dev/null
"${A[@]}" -a "$S1" --no-auth-warning MIGRATE 127.0.0.1 6380 mig:1 0 5000 AUTH "$S5" | grep OK >/dev/null \
  || die "MIGRATE AUTH failed"
"${A[@]}" -a "$S1" --no-auth-warning MIGRATE 127.0.0.1 6380 mig:2 0 5000 AUTH2 bob "$S6" | grep OK >/dev/null \
  || die "MIGRATE AUTH2 failed"
python3 - "$S10" <<'PY'
import socket, struct, sys
secret = sys.argv[1].encode()
def request(s, opcode, key, value):
    s.sendall(struct.pack('>BBHBBHIIQ', 0x80, opcode, len(key), 0, 0, 0, len(key) + len(value), opcode, 0) + key + value)
    head = s.recv(24, socket.MSG_WAITALL)
    body = struct.unpack('>I', head[8:12])[0]
    if body:
        s.recv(body, socket.MSG_WAITALL)
with socket.create_connection(('127.0.0.1', 11211), 5) as s:
    request(s, 0x20, b'', b'')                            # SASL list mechs
    request(s, 0x21, b'PLAIN', b'\0alice\0' + secret)      # SASL Auth
    request(s, 0x22, b'PLAIN', b'\0alice\0' + secret)      # SASL Step
PY
tcpdump_stop

# every secret must be on the wire, or the test proves nothing
for s in "$S1" "$S2" "$H3" "$S4" "$S5" "$S6" "$S7" "$S8" "$S9" "$S10"; do
  grep -qaF "$s" "$PCAP" || die "secret $s is not in the capture"
done
printf '%s\n' "$S1" "$S2" "$S3" "$H3" "$S4" "$S5" "$S6" "$S7" "$S8" "$S9" "$S10" >"$OUT/secrets.txt"
cat >"$OUT/README.md" <<MD
# Redis and memcached sessions with known passwords

Made by \`scripts/capture-secrets.sh\` (redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p'),
redis-cli, tcpdump, in a network namespace; ${TAPFLOW_CAPTURE_PATH:-}). The commands are listed
at the top of the script. \`secrets.txt\` holds every secret sent, one a line (fake; in clear on
the wire on purpose): SecretsTest looks for each of them, and their base64 and hex forms, in
every topic, table, log line and CLI output of \`tapflow local\` and \`tapflow analyze\`.
S3 itself is never on the wire (only its SHA-256, the line after it); S8 is a value, not a
password: values are never stored unless asked.

$(sizes "$PCAP")
MD
log "wrote $PCAP ($(stat -c %s "$PCAP") bytes)"
