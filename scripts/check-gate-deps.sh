#!/bin/sh
# Fails when the lean gate binary (`writ-gate`, package writ-gate-cli) links
# a policy engine, a database or an HTTP server framework (issue 8 item 3).
set -eu
cd "$(dirname "$0")/.."
tree=$(cargo tree -p writ-gate-cli -e normal --prefix none --format '{p}')
bad=$(printf '%s\n' "$tree" | awk '{print $1}' | grep -E '^(cedar-policy|cedar-policy-core|rusqlite|libsqlite3-sys|postgres|tokio-postgres|axum)$' | sort -u || true)
if [ -n "$bad" ]; then
    echo "check-gate-deps: writ-gate-cli must not depend on: $(echo $bad)" >&2
    printf '%s\n' "$tree" | grep -E '^(cedar-policy|rusqlite|postgres|axum)' >&2 || true
    exit 1
fi
count=$(printf '%s\n' "$tree" | awk '{print $1}' | sort -u | wc -l)
echo "check-gate-deps: ok ($count crates, none of cedar-policy, rusqlite, postgres, axum)"
