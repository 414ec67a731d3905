"""writ.delegate: an orchestrator agent hands a sub-agent a narrower writ;
the sub-agent's call runs through the Gate with the chain, and what the
parent does not grant is refused with its code."""

from __future__ import annotations

import json
import time

import pytest

import writ

ORCHESTRATOR = bytes([40] * 32)  # the public fixture seed of the delegation vectors
SUB_AGENT = bytes([41] * 32)


@pytest.fixture
def root(testing):
    """The orchestrator's writ for the tools deploy and read, bound to its key."""
    p = json.loads(testing.predicate_json())
    now = int(time.time())
    fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))  # noqa: E731
    p["issued_at"] = fmt(now - 10)
    p["validity"] = {"not_before": fmt(now - 10), "not_after": fmt(now + 600)}
    p["scope"] = {
        "actions": [
            {"tool": {"name": "deploy", "args": {"env": {"one_of": ["staging", "production"]}}}},
            {"tool": {"name": "read", "more_args": True}},
        ],
        "environment": {"hosts": ["agent-*"]},
        "offline": True,
    }
    holder = __import__("base64").b64encode(testing.fixture_public_key(40)).decode()
    p["lineage"] = {"depth": 0, "max_depth": 1, "holder": {"public_key": holder}}
    return testing.sign(json.dumps(p))


@pytest.fixture
def gate(trust_json):
    return writ.Gate(trust_json, hostname="agent-1", mode="check")


def test_a_child_for_one_tool_and_one_value_runs_with_its_chain(root, gate, trust_json):
    d = writ.delegate(root, ORCHESTRATOR, tool="deploy", args={"env": "staging"}, not_after=int(time.time()) + 60)
    assert d.ancestors == [root]
    p = gate.check(d.writ, "deploy", {"env": "staging"}, ancestors=d.ancestors)
    assert p.args == {"env": "staging"}
    for tool, args, code in [("deploy", {"env": "production"}, "scope_args"), ("read", {}, "scope_program")]:
        with pytest.raises(writ.Denied) as e:
            gate.check(d.writ, tool, args, ancestors=d.ancestors)
        assert e.value.code == code
    with pytest.raises(writ.Denied) as e:
        gate.check(d.writ, "deploy", {"env": "staging"})
    assert e.value.code == "unknown_key"
    # The same verdict from verify with the chain in the context.
    v = writ.verify(d.writ, trust_json, {"ancestors": d.ancestors_b64})
    assert v.issuer != writ.verify(root, trust_json).issuer
    assert json.loads(d.chain_json()) == {"ancestors": d.ancestors_b64}


@pytest.mark.parametrize(
    "kwargs,code",
    [
        ({"key": SUB_AGENT}, "delegation_signature"),
        ({"tool": "admin"}, "delegation_widened"),
        ({"tool": "deploy", "args": {"env": ["staging", "dev"]}}, "delegation_widened"),
        ({"not_after": int(time.time()) + 86400}, "delegation_widened"),
        ({"depth": 1}, "delegation_depth"),
    ],
)
def test_what_the_parent_does_not_grant_is_refused(root, kwargs, code):
    kwargs = {"key": ORCHESTRATOR, **kwargs}
    with pytest.raises(writ.Denied) as e:
        writ.delegate(root, **kwargs)
    assert e.value.code == code


def test_the_sub_agent_cannot_delegate_further(root, gate):
    d = writ.delegate(root, ORCHESTRATOR, tool="deploy", args={"env": "staging"}, to=writ._writ._testing.fixture_public_key(41))
    with pytest.raises(writ.Denied) as e:
        writ.delegate(d.writ, SUB_AGENT, chain=d.ancestors)
    assert e.value.code == "delegation_depth"
    with pytest.raises(ValueError):
        writ.delegate(root, b"short")
