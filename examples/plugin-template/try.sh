#!/usr/bin/env bash
# try.sh FILE.pcap... [tapflow analyze options] — the test harness for your own captures: builds
# the plug-in (./build.sh), puts its jar alone in target/plugins, and runs
# `tapflow analyze --plugins target/plugins --format text FILE...` from this clone (add
# `--protocol kv=PORT` for a server on another port, `--format jsonl` for every field).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
(($# > 0)) || { echo "usage: $0 FILE.pcap... [tapflow analyze options]" >&2; exit 2; }
"$HERE/build.sh" -DskipTests >/dev/null
rm -rf "$HERE/target/plugins" && mkdir -p "$HERE/target/plugins"
cp "$HERE"/target/tapflow-plugin-*.jar "$HERE/target/plugins/"
"$ROOT/tapflow" protocols --plugins "$HERE/target/plugins" >&2
exec "$ROOT/tapflow" analyze --plugins "$HERE/target/plugins" --format text "$@"
