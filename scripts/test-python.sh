#!/usr/bin/env bash
# Builds the Python package (python/, maturin + PyO3 over writ-core) into a
# venv and runs its tests (pytest python/tests).
#
# Needs: python3 (>= 3.11) with venv, cargo. Downloads only from PyPI
# (maturin, pytest, mcp) and the crates of python/Cargo.lock through cargo.
#
# The venv lives at $WRIT_PYVENV (default $HOME/.cache/writ/pyvenv); cargo
# builds into $CARGO_TARGET_DIR (default $HOME/.cache/writ/target).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${WRIT_PYVENV:-$HOME/.cache/writ/pyvenv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/writ/target}"
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
py="$venv/bin/python"
# The PEP 517 hook runs the `maturin` executable of the venv.
export PATH="$venv/bin:$PATH"
"$py" -c 'import sys; assert sys.version_info >= (3, 11), f"python {sys.version} is too old; writ needs 3.11 or newer"'

# mcp: the official MCP SDK, for the test of python/examples/mcp_*.py (the
# package itself never imports it).
"$py" -m pip install --quiet --disable-pip-version-check 'maturin>=1.5,<2' pytest 'mcp>=2.3,<3'
# maturin is the PEP 517 backend (python/pyproject.toml); already installed,
# so no isolated build env is needed. The tests sign writs with writ-core's
# public fixture keys: build with the `testing` feature (never for use).
MATURIN_PEP517_ARGS="--features testing" \
    "$py" -m pip install --quiet --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps "$root/python"

cd "$root"
# -p no:cacheprovider: leave no .pytest_cache in the tree.
exec "$py" -m pytest -p no:cacheprovider -q python/tests "$@"
