#!/usr/bin/env bash
# Captures a short real redis-cli session on loopback into the capture-producer test fixtures:
#   src/test/resources/pcap/redis-cli-session.nanos.pcap   (pcap, nanosecond timestamps)
#   src/test/resources/pcap/redis-cli-session.micros.pcap  (pcap, microsecond timestamps, same packets)
# One redis-cli connection per line of redis-cli-session.txt (command-line mode: no COMMAND DOCS).
# tcpdump cannot write pcapng; the tests convert the nanosecond file to pcapng themselves.
# Needs root, tcpdump, redis-server and redis-cli.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/src/test/resources/pcap"
work="$(mktemp -d)"
port=$((20000 + RANDOM % 20000))
cleanup() {
  [[ -f "$work/tcpdump.pid" ]] && kill "$(cat "$work/tcpdump.pid")" 2>/dev/null || true
  [[ -f "$work/redis.pid" ]] && kill "$(cat "$work/redis.pid")" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
  --pidfile "$work/redis.pid" --logfile "$work/redis.log"
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

tcpdump -i lo -n -w "$work/s.pcap" --time-stamp-precision=nano "tcp port $port" 2>"$work/tcpdump.log" &
echo $! > "$work/tcpdump.pid"
sleep 1
while read -r -a cmd; do redis-cli -p "$port" "${cmd[@]}" > /dev/null; done < "$out/redis-cli-session.txt"
sleep 1.5
kill "$(cat "$work/tcpdump.pid")"; wait "$(cat "$work/tcpdump.pid")" 2>/dev/null || true
rm -f "$work/tcpdump.pid"

cp "$work/s.pcap" "$out/redis-cli-session.nanos.pcap"
tcpdump -r "$work/s.pcap" -w "$out/redis-cli-session.micros.pcap" 2>/dev/null
chmod 644 "$out"/redis-cli-session.*.pcap
echo "server port $port, $(tcpdump -n -r "$out/redis-cli-session.nanos.pcap" 2>/dev/null | wc -l) packets"
