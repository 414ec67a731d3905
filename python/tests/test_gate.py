"""The tool-call Gate, its spool records, and the @gated decorator."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import struct

import pytest

import writ

REFUND = [{"tool": {"name": "refund", "args": {"amount": {"glob": "?"}, "currency": {"one_of": ["EUR", "USD"]}}}}]


def entries(path):
    """Reads the spool independently of the package: the documented frame
    `"wsp2" ‖ len:u32be ‖ sha256(entry) ‖ entry ‖ len:u32be ‖ "wsp."`."""
    data = open(path, "rb").read()
    out, at = [], 0
    while at < len(data):
        assert data[at : at + 4] == b"wsp2", f"bad magic at {at}"
        (n,) = struct.unpack(">I", data[at + 4 : at + 8])
        digest = data[at + 8 : at + 40]
        entry = data[at + 40 : at + 40 + n]
        assert hashlib.sha256(entry).digest() == digest
        assert data[at + 40 + n : at + 48 + n] == struct.pack(">I", n) + b"wsp."
        out.append(entry)
        at += 48 + n
    return [(k, json.loads(v)) for k, v in map(writ.decode_entry, out)]


@pytest.fixture
def gate(tmp_path, trust_json, gate_trust, gate_key):
    return writ.Gate(gate_trust, gate_key=gate_key, hostname="agent-1", spool=tmp_path / "gate.spool")


def test_an_allowed_call_gets_a_permit_with_the_checked_arguments(gate, sign_tool):
    w = sign_tool(REFUND)
    p = gate.check(w, "refund", {"amount": 5, "currency": "EUR"})
    assert isinstance(p, writ.Permit)
    assert p.tool == "refund"
    assert p.args == {"amount": "5", "currency": "EUR"}
    assert p.writ_id and p.request_id
    assert p.program_sha256 == hashlib.sha256(b"refund").hexdigest()


@pytest.mark.parametrize(
    "tool,args,code",
    [
        ("refund", {"amount": "50", "currency": "EUR"}, "scope_args"),  # glob `?` is one character
        ("refund", {"amount": "5", "currency": "GBP"}, "scope_args"),  # not one of
        ("refund", {"amount": "5"}, "scope_args"),  # a constrained argument missing
        ("refund", {"amount": "5", "currency": "EUR", "to": "x"}, "scope_args"),  # an extra argument
        ("delete_account", {}, "scope_program"),  # another tool
    ],
)
def test_a_call_outside_the_scope_is_denied_with_its_code_and_spooled(gate, sign_tool, tool, args, code):
    w = sign_tool(REFUND)
    with pytest.raises(writ.Denied) as e:
        gate.check(w, tool, args)
    assert e.value.code == code
    [(kind, d)] = entries(gate.spool)
    assert kind == "denial" and d["code"] == code and d["host"] == "agent-1"
    assert d["writ_id"] == json.loads(__import__("base64").b64decode(json.loads(w)["payload"]))["predicate"]["id"]


def test_expired_other_host_and_untrusted_writs_are_denied(tmp_path, trust_json, sign_tool, testing, gate_trust, gate_key):
    gate = writ.Gate(gate_trust, gate_key=gate_key, hostname="agent-1", spool=tmp_path / "s")
    with pytest.raises(writ.Denied) as e:
        gate.check(sign_tool(REFUND, not_after=-5), "refund", {"amount": "5", "currency": "EUR"})
    assert e.value.code == "expired"
    with pytest.raises(writ.Denied) as e:
        gate.check(sign_tool(REFUND, hosts=["build-*"]), "refund", {"amount": "5", "currency": "EUR"})
    assert e.value.code == "scope_host"
    # A writ needing the authority (not offline) is not run offline.
    with pytest.raises(writ.Denied) as e:
        gate.check(sign_tool(REFUND, offline=False), "refund", {"amount": "5", "currency": "EUR"})
    assert e.value.code == "offline_not_allowed"
    # Counted uses need the authority.
    with pytest.raises(writ.Denied) as e:
        gate.check(sign_tool(REFUND, uses=1), "refund", {"amount": "5", "currency": "EUR"})
    assert e.value.code == "offline_not_allowed"
    # A delegated writ whose parent is not presented.
    child = json.loads(__import__("base64").b64decode(json.loads(sign_tool(REFUND))["payload"]))["predicate"]
    child["lineage"] = {"depth": 1, "max_depth": 2, "parent": {"id": "01940000-0000-7000-8000-0000000000ff", "digest": {"sha256": "00" * 32}}}
    with pytest.raises(writ.Denied) as e:
        gate.check(testing.sign(json.dumps(child)), "refund", {"amount": "5", "currency": "EUR"}, ancestors=[b"{}"])
    assert e.value.code == "lineage_broken"
    # Another trust root: the issuer is unknown.
    other = json.loads(gate_trust)
    other["keys"] = [k for k in other["keys"] if "issuer" not in k.get("roles", [])]
    g2 = writ.Gate(json.dumps(other), gate_key=gate_key, hostname="agent-1", spool=tmp_path / "s2")
    with pytest.raises(writ.Denied) as e:
        g2.check(sign_tool(REFUND), "refund", {"amount": "5", "currency": "EUR"})
    assert e.value.code == "unknown_key"


def test_boundaries_a_tool_call_cannot_enforce_are_refused_unless_declared(tmp_path, trust_json, sign_tool, gate_trust, gate_key):
    w = sign_tool(REFUND, boundaries={"network": False})
    gate = writ.Gate(gate_trust, gate_key=gate_key, hostname="agent-1", spool=tmp_path / "s")
    with pytest.raises(writ.Denied) as e:
        gate.check(w, "refund", {"amount": "5", "currency": "EUR"})
    assert e.value.code == "scope_boundary"
    sandboxed = writ.Gate(gate_trust, gate_key=gate_key, hostname="agent-1", spool=tmp_path / "s", enforces=["network"])
    sandboxed.check(w, "refund", {"amount": "5", "currency": "EUR"})
    with pytest.raises(ValueError, match="unknown boundary"):
        writ.Gate(gate_trust, gate_key=gate_key, hostname="agent-1", spool=tmp_path / "s", enforces=["magic"])


def test_record_writes_start_and_end_in_the_native_spool_format(gate, sign_tool):
    w = sign_tool(REFUND)
    p = gate.check(w, "refund", {"amount": "5", "currency": "EUR"})
    start = gate.record(p, "exec_start")
    gate.record(p, "exec_end", outcome="returned", exit_code=0)
    got = entries(gate.spool)
    assert [k for k, _ in got] == ["exec_start", "exec_end"]
    s, e = got[0][1], got[1][1]
    assert s["writ_id"] == p.writ_id == e["writ_id"] and s["request_id"] == p.request_id
    assert s["host"] == "agent-1"
    assert s["program_digest"] == hashlib.sha256(b"refund").hexdigest()
    # argv digest: len:u32be ‖ bytes over tool, then each name and value in name order.
    h = hashlib.sha256()
    for item in ["refund", "amount", "5", "currency", "EUR"]:
        h.update(struct.pack(">I", len(item)) + item.encode())
    assert s["argv_digest"] == h.hexdigest() == p.argv_sha256
    assert e["outcome"] == "returned" and e["exit_code"] == 0
    # The package's own reader agrees with the independent one.
    raw, torn = writ.read_spool(gate.spool)
    assert torn == 0 and raw[0] == start
    assert oct(os.stat(gate.spool).st_mode & 0o777) == "0o600"


def test_a_torn_tail_is_truncated_before_the_next_append(gate, sign_tool):
    p = gate.check(sign_tool(REFUND), "refund", {"amount": "5", "currency": "EUR"})
    gate.record(p, "exec_start")
    with open(gate.spool, "ab") as f:
        f.write(b"wsp2\x00\x00\x01")  # a writer died mid-append
    assert writ.read_spool(gate.spool)[1] == 7
    gate.record(p, "exec_end", outcome="returned", exit_code=0)
    assert [k for k, _ in entries(gate.spool)] == ["exec_start", "exec_end"]


def test_a_spool_moved_away_by_sync_is_reopened(gate, sign_tool, tmp_path):
    p = gate.check(sign_tool(REFUND), "refund", {"amount": "5", "currency": "EUR"})
    gate.record(p, "exec_start")
    os.rename(gate.spool, tmp_path / "gate.spool.sending")
    gate.record(p, "exec_end", outcome="returned", exit_code=0)
    assert [k for k, _ in entries(gate.spool)] == ["exec_end"]
    assert [k for k, _ in entries(tmp_path / "gate.spool.sending")] == ["exec_start"]


def test_record_refuses_bad_events(gate, sign_tool, tmp_path, trust_json, gate_trust, gate_key):
    p = gate.check(sign_tool(REFUND), "refund", {"amount": "5", "currency": "EUR"})
    with pytest.raises(ValueError, match="unknown event"):
        gate.record(p, "exec_middle")
    with pytest.raises(ValueError, match="needs an outcome"):
        gate.record(p, "exec_end")
    with pytest.raises(ValueError, match="no spool"):
        writ.Gate(trust_json, hostname="agent-1", mode="check").record(p, "exec_start")
    with pytest.raises(ValueError, match="spool="):
        writ.Gate(trust_json, hostname="agent-1")
    checker = writ.Gate(gate_trust, gate_key=gate_key, hostname="agent-1", mode="check", spool=tmp_path / "c")
    with pytest.raises(ValueError, match="records none"):
        checker.record(checker.check(sign_tool(REFUND), "refund", {"amount": "5", "currency": "EUR"}), "exec_start")
    with pytest.raises(TypeError):
        gate.record("not a permit", "exec_start")


def test_a_spool_that_cannot_be_written_stops_the_call(trust_json, sign_tool, tmp_path, gate_trust, gate_key):
    d = tmp_path / "ro"
    d.mkdir()
    gate = writ.Gate(gate_trust, gate_key=gate_key, hostname="agent-1", spool=d / "gate.spool")
    if os.geteuid() == 0:
        # root ignores permissions: replace the spool with a directory instead.
        (d / "gate.spool").mkdir()
    else:
        d.chmod(0o500)
    ran = []
    with pytest.raises(writ.Denied) as e:
        gate.call(sign_tool(REFUND), "refund", lambda **a: ran.append(a), {"amount": "5", "currency": "EUR"})
    assert e.value.code == "record_failed" and "must not run" in e.value.detail
    assert ran == []


# -- the decorator ---------------------------------------------------------


def test_gated_runs_only_permitted_calls_and_records_them(gate, sign_tool):
    w = sign_tool(REFUND)
    calls = []

    @writ.gated(tool="refund", writ=w, gate=gate)
    def refund(amount, currency="EUR"):
        calls.append((amount, currency))
        return f"refunded {amount} {currency}"

    assert refund(5) == "refunded 5 EUR"
    assert refund(amount="7", currency="USD") == "refunded 7 USD"
    with pytest.raises(writ.Denied) as e:
        refund(500)
    assert e.value.code == "scope_args"
    with pytest.raises(writ.Denied):
        refund(5, currency="GBP")
    assert calls == [(5, "EUR"), ("7", "USD")]
    assert [k for k, _ in entries(gate.spool)] == ["exec_start", "exec_end"] * 2 + ["denial"] * 2
    assert refund.__name__ == "refund"


def test_gated_records_a_raising_tool_as_raised(gate, sign_tool):
    @writ.gated(tool="refund", writ=lambda: sign_tool(REFUND), gate=gate)
    def refund(amount, currency):
        raise RuntimeError("bank down")

    with pytest.raises(RuntimeError, match="bank down"):
        refund("5", "EUR")
    (_, s), (_, e) = entries(gate.spool)
    assert e["outcome"] == "raised" and e["exit_code"] == 1


def test_gated_async_and_kwargs_and_default_gate(gate, sign_tool):
    w = sign_tool([{"tool": {"name": "search", "args": {"q": {"glob": "weather *"}}, "more_args": True}}])

    @writ.gated(writ=w)
    async def search(q, **opts):
        return (q, opts)

    writ.set_default_gate(None)
    with pytest.raises(RuntimeError, match="no gate"):
        asyncio.run(search("weather paris"))
    writ.set_default_gate(gate)
    try:
        assert asyncio.run(search("weather paris", limit=3)) == ("weather paris", {"limit": 3})
        with pytest.raises(writ.Denied) as e:
            asyncio.run(search("stock prices"))
        assert e.value.code == "scope_args"
    finally:
        writ.set_default_gate(None)
    with pytest.raises(TypeError, match="needs a name"):

        @writ.gated(writ=w, gate=gate)
        def bad(*items):
            pass


def test_tool_args_are_matched_as_documented_strings():
    assert writ.tool_args({"a": "x", "b": True, "c": 5, "d": 1.5, "e": None, "f": {"z": 1, "a": [1, "2"]}}) == {
        "a": "x",
        "b": "true",
        "c": "5",
        "d": "1.5",
        "e": "null",
        "f": '{"a":[1,"2"],"z":1}',
    }
    with pytest.raises(TypeError):
        writ.tool_args({1: "x"})


def test_the_agent_example_runs_allowed_calls_and_denies_the_rest(tmp_path, gate_trust, gate_key, sign_tool):
    import pathlib
    import socket
    import subprocess
    import sys

    w = sign_tool(
        [
            {"tool": {"name": "read_ticket", "args": {"id": {"glob": "42*"}}}},
            {"tool": {"name": "refund", "args": {"amount": {"glob": "?"}}, "more_args": True}},
        ],
        hosts=[socket.gethostname()],
    )
    (tmp_path / "writ.json").write_bytes(w)
    from conftest import write_key_file

    (tmp_path / "trust.json").write_bytes(gate_trust)
    key = write_key_file(tmp_path / "gate.key", gate_key)
    example = pathlib.Path(__file__).resolve().parents[1] / "examples" / "agent_tools.py"
    out = subprocess.run(
        [sys.executable, str(example), str(tmp_path / "trust.json"), str(tmp_path / "writ.json"), str(tmp_path / "s"), str(key)],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[0]["result"] == "ticket 4217: printer on fire"
    assert lines[1]["result"] == "refunded 5 EUR"
    assert lines[2]["denied"] == "scope_args"
    assert lines[3]["denied"] == "scope_program"
    got = entries(tmp_path / "s")
    assert [k for k, _ in got] == ["exec_start", "exec_end"] * 2 + ["denial"] * 2
    # Each record signed by the gate key the trust root lists.
    raw, _ = writ.read_spool(tmp_path / "s")
    assert {writ.verify_record(r, gate_trust) for r in raw} == {e["gate_key"] for _, e in got} != {None}


# -- the gate key: every record is a signed gate record ----------------------


def test_a_gate_that_records_needs_its_gate_key(tmp_path, gate_trust, gate_key, trust_json):
    with pytest.raises(ValueError, match="gate_key="):
        writ.Gate(gate_trust, hostname="agent-1", spool=tmp_path / "s")
    with pytest.raises(ValueError, match="gate_key="):
        writ.Gate(gate_trust, hostname="agent-1", mode="check", spool=tmp_path / "s")
    assert not (tmp_path / "s").exists()
    # A key the trust root does not list as a gate key would sign records nobody accepts.
    with pytest.raises(writ.Denied) as e:
        writ.Gate(trust_json, gate_key=gate_key, hostname="agent-1", spool=tmp_path / "s")
    assert e.value.code == "record_failed" and "writ trust add --role gate" in e.value.detail
    with pytest.raises(writ.Denied) as e:
        writ.Gate(gate_trust, gate_key=bytes([51] * 32), hostname="agent-1", spool=tmp_path / "s")
    assert e.value.code == "record_failed"
    # A key bound to other hosts.
    bound = json.loads(gate_trust)
    next(k for k in bound["keys"] if k["name"] == "python-gate")["hosts"] = ["build-*"]
    with pytest.raises(writ.Denied) as e:
        writ.Gate(json.dumps(bound), gate_key=gate_key, hostname="agent-1", spool=tmp_path / "s")
    assert e.value.code == "scope_host"
    with pytest.raises(ValueError, match="32-byte"):
        writ.Gate(gate_trust, gate_key=b"short", hostname="agent-1", spool=tmp_path / "s")
    # A check-only gate without a spool writes nothing, so needs no key.
    writ.Gate(gate_trust, hostname="agent-1", mode="check")


def test_the_gate_key_file_is_read_like_the_native_gate_reads_it(tmp_path, gate_trust, gate_key):
    from conftest import write_key_file

    key = write_key_file(tmp_path / "gate.key", gate_key)
    g = writ.Gate(gate_trust, gate_key=key, hostname="agent-1", spool=tmp_path / "s")
    assert g.gate_key_id == writ.Gate(gate_trust, gate_key=gate_key, hostname="agent-1", mode="check").gate_key_id
    assert g.gate_key_id == next(k for k in json.loads(gate_trust)["keys"] if k["name"] == "python-gate")["key_id"]
    g2 = writ.Gate(gate_trust, gate_key=str(key), hostname="agent-1", spool=tmp_path / "s")
    assert g2.gate_key_id == g.gate_key_id
    key.chmod(0o644)
    with pytest.raises(ValueError, match="readable by others"):
        writ.Gate(gate_trust, gate_key=key, hostname="agent-1", spool=tmp_path / "s")
    pub = tmp_path / "gate.key.pub"
    pub.write_text("ed25519 " + next(k for k in json.loads(gate_trust)["keys"] if k["name"] == "python-gate")["public_key"] + " gate\n")
    with pytest.raises(ValueError, match="is a public key"):
        writ.Gate(gate_trust, gate_key=pub, hostname="agent-1", spool=tmp_path / "s")
    junk = tmp_path / "junk"
    junk.write_text("hello\n")
    junk.chmod(0o600)
    with pytest.raises(ValueError, match="not a writ private key"):
        writ.Gate(gate_trust, gate_key=junk, hostname="agent-1", spool=tmp_path / "s")
    with pytest.raises(OSError):
        writ.Gate(gate_trust, gate_key=tmp_path / "missing", hostname="agent-1", spool=tmp_path / "s")


def test_every_record_is_signed_and_verifies_only_under_the_gate_key(gate, gate_trust, trust_json, sign_tool):
    w = sign_tool(REFUND)
    gate.call(w, "refund", lambda **a: "ok", {"amount": "5", "currency": "EUR"})
    with pytest.raises(writ.Denied):
        gate.check(w, "refund", {"amount": "50", "currency": "EUR"})
    raw, _ = writ.read_spool(gate.spool)
    assert [writ.decode_entry(r)[0] for r in raw] == ["exec_start", "exec_end", "denial"]
    for r in raw:
        assert writ.verify_record(r, gate_trust) == gate.gate_key_id
        assert json.loads(writ.decode_entry(r)[1])["gate_key"] == gate.gate_key_id
        # Not under a trust root without that gate key.
        with pytest.raises(writ.Denied) as e:
            writ.verify_record(r, trust_json)
        assert e.value.code == "bad_gate_signature"
        # One flipped bit of the body.
        bad = bytearray(r)
        bad[5] ^= 1
        with pytest.raises(writ.Denied) as e:
            writ.verify_record(bytes(bad), gate_trust)
        assert e.value.code in ("bad_gate_signature", "malformed")
        # The trailer (nonce field 3+16 bytes, key id field 3+32, signature field 3+64) cut off:
        # an unsigned entry.
        unsigned = r[: -(19 + 35 + 67)]
        assert json.loads(writ.decode_entry(unsigned)[1])["gate_key"] is None
        with pytest.raises(writ.Denied) as e:
            writ.verify_record(unsigned, gate_trust)
        assert e.value.code == "unsigned_gate_record"


def test_gated_builds_a_signing_gate_of_its_own_or_none(tmp_path, gate_trust, gate_key, sign_tool):
    w = sign_tool(REFUND)

    @writ.gated(tool="refund", writ=w, trust_root=gate_trust, hostname="agent-1", spool=tmp_path / "own", gate_key=gate_key)
    def refund(amount, currency):
        return f"refunded {amount} {currency}"

    assert refund("5", "EUR") == "refunded 5 EUR"
    raw, _ = writ.read_spool(tmp_path / "own")
    assert len(raw) == 2 and all(writ.verify_record(r, gate_trust) for r in raw)
    with pytest.raises(ValueError, match="missing: gate_key"):
        writ.gated(tool="refund", writ=w, trust_root=gate_trust, hostname="agent-1", spool=tmp_path / "x")
    with pytest.raises(TypeError, match="not both"):
        writ.gated(tool="refund", writ=w, gate=writ.Gate(gate_trust, hostname="agent-1", mode="check"), gate_key=gate_key)
