"""Shared fixtures: the testdata/ vectors and test-only signing."""

from __future__ import annotations

import json
import pathlib

import pytest

import writ

ROOT = pathlib.Path(__file__).resolve().parents[2]
VECTORS = ROOT / "testdata" / "writs"


def pytest_collection_modifyitems(session, config, items):
    # A run that collected nothing (or lost the vector tests) must fail, not pass.
    if not any(i.name.startswith("test_vector") for i in items) and not config.option.keyword:
        raise pytest.UsageError("the vector tests were not collected; run from the repository with testdata/ present")


@pytest.fixture(scope="session")
def testing():
    t = getattr(writ._writ, "_testing", None)
    if t is None:
        pytest.fail("writ was built without the `testing` feature; run scripts/test-python.sh")
    return t


@pytest.fixture(scope="session")
def trust_json():
    return (VECTORS / "trust.json").read_bytes()


@pytest.fixture
def sign_tool(testing):
    """Signs a fixture writ for tool calls, valid for ten minutes from now."""
    import time

    def sign(actions, *, offline=True, boundaries=None, not_after=600, uses=None, hosts=None, labels=None):
        p = json.loads(testing.predicate_json())
        now = int(time.time())
        fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
        p["issued_at"] = fmt(now - 10)
        for c in p.get("conditions", []):
            c["verified_at"] = fmt(now - 10)
        p["validity"] = {"not_before": fmt(now - 10), "not_after": fmt(now + not_after)}
        p["scope"]["actions"] = actions
        p["scope"]["environment"] = {"hosts": hosts or ["agent-*"], "labels": labels or []}
        p["scope"]["boundaries"] = boundaries or {}
        p["scope"]["offline"] = offline
        if uses is not None:
            p["scope"]["uses"] = uses
        return testing.sign(json.dumps(p))

    return sign
