#!/usr/bin/env bash
# Browser tests of the web pages: Debian's chromium driven by playwright-core
# (from the committed package-lock.json; no browser download) against a real
# `writ serve`. Needs: node + npm, /usr/bin/chromium (or $CHROMIUM), and the
# `writ` binary (built here with cargo unless $WRIT_BIN is set).
# Screenshots: $WRIT_ARTIFACTS (default target/test-artifacts/browser).
set -euo pipefail
cd "$(dirname "$0")/../.."

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  echo "tests/browser: no chromium at \`$chromium\`; install Debian's package (apt-get install chromium) or set CHROMIUM" >&2
  exit 1
fi
if [ -z "${WRIT_BIN:-}" ]; then
  cargo build ${CARGO_LOCKED:+--locked} -p writ-cli
  target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  export WRIT_BIN="$target_dir/debug/writ"
fi
# playwright-core only (no browser download: it ships none, and the install
# scripts are not run).
if [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --ignore-scripts --no-audit --no-fund
fi
export CHROMIUM="$chromium"
export WRIT_ARTIFACTS="${WRIT_ARTIFACTS:-$PWD/target/test-artifacts/browser}"
node --test --test-concurrency=1 tests/browser/
echo "tests/browser: screenshots in $WRIT_ARTIFACTS"
