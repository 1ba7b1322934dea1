#!/usr/bin/env bash
# Runs every check and test of cairn: formatting, vet, the Go tests (with
# the race detector; they start in-process servers and a real cairn binary
# for the crash test), and the end-to-end script with boto3 and the aws cli
# against the built binary.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt wants to change:"; echo "$unformatted"; exit 1
fi

echo "== go vet"
go vet ./...

echo "== go test -race"
go test -race -count=1 ./...

echo "== end-to-end (boto3, aws cli)"
bindir=$(mktemp -d)
go build -o "$bindir/cairn" ./cmd/cairn
go build -o "$bindir/oidcfixture" ./test/oidcfixture
python3 test/e2e/e2e.py "$bindir/cairn" "$bindir/oidcfixture"
