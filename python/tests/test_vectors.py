"""The testdata/writs vectors give the same verdicts and codes in Python as
in native Rust (crates/writ-core/tests/vectors.rs) and WebAssembly."""

from __future__ import annotations

import json

import pytest

import writ

from conftest import VECTORS

CASES = sorted(p.name.removesuffix(".expected.json") for p in VECTORS.glob("*.expected.json"))


def test_vectors_are_present():
    # The suite cannot pass vacuously: the vectors exist, both verdicts occur,
    # and every denial code a vector expects is a known code.
    assert len(CASES) >= 40, CASES
    expected = [json.loads((VECTORS / f"{c}.expected.json").read_text()) for c in CASES]
    assert {e["verdict"] for e in expected} == {"allow", "deny"}
    assert {e["code"] for e in expected if e["code"]} <= set(writ.DENIAL_CODES)


@pytest.mark.parametrize("case", CASES)
def test_vector(case):
    exp = json.loads((VECTORS / f"{case}.expected.json").read_text())
    trust = (VECTORS / exp["trust"]).read_bytes()
    envelope = (VECTORS / f"{case}.writ.json").read_bytes()
    if exp["verdict"] == "allow":
        assert exp["code"] is None
        v = writ.verify(envelope, trust, exp["context"])
        assert isinstance(v, writ.Verified)
        assert v.id
        assert len(v.envelope_sha256) == 64
    else:
        with pytest.raises(writ.Denied) as e:
            writ.verify(envelope, trust, exp["context"])
        assert e.value.code == exp["code"], e.value.detail
        assert e.value.detail
        assert str(e.value).startswith(f"denied ({exp['code']}): ")


def test_prepared_trust_and_context_give_the_same_verdicts():
    for case in CASES:
        exp = json.loads((VECTORS / f"{case}.expected.json").read_text())
        trust = writ.TrustRoot((VECTORS / exp["trust"]).read_text())
        ctx = writ.Context(exp["context"])
        envelope = (VECTORS / f"{case}.writ.json").read_bytes()
        try:
            writ.verify(envelope, trust, ctx)
            got = None
        except writ.Denied as d:
            got = d.code
        assert got == exp["code"], case


def test_verified_exposes_the_checked_writ(trust_json):
    exp = json.loads((VECTORS / "allow_two_approvals.expected.json").read_text())
    env = (VECTORS / "allow_two_approvals.writ.json").read_bytes()
    v = writ.verify(env, trust_json, exp["context"])
    payload = json.loads(__import__("base64").b64decode(json.loads(env)["payload"]))
    p = payload["predicate"]
    assert v.id == p["id"]
    assert v.request_id == p["request"]["id"]
    assert v.issuer == p["issuer"]
    assert len(v.approvers) == 2
    assert v.matched_action == 0
    assert json.loads(v.predicate_json()) == p
    import hashlib

    assert v.envelope_sha256 == hashlib.sha256(env).hexdigest()


def test_now_as_unix_seconds_or_datetime_is_the_same_instant(trust_json):
    import datetime as dt

    env = (VECTORS / "allow_check_only.writ.json").read_bytes()
    exp = json.loads((VECTORS / "allow_check_only.expected.json").read_text())
    now = dt.datetime.strptime(exp["context"]["now"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    for n in (int(now.timestamp()), now):
        writ.verify(env, trust_json, {**exp["context"], "now": n})
    with pytest.raises(ValueError, match="naive"):
        writ.verify(env, trust_json, {**exp["context"], "now": now.replace(tzinfo=None)})


def test_bad_inputs_are_refused_not_allowed(trust_json):
    with pytest.raises(writ.Denied) as e:
        writ.verify(b"not a writ", trust_json, {"now": 0})
    assert e.value.code == "malformed"
    with pytest.raises(ValueError, match="trust root"):
        writ.verify(b"{}", b"[]", {"now": 0})
    with pytest.raises(ValueError, match="context"):
        writ.verify(b"{}", trust_json, {"now": 0, "moed": "check"})
    with pytest.raises(ValueError, match="capability"):
        writ.verify(b"{}", trust_json, {"now": 0, "capabilities": ["teleport"]})
    with pytest.raises(TypeError):
        writ.verify(12, trust_json)


def test_denial_codes_are_the_stable_names():
    assert "expired" in writ.DENIAL_CODES and "scope_args" in writ.DENIAL_CODES
    assert len(set(writ.DENIAL_CODES)) == len(writ.DENIAL_CODES) >= 20
