#!/usr/bin/env bash
# Load benchmark of the writ authority (issue 4 item 11, issue 11): auto-allowed
# requests end to end — RFC 9421-signed HTTP, Cedar decision, Ed25519
# signing, durable ledger entries, receipt — against a fresh `writ serve`.
# After the run the server's peak RSS and its append → covering signed
# checkpoint quantile (`/metrics`) are printed, and `writ audit` must pass on
# the store (SQLite or PostgreSQL) or the script fails.
#
# usage: scripts/bench-authority.sh [--database postgres://...] [--replicas N]
#                                   [--requests N] [--concurrency C]
#   --replicas N  (PostgreSQL only) N `writ serve` replicas of one home on one
#                 schema, each loaded by its own `writ bench` with C/N connections;
#                 the combined rate is printed last.
# env:   WRIT=path/to/writ (default target/release/writ, else target/debug/writ)
set -euo pipefail
db=""; requests=4000; concurrency=64; replicas=1
while [ $# -gt 0 ]; do
  case "$1" in
    --database) db="$2"; shift 2;;
    --requests) requests="$2"; shift 2;;
    --concurrency) concurrency="$2"; shift 2;;
    --replicas) replicas="$2"; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
if [ "$replicas" -gt 1 ] && [ -z "$db" ]; then echo "--replicas needs --database" >&2; exit 2; fi
root=$(cd "$(dirname "$0")/.." && pwd)
WRIT=${WRIT:-}
if [ -z "$WRIT" ]; then
  if [ -x "$root/target/release/writ" ]; then WRIT="$root/target/release/writ"; else WRIT="$root/target/debug/writ"; fi
fi
dir=$(mktemp -d); srvs=()
cleanup() { for p in "${srvs[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
extra=(); schema="bench_$$"
if [ -n "$db" ]; then extra=(--database "$db" --pg-schema "$schema"); fi
"$WRIT" init --home "$dir/h" "${extra[@]}" >/dev/null
"$WRIT" keygen --out "$dir/bench.key" --name bench >/dev/null 2>&1
"$WRIT" trust add --trust "$dir/h/trust.json" --name bench --role requester --group dev --key "$dir/bench.key.pub" >/dev/null
urls=()
for i in $(seq 1 "$replicas"); do
  "$WRIT" serve --home "$dir/h" --listen 127.0.0.1:0 "${extra[@]}" >"$dir/serve$i.out" 2>"$dir/serve$i.err" &
  srvs+=($!)
  for _ in $(seq 1 100); do grep -q listening "$dir/serve$i.out" 2>/dev/null && break; sleep 0.1; done
  u=$(sed -n 's/^listening on //p' "$dir/serve$i.out")
  [ -n "$u" ] || { cat "$dir/serve$i.err" >&2; exit 1; }
  urls+=("$u")
done
echo "writ: $WRIT; store: $([ -n "$db" ] && echo postgresql || echo sqlite); replicas $replicas; requests $requests, concurrency $concurrency" >&2
per=$(( requests / replicas )); conc=$(( (concurrency + replicas - 1) / replicas ))
cpu() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
cpu0=(); for p in "${srvs[@]}"; do cpu0+=("$(cpu "$p")"); done
pids=()
for i in $(seq 1 "$replicas"); do
  "$WRIT" bench --authority "${urls[$((i-1))]}" --key "$dir/bench.key" --program /usr/bin/true \
    --requests "$per" --concurrency "$conc" --json >"$dir/bench$i.json" &
  pids+=($!)
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=1; done
for i in $(seq 1 "$replicas"); do cat "$dir/bench$i.json"; done
if [ "$replicas" -gt 1 ] && command -v jq >/dev/null; then
  jq -s -c '{replicas: length, ok: (map(.ok) | add), errors: (map(.errors) | add),
    seconds: (map(.seconds) | max), writs_per_sec: ((map(.ok) | add) / (map(.seconds) | max)),
    p99_ms_max: (map(.p99_ms) | max)}' "$dir"/bench*.json
fi
for i in $(seq 1 "$replicas"); do
  pid=${srvs[$((i-1))]}
  rss=$(sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$pid/status" 2>/dev/null || true)
  q=$(curl -fsS "${urls[$((i-1))]}/metrics" 2>/dev/null | grep -E '^writ_(integration|issuance)_quantile_seconds\{quantile="0\.99"\}' | tr '\n' ' ' || true)
  ticks=$(( $(cpu "$pid") - ${cpu0[$((i-1))]} ))
  us=$(( ticks * 1000000 / $(getconf CLK_TCK) / (per > 0 ? per : 1) ))
  echo "replica $i: server CPU ${us} us/writ; peak RSS ${rss:-?}; ${q:-no quantiles in /metrics}" >&2
done
for p in "${srvs[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
srvs=()
# INVARIANT (issue 11): the store audits clean after every benchmark run.
if [ -z "$db" ]; then
  "$WRIT" audit --home "$dir/h" >&2
else
  "$WRIT" audit --home "$dir/h" --ledger "$db" --pg-schema "$schema" >&2
  if command -v psql >/dev/null; then psql -q "$db" -c "DROP SCHEMA $schema CASCADE" >/dev/null 2>&1 || true; fi
fi
exit "$status"
