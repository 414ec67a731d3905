#!/usr/bin/env bash
# Gateway overhead per MCP tools/call: the official Python SDK server
# (tests/mcp/upstream_server.py) called directly over stdio and through
# `writ-gate mcp` (release build, offline, records fsynced in the spool),
# 16 concurrent callers, one paired run (tests/mcp/bench.py). Prints JSON.
#
#   bash scripts/bench-mcp.sh [SPOOL_DIR] [-- bench.py options]
#
# SPOOL_DIR (default: a fresh directory under $TMPDIR) is where the durable
# spool lives: the per-call fdatasync of the exec_start is part of the
# overhead, so the disk under it decides most of the number.
# Needs the venv of scripts/test-python.sh (the `writ` package with its
# `testing` feature, and `mcp`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${WRIT_PYVENV:-$HOME/.cache/writ/pyvenv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/writ/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
py="$venv/bin/python"
[ -x "$py" ] || { echo "bench-mcp: run scripts/test-python.sh first (it makes $venv)" >&2; exit 1; }

spool_dir=""
if [ "$#" -gt 0 ] && [ "$1" != "--" ]; then spool_dir="$1"; shift; fi
[ "${1:-}" = "--" ] && shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
spool_dir="${spool_dir:-$work}"

cd "$root"
# $WRIT_GATE_BIN / $WRIT_BIN: use these binaries instead of building them.
gate="${WRIT_GATE_BIN:-}"
writ="${WRIT_BIN:-}"
if [ -z "$gate" ]; then
    cargo build --locked --release -p writ-gate-cli
    gate="$CARGO_TARGET_DIR/release/writ-gate"
fi
if [ -z "$writ" ]; then
    cargo build --locked -p writ-cli
    writ="$CARGO_TARGET_DIR/debug/writ"
fi

cp testdata/writs/trust.json "$work/trust.json"
(cd "$work" && "$writ" keygen --out gate.key --name gate1 >/dev/null &&
    "$writ" trust add --trust trust.json --role gate --key gate.key.pub >/dev/null)
printf 'hostname = "agent-1"\ntrust = "%s"\nkey = "%s"\nspool = "%s"\n' \
    "$work/trust.json" "$work/gate.key" "$spool_dir/bench.spool" >"$work/gate.toml"
chmod 600 "$work/gate.toml"
# A writ for `echo` with any text, signed with the public test keys.
"$py" - "$work/echo.writ" <<'EOF'
import json, sys, time
import writ
t = writ._writ._testing
p = json.loads(t.predicate_json())
now = int(time.time())
fmt = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
p["issued_at"] = fmt(now - 10)
for c in p.get("conditions", []):
    c["verified_at"] = fmt(now - 10)
p["validity"] = {"not_before": fmt(now - 10), "not_after": fmt(now + 3600)}
p["scope"] = {"actions": [{"tool": {"name": "echo", "args": {"text": {"glob": "c*"}}}}],
              "environment": {"hosts": ["agent-*"]}, "offline": True}
open(sys.argv[1], "wb").write(t.sign(json.dumps(p)))
EOF
"$py" tests/mcp/bench.py "$gate" "$work/gate.toml" "$work/echo.writ" "$@"
