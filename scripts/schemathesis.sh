#!/usr/bin/env bash
# A bounded schemathesis run against a live `writ serve` on loopback
# (issue 10 item 8): every operation of /v1/openapi.json, generated and
# negative inputs, unsupported methods, missing authentication. Fails on any
# check failure (server errors, undocumented status codes or content types,
# responses that do not match their schema, unauthenticated calls accepted).
#
# Needs `schemathesis` (pip install schemathesis) and a built `writ`
# (WRIT=path, default target/debug/writ under CARGO_TARGET_DIR).
# Bounded: MAX_EXAMPLES per operation (default 25), well under two minutes.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
writ=${WRIT:-${CARGO_TARGET_DIR:-$root/target}/debug/writ}
st=${SCHEMATHESIS:-$(command -v st || command -v schemathesis || true)}
max=${MAX_EXAMPLES:-25}
if [[ -z "$st" ]]; then
    echo "schemathesis.sh: schemathesis is not installed (pip install schemathesis)" >&2
    exit 1
fi
if [[ ! -x "$writ" ]]; then
    echo "schemathesis.sh: no writ binary at $writ (cargo build -p writ-cli, or set WRIT)" >&2
    exit 1
fi

work=$(mktemp -d)
pid=
cleanup() {
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cd "$work"
"$writ" init --home h >/dev/null
"$writ" serve --home h --listen 127.0.0.1:0 >serve.out 2>serve.err &
pid=$!
for _ in $(seq 1 100); do
    [[ -s serve.out ]] && break
    sleep 0.1
done
url=$(sed -n 's/^listening on //p' serve.out | head -n1)
if [[ -z "$url" ]]; then
    echo "schemathesis.sh: writ serve did not start:" >&2
    cat serve.err >&2
    exit 1
fi

# `positive_data_acceptance` is left out: without a request signature (which
# schemathesis cannot make) a schema-valid body is rightly refused with 401.
# Everything else runs, `ignored_auth` included.
timeout 110 "$st" run "$url/v1/openapi.json" \
    --url "$url" \
    --max-examples "$max" \
    --exclude-checks positive_data_acceptance \
    --request-timeout 10 \
    --no-color \
    --seed 1 \
    --suppress-health-check all
echo "schemathesis.sh: passed against $url"
