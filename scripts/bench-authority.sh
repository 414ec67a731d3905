#!/usr/bin/env bash
# Load benchmark of the writ authority (issue 4, item 11): auto-allowed
# requests end to end — RFC 9421-signed HTTP, Cedar decision, Ed25519
# signing, durable ledger entries, receipt — against a fresh `writ serve`.
#
# usage: scripts/bench-authority.sh [--database postgres://...] [--requests N] [--concurrency C]
# env:   WRIT=path/to/writ (default target/release/writ, else target/debug/writ)
set -euo pipefail
db=""; requests=4000; concurrency=64
while [ $# -gt 0 ]; do
  case "$1" in
    --database) db="$2"; shift 2;;
    --requests) requests="$2"; shift 2;;
    --concurrency) concurrency="$2"; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
root=$(cd "$(dirname "$0")/.." && pwd)
WRIT=${WRIT:-}
if [ -z "$WRIT" ]; then
  if [ -x "$root/target/release/writ" ]; then WRIT="$root/target/release/writ"; else WRIT="$root/target/debug/writ"; fi
fi
dir=$(mktemp -d); srv=""
trap 'kill "$srv" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$WRIT" init --home "$dir/h" >/dev/null
"$WRIT" keygen --out "$dir/bench.key" --name bench >/dev/null 2>&1
"$WRIT" trust add --trust "$dir/h/trust.json" --name bench --role requester --group dev --key "$dir/bench.key.pub" >/dev/null
extra=()
if [ -n "$db" ]; then extra=(--database "$db" --schema "bench_$$"); fi
"$WRIT" serve --home "$dir/h" --listen 127.0.0.1:0 "${extra[@]}" >"$dir/serve.out" 2>"$dir/serve.err" &
srv=$!
for _ in $(seq 1 100); do grep -q listening "$dir/serve.out" 2>/dev/null && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$dir/serve.out")
[ -n "$url" ] || { cat "$dir/serve.err" >&2; exit 1; }
echo "writ: $WRIT; store: ${db:+postgresql}${db:-sqlite}; requests $requests, concurrency $concurrency" >&2
"$WRIT" bench --authority "$url" --key "$dir/bench.key" --program /usr/bin/true --requests "$requests" --concurrency "$concurrency" --json
kill "$srv"; wait "$srv" 2>/dev/null || true
if [ -z "$db" ]; then "$WRIT" audit --home "$dir/h" >&2; fi
