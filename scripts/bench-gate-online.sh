#!/usr/bin/env bash
# Online gating, paired: `writ-gate exec --authority URL` of a writ for
# /usr/bin/true against `env /usr/bin/true`, alternating A B A B …, with a
# running `writ serve` on a fresh SQLite home (issue 11 item 3).
#
#   cargo build --release -p writ-gate-cli -p writ-cli
#   scripts/bench-gate-online.sh [PAIRS]      # default 300
#   GATE=/path/to/writ-gate scripts/bench-gate-online.sh   # another gate binary
#   GATE2=/path/to/other/writ-gate scripts/bench-gate-online.sh
#       # also that gate, interleaved (A A2 B A A2 B …): a paired before/after
#
# Prints p50 and p99 of each command's wall time and the p50 of the pair-by-
# pair ratio A/B. Needs root for the gate's hardened launch (as in CI).
set -euo pipefail
PAIRS="${1:-300}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${WRIT_BIN_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/release}"
WRIT="$BIN/writ"
GATE="${GATE:-$BIN/writ-gate}"
GATE2="${GATE2:-}"
[ -x "$WRIT" ] && [ -x "$GATE" ] && { [ -z "$GATE2" ] || [ -x "$GATE2" ]; } || { echo "build first: cargo build --release -p writ-gate-cli -p writ-cli" >&2; exit 2; }
# Moving a process into a cgroup waits for an RCU grace period unless cgroup2
# is mounted with favordynmods (docs/gate.md): 8-10 ms per move on this kind of
# machine. The gate creates the program in its v2 cgroup (clone3
# CLONE_INTO_CGROUP) and moves nothing, unless the writ limits processes on a
# host whose pids controller is v1. Say which mode is measured.
if grep -Eq '^cgroup2? [^ ]+ cgroup2 [^ ]*favordynmods' /proc/mounts; then
  echo "cgroup2 favordynmods: on"
else
  echo "cgroup2 favordynmods: off (a cgroup migration costs an RCU grace period; see docs/gate.md)"
fi
D="$(mktemp -d)"
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$D"; }
trap cleanup EXIT
chmod 755 "$D"  # the program runs as another uid and must enter the working directory
cd "$D"
"$WRIT" init --home h >/dev/null
"$WRIT" keygen --out dev.key --name dev >/dev/null 2>&1
"$WRIT" keygen --out gate.key --name gate1 >/dev/null 2>&1
"$WRIT" trust add --trust h/trust.json --role requester --group dev --key dev.key.pub >/dev/null 2>&1
"$WRIT" trust add --trust h/trust.json --role gate --key gate.key.pub >/dev/null 2>&1
# The default policy lets group dev run /usr/bin/true for five minutes.
"$WRIT" request --home h --key dev.key --out t.writ -- /usr/bin/true >/dev/null 2>&1
"$WRIT" serve --home h --listen 127.0.0.1:0 >serve.out 2>serve.err &
SERVER=$!
for _ in $(seq 100); do grep -q "listening on" serve.out 2>/dev/null && break; sleep 0.05; done
URL="$(sed -n 's/^listening on //p' serve.out)"
[ -n "$URL" ] || { echo "writ serve did not start: $(cat serve.err)" >&2; exit 1; }
GATE="$GATE" GATE2="$GATE2" URL="$URL" PAIRS="$PAIRS" python3 - <<'EOF'
import os, subprocess, time, statistics
gate, gate2, url, pairs = os.environ["GATE"], os.environ["GATE2"], os.environ["URL"], int(os.environ["PAIRS"])
def gated(g):
    return [g, "exec", "--writ", "t.writ", "--trust", "h/trust.json", "--authority", url,
            "--key", "gate.key", "--spool", "spool", "--", "/usr/bin/true"]
a = gated(gate)
a2 = gated(gate2) if gate2 else None
b = ["env", "/usr/bin/true"]
def run(cmd):
    t = time.perf_counter_ns()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt = (time.perf_counter_ns() - t) / 1e6
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} exited {r.returncode}: {r.stderr.decode(errors='replace')}")
    return dt
for _ in range(10):
    run(a); run(b)
    if a2: run(a2)
ta, ta2, tb = [], [], []
for _ in range(pairs):
    ta.append(run(a))
    if a2: ta2.append(run(a2))
    tb.append(run(b))
def pct(x, p):
    s = sorted(x); return s[min(len(s) - 1, int(len(s) * p))]
ratio = [x / y for x, y in zip(ta, tb)]
print(f"pairs {pairs}, load average {os.getloadavg()[0]:.1f} (at the end)")
print(f"A  writ-gate exec --authority   p50 {pct(ta, .5):6.2f} ms  p99 {pct(ta, .99):6.2f} ms  ({gate})")
if a2:
    print(f"A2 writ-gate exec --authority   p50 {pct(ta2, .5):6.2f} ms  p99 {pct(ta2, .99):6.2f} ms  ({gate2})")
print(f"B  env /usr/bin/true            p50 {pct(tb, .5):6.2f} ms  p99 {pct(tb, .99):6.2f} ms")
print(f"A/B pair by pair                p50 {statistics.median(ratio):5.2f}x  p99 {pct(ratio, .99):5.2f}x")
print(f"A/B ratio of p50s {pct(ta, .5) / pct(tb, .5):.2f}x, of p99s {pct(ta, .99) / pct(tb, .99):.2f}x")
if a2:
    ratio2 = [x / y for x, y in zip(ta2, tb)]
    print(f"A2/B pair by pair               p50 {statistics.median(ratio2):5.2f}x  p99 {pct(ratio2, .99):5.2f}x")
    print(f"A2/B ratio of p50s {pct(ta2, .5) / pct(tb, .5):.2f}x, of p99s {pct(ta2, .99) / pct(tb, .99):.2f}x")
EOF
