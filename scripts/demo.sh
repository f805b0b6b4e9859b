#!/usr/bin/env bash
# `make demo`: start the demo stack on workerd with the local model stand-in,
# verify every product's routes against it, then stop. Needs `make deps build`.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${STACK:-demo}
zc=./bin/zerocost
log=$(mktemp -d)/dev.log
ready=$(mktemp)

"$zc" dev --stack "$stack" --json >"$ready" 2>"$log" &
dev=$!
stop() { kill -TERM "$dev" 2>/dev/null && wait "$dev" 2>/dev/null || true; }
trap stop EXIT

# Wait for the ready line (bounded: 60 s).
for _ in $(seq 1 120); do
  [ -s "$ready" ] && break
  kill -0 "$dev" 2>/dev/null || { echo "zerocost dev exited:"; cat "$log"; exit 1; }
  sleep 0.5
done
[ -s "$ready" ] || { echo "zerocost dev was not ready within 60 s:"; cat "$log"; exit 1; }
# The ready line holds each keyed product's dev key: show it without them.
echo "zerocost dev is up: $(sed -E 's/"key":"[^"]*",?//g' "$ready")"
echo
"$zc" verify --stack "$stack" --local
