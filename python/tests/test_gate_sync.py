"""The Python Gate's records reach a real authority: `writ sync` uploads the
spool the Python `Gate` wrote (signed gate records, `docs/format.md` §19) to
the embedded authority of `writ init`, which verifies every signature before
it appends; `writ audit` then re-checks them in the ledger. A record the
authority's trust root cannot verify — unsigned, or signed by a key that only
the gate's own trust root lists — is refused, and stays in the spool.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import struct

import pytest

import writ
from conftest import writ_ok, writ_run

POLICY = (
    '\n@id("py-refund-offline")\n@max_duration("600")\n@offline("true")\n'
    'permit (principal in Writ::Group::"dev", action == Writ::Action::"tool", resource == Writ::Tool::"refund");\n'
)


@pytest.fixture
def home(bins, tmp_path):
    """`writ init` with a `dev` requester, the Python gate's key (`gate`
    role), a rogue key nobody trusts, and a policy issuing offline writs for
    the tool `refund`; plus the gate's copy of the trust root (offline, no
    fresh status needed, as for `writ exec --offline`)."""
    d = tmp_path
    writ_ok(bins, d, "init", "--home", "h")
    for name in ("dev", "gate", "rogue"):
        writ_ok(bins, d, "keygen", "--out", f"{name}.key", "--name", name)
    writ_ok(bins, d, "trust", "add", "--trust", "h/trust.json", "--role", "requester", "--group", "dev", "--key", "dev.key.pub")
    writ_ok(bins, d, "trust", "add", "--trust", "h/trust.json", "--role", "gate", "--key", "gate.key.pub")
    with open(d / "h" / "policies.cedar", "a") as f:
        f.write(POLICY)
    t = json.loads((d / "h" / "trust.json").read_text())
    t["require_status"] = False
    (d / "gate-trust.json").write_text(json.dumps(t, sort_keys=True))
    return d


def request_refund_writ(bins, d: pathlib.Path) -> tuple[bytes, bytes]:
    """The writ and its ledger receipt (the home's trust root requires one):
    the tool `refund` with no arguments (what `writ request --tool` asks for)."""
    out = writ_ok(bins, d, "request", "--home", "h", "--key", "dev.key", "--json", "--out", "refund.writ",
                  "--host", "agent-1", "--duration", "600", "--reason", "refund ticket 4217", "--tool", "refund")
    assert json.loads(out)["status"] == "issued", out
    return (d / "refund.writ").read_bytes(), (d / "refund.writ.receipt").read_bytes()


def frame(entry: bytes) -> bytes:
    """The spool's documented frame."""
    n = struct.pack(">I", len(entry))
    return b"wsp2" + n + hashlib.sha256(entry).digest() + entry + n + b"wsp."


def sync(bins, d, spool="gate.spool"):
    return writ_run(bins, d, "sync", "--spool", spool, "--home", "h", "--key", "gate.key", "--json")


def test_records_spooled_by_the_python_gate_are_accepted_at_sync_and_pass_the_audit(bins, home):
    d = home
    token, receipt = request_refund_writ(bins, d)
    gate = writ.Gate((d / "gate-trust.json").read_bytes(), hostname="agent-1", spool=d / "gate.spool",
                     gate_key=d / "gate.key")
    received = []

    @writ.gated(tool="refund", writ=token, receipt=receipt, gate=gate)
    def refund() -> str:
        received.append("refund")
        return "refunded ticket 4217"

    assert refund() == "refunded ticket 4217"
    assert refund() == "refunded ticket 4217"
    with pytest.raises(writ.Denied) as e:
        gate.check(token, "refund", {"amount": "5000"}, receipt=receipt)
    assert e.value.code == "scope_args"
    with pytest.raises(writ.Denied) as e:
        gate.check(token, "delete_account", {"user": "bob"}, receipt=receipt)
    assert e.value.code == "scope_program"
    # Without the receipt this trust root requires, nothing runs.
    with pytest.raises(writ.Denied) as e:
        gate.check(token, "refund", {})
    assert e.value.code == "receipt_missing"
    assert received == ["refund", "refund"]
    raw, _ = writ.read_spool(d / "gate.spool")
    assert [writ.decode_entry(r)[0] for r in raw] == ["exec_start", "exec_end"] * 2 + ["denial"] * 3

    # `sync` counts a record as sent only when the authority's receipt (a
    # tlog proof of exactly these bytes under a trusted ledger key) verifies.
    out = sync(bins, d)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["sent"] == 7, out.stdout
    assert not (d / "gate.spool").exists() and not (d / "gate.spool.sending").exists(), "records left in the spool"
    # Sent again (a sync that crashed after the upload): the same bytes, taken once.
    (d / "again.spool").write_bytes(b"".join(frame(r) for r in raw))
    (d / "again.spool").chmod(0o600)
    out = sync(bins, d, "again.spool")
    assert out.returncode == 0 and json.loads(out.stdout)["sent"] == 7, out.stderr
    # The audit re-verifies every gate record's signature in the ledger.
    audit = writ_run(bins, d, "audit", "--home", "h")
    assert audit.returncode == 0, audit.stdout + audit.stderr


def test_unsigned_and_wrongly_signed_records_are_refused_and_stay_spooled(bins, home):
    d = home
    token, receipt = request_refund_writ(bins, d)
    trust = (d / "gate-trust.json").read_bytes()
    good = writ.Gate(trust, hostname="agent-1", spool=d / "good.spool", gate_key=d / "gate.key")
    good.call(token, "refund", lambda: "ok", receipt=receipt)
    start, _end = writ.read_spool(d / "good.spool")[0]

    # Unsigned: the same exec_start with its gate trailer (nonce, key id, signature) cut off.
    unsigned = start[: -(19 + 35 + 67)]
    assert json.loads(writ.decode_entry(unsigned)[1])["gate_key"] is None
    (d / "unsigned.spool").write_bytes(frame(unsigned))
    (d / "unsigned.spool").chmod(0o600)
    out = sync(bins, d, "unsigned.spool")
    assert out.returncode != 0
    assert "unsigned_gate_record" in out.stderr + out.stdout, out.stderr
    assert len(writ.read_spool(d / "unsigned.spool.sending")[0]) == 1, "a refused record was dropped"

    # A rogue key: a gate whose own trust root lists it as a gate key signs
    # records the authority's trust root cannot verify.
    t = json.loads(trust)
    pub = (d / "rogue.key.pub").read_text().split()[1]
    import base64

    raw = base64.b64decode(pub)
    t["keys"].append({"name": "rogue", "roles": ["gate"], "groups": [], "algorithm": "ed25519", "public_key": pub,
                      "key_id": hashlib.sha256(raw).hexdigest(), "revoked": False})
    rogue = writ.Gate(json.dumps(t), hostname="agent-1", spool=d / "rogue.spool", gate_key=d / "rogue.key")
    rogue.call(token, "refund", lambda: "ok", receipt=receipt)
    out = sync(bins, d, "rogue.spool")
    assert out.returncode != 0
    assert "bad_gate_signature" in out.stderr + out.stdout, out.stderr
    assert len(writ.read_spool(d / "rogue.spool.sending")[0]) == 2

    # The properly signed records still go through, and the audit passes.
    out = sync(bins, d, "good.spool")
    assert out.returncode == 0, out.stderr
    audit = writ_run(bins, d, "audit", "--home", "h")
    assert audit.returncode == 0, audit.stdout + audit.stderr
