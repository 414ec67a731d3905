"""Shared fixtures: the testdata/ vectors and test-only signing."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pathlib
import subprocess

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


#: The public test seed of the Python gate's key (`writ_core::fixtures::key(50)`): never for real use.
GATE_SEED = bytes([50] * 32)


@pytest.fixture(scope="session")
def gate_key():
    """The gate key's 32-byte seed (what `gate_key=` takes besides a key file)."""
    return GATE_SEED


@pytest.fixture(scope="session")
def gate_trust(trust_json, testing):
    """The vectors' trust root plus the Python gate's key with the `gate`
    role: the trust root a signing gate is opened with."""
    t = json.loads(trust_json)
    raw = bytes(testing.fixture_public_key(50))
    t["keys"].append({
        "name": "python-gate", "roles": ["gate"], "groups": [], "algorithm": "ed25519",
        "public_key": base64.b64encode(raw).decode(), "key_id": hashlib.sha256(raw).hexdigest(), "revoked": False,
    })
    return json.dumps(t, sort_keys=True).encode()


def write_key_file(path: pathlib.Path, seed: bytes) -> pathlib.Path:
    """A `writ keygen`-format private key file (mode 0600) holding `seed`."""
    path.write_text(f"ed25519-secret {base64.b64encode(seed).decode()}\n")
    path.chmod(0o600)
    return path


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


@pytest.fixture(scope="session")
def bins():
    """`writ-gate` and `writ`, built from this tree (debug, the shared target
    dir), or the ones $WRIT_GATE_BIN and $WRIT_BIN name."""
    if os.environ.get("WRIT_GATE_BIN") and os.environ.get("WRIT_BIN"):
        return {"gate": os.environ["WRIT_GATE_BIN"], "writ": os.environ["WRIT_BIN"]}
    env = {**os.environ, "CARGO_INCREMENTAL": os.environ.get("CARGO_INCREMENTAL", "0")}
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT, env=env,
        capture_output=True, text=True, check=True,
    )
    target = pathlib.Path(json.loads(meta.stdout)["target_directory"])
    subprocess.run(["cargo", "build", "--locked", "-p", "writ-gate-cli", "-p", "writ-cli"], cwd=ROOT, env=env, check=True)
    return {"gate": str(target / "debug" / "writ-gate"), "writ": str(target / "debug" / "writ")}


def writ_run(bins, cwd, *args) -> subprocess.CompletedProcess:
    return subprocess.run([bins["writ"], *args], cwd=cwd, capture_output=True, text=True)


def writ_ok(bins, cwd, *args) -> str:
    out = writ_run(bins, cwd, *args)
    assert out.returncode == 0, (args, out.stderr)
    return out.stdout
