#!/usr/bin/env bash
# A bounded schemathesis run against a live `writ serve` on loopback
# (issue 10 item 8): every operation of /v1/openapi.json, generated and
# negative inputs, unsupported methods, missing authentication. Fails on any
# check failure (server errors, undocumented status codes or content types,
# responses that do not match their schema, unauthenticated calls accepted).
# Authenticated operations are called with RFC 9421 Ed25519 request
# signatures made by scripts/schemathesis_hooks.py with keys of the roles
# their routes need, and the run fails unless each of them answered a signed
# request with something other than 401.
#
# Needs `schemathesis` 4 and `cryptography` (pip install 'schemathesis==4.*'
# cryptography) and a built `writ` (WRIT=path, default target/debug/writ
# under CARGO_TARGET_DIR).
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
# Keys the hooks sign with (scripts/schemathesis_hooks.py), in the home's
# trust root before the server starts: a requester (group dev), an approver
# (group sre, the default policy's approver group) and a gate.
for who in requester approver gate; do
    "$writ" keygen --out "$who.key" --name "st-$who" >/dev/null 2>&1
done
"$writ" trust add --trust h/trust.json --role requester --group dev --key requester.key.pub >/dev/null
"$writ" trust add --trust h/trust.json --role approver --group sre --key approver.key.pub >/dev/null
"$writ" trust add --trust h/trust.json --role gate --key gate.key.pub >/dev/null
export WRIT_SIGN_REQUESTER=$work/requester.key WRIT_SIGN_APPROVER=$work/approver.key WRIT_SIGN_GATE=$work/gate.key
export SCHEMATHESIS_HOOKS=schemathesis_hooks WRIT_ST_LOG=$work/signed.log
export PYTHONPATH=$root/scripts${PYTHONPATH:+:$PYTHONPATH}
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

# Every authenticated operation is signed (RFC 9421, Ed25519) by the hooks,
# with the key of the role its route needs; `ignored_auth` resends without
# the signature and expects the refusal. All checks run, with one exception:
#
# `positive_data_acceptance` is left out: the document cannot state every rule
# the server rightly enforces (exactly one of `request_id`/`writ_id`, absolute
# `cwd`, a 64-byte base64 signature that verifies, a non-empty ledger entry,
# no control characters in text shown to people, a trust-root version signed
# by a quorum of root keys), so "schema-valid" data is refused with 400 by
# design; what matters, that such refusals are documented 4xx and never 5xx,
# the other checks still assert.

# (`POST /v1/nonces` once ignored its body; it now refuses anything but `{}`.)
printf '' >schemathesis.toml
python3 -c 'import sys, urllib.request; sys.stdout.buffer.write(urllib.request.urlopen(sys.argv[1], timeout=10).read())' \
    "$url/v1/openapi.json" >openapi.json
timeout 110 "$st" --config-file schemathesis.toml run "$url/v1/openapi.json" \
    --url "$url" \
    --max-examples "$max" \
    --exclude-checks positive_data_acceptance \
    --request-timeout 10 \
    --no-color \
    --seed 1 \
    --suppress-health-check all
# The signing must really work: every authenticated operation has to have
# been answered something other than 401 to a signed request at least once
# (else the run above proved nothing past authentication).
mapfile -t authed < <(python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
for path, ops in doc["paths"].items():
    for method, op in ops.items():
        if isinstance(op, dict) and op.get("security"):
            print(method.upper(), path)
' openapi.json)
if [[ ${#authed[@]} -eq 0 ]]; then
    echo "schemathesis.sh: the document declares no authenticated operation" >&2
    exit 1
fi
echo "schemathesis.sh: answers to signed requests, by authenticated operation:"
for op in "${authed[@]}"; do
    seen=$(awk -v op="$op" '$1" "$2 == op { n[$3]++ } END { for (s in n) printf "%s x%d, ", s, n[s] }' signed.log)
    echo "  $op: ${seen%, }"
    if ! awk -v op="$op" '$1" "$2 == op && $3 != 401 { found = 1 } END { exit !found }' signed.log; then
        echo "schemathesis.sh: \`$op\` answered only 401 (or nothing) to signed requests; check scripts/schemathesis_hooks.py against docs/api.md" >&2
        exit 1
    fi
done
echo "schemathesis.sh: passed against $url"
