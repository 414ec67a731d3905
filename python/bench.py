"""Python `writ.verify` vs native `writ_core::verify` for the
`allow_two_approvals` vector (goal: Python <= 1.2x native).

Run after scripts/test-python.sh (it needs the `testing` build for the
native loop):  ~/.cache/writ/pyvenv/bin/python python/bench.py
"""

from __future__ import annotations

import json
import pathlib
import statistics
import sys
import time

# Import the installed package, not the source tree beside this script.
HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != HERE]
import writ  # noqa: E402

VECTORS = HERE.parent / "testdata" / "writs"
N = 1000
ROUNDS = 15


def main() -> None:
    exp = json.loads((VECTORS / "allow_two_approvals.expected.json").read_text())
    envelope = (VECTORS / "allow_two_approvals.writ.json").read_bytes()
    trust_bytes = (VECTORS / exp["trust"]).read_bytes()
    trust = writ.TrustRoot(trust_bytes)
    ctx = writ.Context(exp["context"])
    native = writ._writ._testing.native_verify_ns

    def py_prepared() -> int:
        t = time.perf_counter_ns()
        for _ in range(N):
            writ.verify(envelope, trust, ctx)
        return time.perf_counter_ns() - t

    def py_dicts() -> int:
        t = time.perf_counter_ns()
        for _ in range(N):
            writ.verify(envelope, trust_bytes, exp["context"])
        return time.perf_counter_ns() - t

    runs: dict[str, list[float]] = {"native": [], "python (prepared)": [], "python (bytes + dict)": []}
    native(envelope, trust, ctx._inner, 200)  # warm up
    for _ in range(ROUNDS):  # interleaved, so drift hits all alike
        runs["native"].append(native(envelope, trust, ctx._inner, N) / N)
        runs["python (prepared)"].append(py_prepared() / N)
        runs["python (bytes + dict)"].append(py_dicts() / N)
    # On a shared machine the minimum is the best estimate of the intrinsic
    # cost (noise only ever adds); the median is printed too.
    lo, med = min(runs["native"]), statistics.median(runs["native"])
    print(f"allow_two_approvals, {N} verifies x {ROUNDS} interleaved rounds, per verify:")
    print(f"  {'':24} {'min':>9} {'':6} {'median':>9}")
    for name, xs in runs.items():
        a, m = min(xs), statistics.median(xs)
        print(f"  {name:24} {a / 1000:7.1f}us {a / lo:5.2f}x {m / 1000:7.1f}us {m / med:5.2f}x")


if __name__ == "__main__":
    main()
