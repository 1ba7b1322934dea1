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
# A user with a policy, so that every request is authorized by the policy
# engine, as real traffic is; -compare-session uses its GetSessionToken.
export AWS_ACCESS_KEY_ID=AKIABENCHUSER0000000 AWS_SECRET_ACCESS_KEY=bench-user-secret-00000000
cat > "$tmp/cairn.yaml" <<YAML
users:
  - name: bench
    access_key: $AWS_ACCESS_KEY_ID
    secret_key: $AWS_SECRET_ACCESS_KEY
    policies:
      - {Version: "2012-10-17", Statement: [{Effect: Allow, Action: ["s3:*"], Resource: "*"}]}
YAML
start() {
  rm -rf "$tmp/data"
  CAIRN_ROOT_ACCESS_KEY=AKIABENCHROOT0000000 CAIRN_ROOT_SECRET_KEY=bench-root-secret-000000 \
    "$tmp/cairn" server --listen 127.0.0.1:19000 --data "$tmp/data" --config "$tmp/cairn.yaml" --log-level warn 2>"$tmp/log" &
  pid=$!
  sleep 1
}
peak() { grep VmHWM /proc/$pid/status; kill $pid; wait $pid 2>/dev/null || true; }
ep=http://127.0.0.1:19000
d=${DURATION:-10s}

start
"$tmp/load" -endpoint $ep -op put -size 4096 -c 16 -d "$d"
"$tmp/load" -endpoint $ep -op get -size 4096 -c 16 -d "$d" -baseline
"$tmp/load" -endpoint $ep -op get -size 4096 -c 16 -d "${ROUND:-5s}" -compare-session -rounds 5
"$tmp/load" -endpoint $ep -op head -size 4096 -c 16 -d "${ROUND:-5s}" -compare-session -rounds 5
"$tmp/load" -endpoint $ep -op put -size $((64<<20)) -c 16 -keys 16 -d "$d"
"$tmp/load" -endpoint $ep -op get -size $((64<<20)) -c 16 -keys 16 -d "$d"
peak

echo "-- 64 MiB objects at concurrency 64, fresh server: peak RSS"
start
"$tmp/load" -endpoint $ep -op put -size $((64<<20)) -c 64 -keys 64 -d "$d"
"$tmp/load" -endpoint $ep -op get -size $((64<<20)) -c 64 -keys 64 -d "$d"
peak
