#!/usr/bin/env bash
# The HTTP proxy with durable records against the same upstream directly
# (issue 11 item 4): `writ serve`'s `GET /healthz` on 127.0.0.1, and
# `writ-gate proxy --offline` (release build) in front of it with an offline
# writ for `GET /healthz`, each proxied request recorded in the spool
# (`exec_start` fdatasynced before forwarding, group commit across concurrent
# requests; `exec_end` written after the answer). Load generator: `wrk`
# (installed with apt-get when missing), `-t1 -cC -dDs --latency`, rounds
# alternating direct and proxy (one paired run). Prints one JSON object.
#
#   bash scripts/bench-proxy.sh [SPOOL_DIR] [-- --connections 16 --duration 6 --rounds 3]
#
# SPOOL_DIR (default: a fresh directory under $TMPDIR) is where the spool
# lives: its disk's fdatasync latency bounds the proxy's added latency.
# $WRIT_GATE_BIN / $WRIT_BIN: use these binaries instead of building them.
# $WRIT_BENCH_PERF=FILE: `perf record -g` the proxy during the rounds into FILE.
# Baseline: when nginx is installed (Debian's nginx-light), each round also
# measures the same upstream through nginx as a plain reverse proxy (keep-alive
# upstream connections, no access log, no records): what forwarding alone
# costs on this machine, the floor under any proxy's throughput loss.
# $WRIT_BENCH_NGINX=0 skips it.
# Needs the venv of scripts/test-python.sh (the `writ` package with its
# `testing` feature signs the writ with the public test keys).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${WRIT_PYVENV:-$HOME/.cache/writ/pyvenv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/writ/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
py="$venv/bin/python"
[ -x "$py" ] || { echo "bench-proxy: run scripts/test-python.sh first (it makes $venv)" >&2; exit 1; }

spool_dir=""
if [ "$#" -gt 0 ] && [ "$1" != "--" ]; then spool_dir="$1"; shift; fi
[ "${1:-}" = "--" ] && shift
connections=16; duration=6; rounds=3
while [ $# -gt 0 ]; do
    case "$1" in
        --connections) connections="$2"; shift 2;;
        --duration) duration="$2"; shift 2;;
        --rounds) rounds="$2"; shift 2;;
        *) echo "bench-proxy: unknown argument $1" >&2; exit 2;;
    esac
done

if ! command -v wrk >/dev/null; then
    echo "bench-proxy: installing wrk" >&2
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >&2; else sudo apt-get install -y wrk >&2; fi
fi

work="$(mktemp -d)"
upstream_pid=""; proxy_pid=""; nginx_pid=""
cleanup() {
    [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null || true
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    [ -n "$upstream_pid" ] && kill "$upstream_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
spool_dir="${spool_dir:-$work}"
mkdir -p "$spool_dir"
spool="$spool_dir/bench-proxy.spool"
rm -f "$spool" "$spool".*

cd "$root"
gate="${WRIT_GATE_BIN:-}"
writ="${WRIT_BIN:-}"
if [ -z "$gate" ] || [ -z "$writ" ]; then
    cargo build --locked --release -p writ-gate-cli -p writ-cli >&2
    gate="${gate:-$CARGO_TARGET_DIR/release/writ-gate}"
    writ="${writ:-$CARGO_TARGET_DIR/release/writ}"
fi

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 100); do
        "$py" -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "bench-proxy: nothing listens on port $1" >&2; return 1
}

# Upstream: `writ serve` (its /healthz answers without touching the stores).
"$writ" init --home "$work/h" >/dev/null
up_port="$(free_port)"
"$writ" serve --home "$work/h" --listen "127.0.0.1:$up_port" >"$work/serve.out" 2>"$work/serve.err" &
upstream_pid=$!
wait_port "$up_port"

cp testdata/writs/trust.json "$work/trust.json"
(cd "$work" && "$writ" keygen --out gate.key --name gate1 >/dev/null &&
    "$writ" trust add --trust trust.json --role gate --key gate.key.pub >/dev/null)
printf 'hostname = "proxy-1"\ntrust = "%s"\nkey = "%s"\nspool = "%s"\n' \
    "$work/trust.json" "$work/gate.key" "$spool" >"$work/gate.toml"
chmod 600 "$work/gate.toml"
# An offline writ for GET /healthz, signed with the public test keys.
auth="$("$py" - <<'EOF'
import base64, json, time
import writ
t = writ._writ._testing
p = json.loads(t.predicate_json())
now = int(time.time())
fmt = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))
p["issued_at"] = fmt(now - 10)
for c in p.get("conditions", []):
    c["verified_at"] = fmt(now - 10)
p["validity"] = {"not_before": fmt(now - 10), "not_after": fmt(now + 3600)}
p["scope"] = {"actions": [{"http": {"method": "GET", "path": "/healthz"}}],
              "environment": {"hosts": ["proxy-*"]}, "offline": True}
print("Writ " + base64.urlsafe_b64encode(t.sign(json.dumps(p))).decode().rstrip("="))
EOF
)"
px_port="$(free_port)"
"$gate" proxy --offline --config "$work/gate.toml" --listen "127.0.0.1:$px_port" \
    --upstream "http://127.0.0.1:$up_port" 2>"$work/proxy.err" &
proxy_pid=$!
wait_port "$px_port"
code="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $auth" "http://127.0.0.1:$px_port/healthz")"
[ "$code" = 200 ] || { echo "bench-proxy: the proxy answered $code" >&2; cat "$work/proxy.err" >&2; exit 1; }

# The baseline: nginx in front of the same upstream, without records.
nginx_bin="$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)"
ng_port=""
if [ -n "$nginx_bin" ] && [ "${WRIT_BENCH_NGINX:-1}" != 0 ]; then
    ng_port="$(free_port)"
    mkdir -p "$work/nginx"
    cat >"$work/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    upstream up { server 127.0.0.1:$up_port; keepalive 32; }
    server {
        listen 127.0.0.1:$ng_port;
        location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
    "$nginx_bin" -c "$work/nginx/nginx.conf" -p "$work/nginx" 2>"$work/nginx.err" &
    nginx_pid=$!
    wait_port "$ng_port"
elif [ "${WRIT_BENCH_NGINX:-1}" != 0 ]; then
    echo "bench-proxy: nginx is not installed, so no baseline (apt-get install nginx-light)" >&2
fi

# One wrk run; prints "req_per_s p50_ms p99_ms requests non2xx errors".
run() {
    local out
    out="$(wrk -t1 -c"$connections" -d"${duration}s" --latency "$@")"
    echo "$out" | awk '
        function ms(v) { if (v ~ /us$/) return v/1000; if (v ~ /ms$/) return v+0; if (v ~ /s$/) return v*1000; return v }
        /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
        /requests in/ { n = $1 } /Requests\/sec/ { rps = $2 }
        /Non-2xx/ { bad = $NF } /Socket errors/ { err = $0 }
        END { printf "%s %s %s %s %d %s\n", rps, p50, p99, n, bad, (err == "" ? 0 : 1) }'
}

# Warm-up, not counted.
wrk -t1 -c"$connections" -d1s "http://127.0.0.1:$up_port/healthz" >/dev/null
wrk -t1 -c"$connections" -d1s -H "Authorization: $auth" "http://127.0.0.1:$px_port/healthz" >/dev/null
if [ -n "$ng_port" ]; then wrk -t1 -c"$connections" -d1s "http://127.0.0.1:$ng_port/healthz" >/dev/null; fi
: >"$work/rounds"
perf_pid=""
if [ -n "${WRIT_BENCH_PERF:-}" ]; then
    perf record -g -p "$proxy_pid" -o "$WRIT_BENCH_PERF" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5
fi
# The proxy's CPU time (user + system, clock ticks) over the rounds: it idles
# while the other modes run, so this over the proxied requests is its CPU per
# request.
proxy_ticks() { awk '{print $14 + $15}' "/proc/$proxy_pid/stat"; }
# nginx: its master and workers.
nginx_ticks() {
    local t=0 p
    [ -n "$nginx_pid" ] || { echo 0; return; }
    for p in "$nginx_pid" $(pgrep -P "$nginx_pid" || true); do
        t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$t"
}
ticks0="$(proxy_ticks)"; nticks0="$(nginx_ticks)"
for r in $(seq 1 "$rounds"); do
    echo "direct $(run "http://127.0.0.1:$up_port/healthz")" >>"$work/rounds"
    echo "proxy $(run -H "Authorization: $auth" "http://127.0.0.1:$px_port/healthz")" >>"$work/rounds"
    if [ -n "$ng_port" ]; then echo "nginx $(run "http://127.0.0.1:$ng_port/healthz")" >>"$work/rounds"; fi
done
ticks1="$(proxy_ticks)"; nticks1="$(nginx_ticks)"
if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=""

"$py" - "$work/rounds" "$spool" "$connections" "$duration" "$((ticks1 - ticks0))" "$(getconf CLK_TCK)" "$((nticks1 - nticks0))" <<'EOF'
import json, statistics, struct, sys
rounds, spool, conns, dur = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
proxy_cpu_s = int(sys.argv[5]) / int(sys.argv[6])
nginx_cpu_s = int(sys.argv[7]) / int(sys.argv[6])
rows = {"direct": [], "proxy": [], "nginx": []}
for line in open(rounds):
    mode, rps, p50, p99, n, bad, err = line.split()
    rows[mode].append({"req_per_s": float(rps), "p50_ms": float(p50), "p99_ms": float(p99),
                       "requests": int(n), "non_2xx": int(bad), "socket_errors": int(err)})
# Spool frames: "wsp2" len:u32be sha256 entry len "wsp."; count the intact ones.
data = open(spool, "rb").read()
frames, at = 0, 0
while at + 40 <= len(data) and data[at:at + 4] == b"wsp2":
    (n,) = struct.unpack(">I", data[at + 4:at + 8])
    if data[at + 40 + n + 4:at + 40 + n + 8] != b"wsp.":
        break
    frames, at = frames + 1, at + 48 + n
med = lambda m, k: statistics.median(r[k] for r in rows[m])
res = {"connections": conns, "duration_s": dur, "rounds": rows,
       "median": {m: {k: med(m, k) for k in ("req_per_s", "p50_ms", "p99_ms")} for m in rows if rows[m]}}
d, p = res["median"]["direct"], res["median"]["proxy"]
res["throughput_loss_pct"] = round(100 * (1 - p["req_per_s"] / d["req_per_s"]), 1)
res["added_ms"] = {"p50": round(p["p50_ms"] - d["p50_ms"], 3), "p99": round(p["p99_ms"] - d["p99_ms"], 3)}
if rows["nginx"]:
    n = res["median"]["nginx"]
    res["baseline_nginx_no_records"] = {
        "throughput_loss_pct": round(100 * (1 - n["req_per_s"] / d["req_per_s"]), 1),
        "added_ms": {"p50": round(n["p50_ms"] - d["p50_ms"], 3), "p99": round(n["p99_ms"] - d["p99_ms"], 3)},
        "cpu_us_per_request": round(1e6 * nginx_cpu_s / max(sum(r["requests"] for r in rows["nginx"]), 1), 1)}
else:
    del rows["nginx"]
proxied = sum(r["requests"] for r in rows["proxy"])
res["proxy_cpu_us_per_request"] = round(1e6 * proxy_cpu_s / max(proxied, 1), 1)
res["spool"] = {"frames": frames, "intact_to_end": at == len(data), "proxied_requests_counted": proxied,
                "note": "two frames per proxied request (exec_start, exec_end), warm-up and in-flight requests included"}
res["goal"] = "throughput loss <= 10 %, added p99 <= 1 ms (issue 11 item 4)"
print(json.dumps(res))
EOF
