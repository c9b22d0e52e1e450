#!/usr/bin/env bash
# capture-http.sh — a fixture capture of real HTTP/1.1 traffic to nginx, with nginx's access log as truth.
#
#   scripts/capture-http.sh    -> protocol-http/src/test/resources/pcap/http/
#                                 (http.pcap, http.access.tsv, README.md)
#
# Needs root (network namespace, tcpdump), nginx (nginx-light is enough), curl, wrk, tcpdump,
# python3, iproute2; ethtool if present.
#
# What happens, in a fresh network namespace whose lo has MTU 1500 (offloads off):
#   - nginx serves 127.0.0.1:80: static files (small, 20 KB, 300 KB), /echo proxied to a second
#     nginx server on :8081 (so nginx reads request bodies and answers Expect: 100-continue), /ws
#     proxied with Upgrade to a python3 WebSocket-ish upstream on :8082 that answers 101 and echoes,
#     gzip on (HTTP/1.1 responses to Accept-Encoding: gzip are chunked).
#   - curl: GETs on one keep-alive connection (query strings, a 404), HEAD, POST with a body,
#     a chunked POST, a PUT with Expect: 100-continue (curl waits for the interim 100);
#     wrk: 4 keep-alive connections, 200 requests; python3 sockets: 10 pipelined requests in one
#     write, a POST that waits for 100 Continue before its body, an upgrade to WebSocket (101)
#     followed by frame bytes that are not HTTP.
#   - tcpdump records port 80 only (the upstream hops are not part of the fixture).
# Truth: nginx's access log for port 80, one line per request, tab-separated:
# $msec (end of the response, s), $request_time (s), $status, $request_method, $uri (no query).
set -euo pipefail
export LC_ALL=C

SELF=$(readlink -f "$0")
ROOT=$(cd "$(dirname "$SELF")/.." && pwd)
OUT="$ROOT/protocol-http/src/test/resources/pcap/http"

die() { echo "capture-http: error: $*" >&2; exit 1; }
log() { echo "capture-http: $*" >&2; }
# shellcheck source=lib/capture-common.sh
. "$ROOT/scripts/lib/capture-common.sh"

if [[ "${TAPFLOW_CAPTURE_INNER:-}" != 1 ]]; then
  case ${1:-} in -h|--help) sed -n '2,24p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;; '') ;; *) die "no arguments expected" ;; esac
  for c in nginx curl wrk tcpdump python3 ip; do
    command -v "$c" >/dev/null || die "missing $c (apt-get install nginx-light curl wrk tcpdump python3 iproute2)"
  done
  in_namespace "$SELF" tapflow-http
  exit 0
fi

# ---- inside the namespace ----
TMP=$(mktemp -d /tmp/tapflow-http.XXXXXX)
chmod 755 "$TMP"
TCPDUMP_PID=
WS_PID=
cleanup() {
  [[ -z $TCPDUMP_PID ]] || kill -INT "$TCPDUMP_PID" 2>/dev/null || true
  [[ -z $WS_PID ]] || kill "$WS_PID" 2>/dev/null || true
  [[ ! -s $TMP/nginx.pid ]] || kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

mkdir -p "$TMP/www" "$TMP/logs"
echo "hello from nginx" >"$TMP/www/index.html"
python3 -c "import sys; sys.stdout.write(('tapflow http fixture line\n') * 800)" >"$TMP/www/20k.txt"
head -c 300000 /dev/urandom | base64 >"$TMP/www/300k.txt"
chmod -R a+rX "$TMP/www"

cat >"$TMP/nginx.conf" <<CONF
worker_processes 1;
pid $TMP/nginx.pid;
error_log $TMP/logs/error.log;
events { worker_connections 256; }
http {
  include /etc/nginx/mime.types;
  default_type text/plain;
  access_log off;
  client_body_temp_path $TMP/body;
  proxy_temp_path $TMP/proxy;
  fastcgi_temp_path $TMP/fastcgi;
  uwsgi_temp_path $TMP/uwsgi;
  scgi_temp_path $TMP/scgi;
  keepalive_requests 10000;
  gzip on; gzip_min_length 0; gzip_types text/plain;
  log_format truth '\$msec\t\$request_time\t\$status\t\$request_method\t\$uri';
  server {
    listen 127.0.0.1:80;
    root $TMP/www;
    access_log $TMP/logs/access.tsv truth;
    location /echo { proxy_pass http://127.0.0.1:8081; proxy_http_version 1.1; }
    location /ws {
      proxy_pass http://127.0.0.1:8082; proxy_http_version 1.1;
      proxy_set_header Upgrade \$http_upgrade; proxy_set_header Connection "upgrade";
    }
  }
  server {
    listen 127.0.0.1:8081;
    location / { return 200 "echoed\n"; }
  }
}
CONF

# the WebSocket-ish upstream: answers one upgrade with 101, then echoes until the peer closes
cat >"$TMP/ws.py" <<'PY'
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8082)); s.listen(4)
while True:
    c, _ = s.accept()
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            break
        data += chunk
    c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    while True:
        chunk = c.recv(4096)
        if not chunk:
            break
        c.sendall(chunk)
    c.close()
PY
python3 "$TMP/ws.py" &
WS_PID=$!

nginx -c "$TMP/nginx.conf" -g 'daemon on;' || die "nginx did not start"
for ((i = 0; i < 100; i++)); do
  curl -s -o /dev/null http://127.0.0.1:80/index.html 2>/dev/null && break
  sleep 0.05
done
: >"$TMP/logs/access.tsv"   # the readiness probe is not part of the fixture
# reopen: nginx keeps writing to the truncated file at its new end (O_APPEND)

tcpdump_start "$TMP/http.pcap" "tcp port 80"
U=http://127.0.0.1:80

# curl: several URLs on one keep-alive connection, a 404, a query string, gzip (chunked)
curl -s -o /dev/null -o /dev/null -o /dev/null -o /dev/null -o /dev/null \
  "$U/index.html" "$U/20k.txt?page=2&session=secret" "$U/missing.html" "$U/300k.txt" "$U/index.html"
curl -s -o /dev/null -H 'Accept-Encoding: gzip' "$U/20k.txt"
curl -s -o /dev/null -I "$U/index.html"                                     # HEAD
curl -s -o /dev/null -H 'Authorization: Basic dGFwZmxvdzpzZWNyZXQ=' -H 'Cookie: sid=secret' "$U/index.html"
curl -s -o /dev/null -d 'name=tapflow&value=1' "$U/echo"                    # POST, Content-Length
curl -s -o /dev/null -H 'Transfer-Encoding: chunked' --data-binary @"$TMP/www/20k.txt" "$U/echo/chunked"
curl -s -o /dev/null -H 'Expect: 100-continue' -T "$TMP/www/20k.txt" "$U/echo/upload"   # PUT, waits for 100
curl -s -o /dev/null -X DELETE "$U/index.html"                              # 405

# wrk: 4 keep-alive connections, 200 requests in all, then it stops
cat >"$TMP/stop.lua" <<'LUA'
local n = 0
response = function(status, headers, body)
  n = n + 1
  if n >= 50 then wrk.thread:stop() end
end
LUA
wrk -t 4 -c 4 -d 5s -s "$TMP/stop.lua" "$U/index.html" >"$TMP/wrk.txt" 2>&1 || die "wrk failed: $(cat "$TMP/wrk.txt")"

# python3: pipelining, 100-continue by hand, upgrade
python3 - <<'PY'
import socket, time
def conn():
    return socket.create_connection(("127.0.0.1", 80))
def read_until(c, n_responses_marker, timeout=5):
    c.settimeout(timeout); data = b""
    try:
        while data.count(b"HTTP/1.1 ") < n_responses_marker:
            chunk = c.recv(65536)
            if not chunk: break
            data += chunk
    except socket.timeout:
        pass
    return data
# 10 pipelined requests in one write, the last one closes
c = conn()
reqs = b"".join(b"GET /index.html?i=%d HTTP/1.1\r\nHost: localhost\r\n\r\n" % i for i in range(9))
reqs += b"GET /missing-%d HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % 9
c.sendall(reqs)
while c.recv(65536): pass
c.close()
# POST with Expect: 100-continue: the body goes only after the interim 100
c = conn()
body = b"x" * 3000
c.sendall(b"POST /echo/continue HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body))
interim = read_until(c, 1)
assert interim.startswith(b"HTTP/1.1 100"), interim
time.sleep(0.02)
c.sendall(body)
read_until(c, 1)
c.sendall(b"GET /index.html HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
while c.recv(65536): pass
c.close()
# upgrade: 101, then bytes that are not HTTP (a masked WebSocket text frame, by hand)
c = conn()
c.sendall(b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
resp = read_until(c, 1)
assert resp.startswith(b"HTTP/1.1 101"), resp
c.sendall(b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58" + b"GET / HTTP/1.1\r\n\r\n")
time.sleep(0.1)
c.recv(65536)
c.close()
PY

sleep 0.3
tcpdump_stop
nginx -c "$TMP/nginx.conf" -s quit
sleep 0.3

mkdir -p "$OUT"
cp "$TMP/http.pcap" "$OUT/http.pcap"
{ printf 'msec\trequest_time\tstatus\tmethod\turi\n'; cat "$TMP/logs/access.tsv"; } >"$OUT/http.access.tsv"
requests=$(($(wc -l <"$OUT/http.access.tsv") - 1))
cat >"$OUT/README.md" <<MD
# HTTP/1.1 fixture

Made by \`scripts/capture-http.sh\` (${TAPFLOW_CAPTURE_PATH:-}): nginx $(nginx -v 2>&1 | sed 's/.*nginx\///')
on 127.0.0.1:80 driven by curl $(curl --version | sed -n '1s/^curl \([^ ]*\).*/\1/p'), wrk and python3
sockets; see the script's header for the traffic. Truth: nginx's access log
(\`http.access.tsv\`: \$msec, \$request_time, \$status, \$request_method, \$uri), $requests requests.

$(sizes "$OUT/http.pcap" "$OUT/http.access.tsv")
MD
log "wrote $OUT ($requests requests in the access log)"
