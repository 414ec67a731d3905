#!/usr/bin/env bash
# The gate's adversarial suites a second time as an unprivileged user
# (`nobody`): every protection that needs root must then refuse the run with
# `scope_boundary` instead of running weaker, and the tests assert that.
#
# The test binaries are built as the invoking user (root in CI), copied to a
# world-readable directory and run there as `nobody` with an empty
# environment apart from PATH and a scratch TMPDIR.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "gate-unprivileged: run as root (it switches to \`nobody\` itself); as an ordinary user, \`cargo test -p writ-gate\` already runs unprivileged" >&2
  exit 2
fi

bins="$(cargo test ${CARGO_LOCKED:+--locked} -p writ-gate --no-run --message-format=json 2>/dev/null \
  | python3 -c '
import json, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m.get("profile", {}).get("test"):
        print(m["executable"])
')"
[ -n "$bins" ] || { echo "gate-unprivileged: no test binaries found" >&2; exit 1; }

work="$(mktemp -d /tmp/writ-unpriv.XXXXXX)"
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
mkdir -m 1777 "$work/tmp"
status=0
for b in $bins; do
  name="$(basename "$b")"
  install -m 0755 "$b" "$work/$name"
  echo "-- $name as nobody"
  if ! (cd "$work" && setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
          env -i PATH=/usr/local/bin:/usr/bin:/bin TMPDIR="$work/tmp" "./$name" --test-threads=2); then
    status=1
  fi
done
exit "$status"
