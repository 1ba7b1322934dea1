#!/usr/bin/env bash
# Load runs on loopback: builds cairn and the load tool, starts cairn with
# its defaults (fsync on) on a fresh data dir, and runs the load tool.
# Results go to stdout; docs/benchmarks.md records them with this command.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$tmp"' EXIT
go build -o "$tmp/cairn" ./cmd/cairn
go build -o "$tmp/load" ./bench/load
export AWS_ACCESS_KEY_ID=AKIALOADTEST00000000 AWS_SECRET_ACCESS_KEY=load-test-secret-0000
start() {
  rm -rf "$tmp/data"
  CAIRN_ROOT_ACCESS_KEY=$AWS_ACCESS_KEY_ID CAIRN_ROOT_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
    "$tmp/cairn" server --listen 127.0.0.1:19000 --data "$tmp/data" --log-level warn 2>"$tmp/log" &
  pid=$!
  sleep 1
}
peak() { grep VmHWM /proc/$pid/status; kill $pid; wait $pid 2>/dev/null || true; }
ep=http://127.0.0.1:19000
d=${DURATION:-10s}

start
"$tmp/load" -endpoint $ep -op put -size 4096 -c 16 -d "$d"
"$tmp/load" -endpoint $ep -op get -size 4096 -c 16 -d "$d" -baseline
"$tmp/load" -endpoint $ep -op head -size 4096 -c 16 -d "$d"
"$tmp/load" -endpoint $ep -op put -size $((64<<20)) -c 16 -keys 16 -d "$d"
"$tmp/load" -endpoint $ep -op get -size $((64<<20)) -c 16 -keys 16 -d "$d"
peak

echo "-- 64 MiB objects at concurrency 64, fresh server: peak RSS"
start
"$tmp/load" -endpoint $ep -op put -size $((64<<20)) -c 64 -keys 64 -d "$d"
"$tmp/load" -endpoint $ep -op get -size $((64<<20)) -c 64 -keys 64 -d "$d"
peak
