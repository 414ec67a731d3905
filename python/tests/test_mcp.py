"""The MCP helper: a writ in `params._meta` of `tools/call`, checked by a gate."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest

import writ
from writ import mcp


def test_tools_call_carries_the_writ_and_strip_removes_it():
    w = b'{"payload": "x"}'
    msg = mcp.tools_call("refund", {"amount": "5"}, w, id=7, ancestors=[b"parent"])
    assert msg["method"] == "tools/call" and msg["id"] == 7
    assert msg["params"]["arguments"] == {"amount": "5"}
    assert base64.b64decode(msg["params"]["_meta"][mcp.META_KEY]) == w
    assert mcp.writ_from(msg) == (w, [b"parent"])
    fwd = mcp.strip_writ(msg)
    assert "_meta" not in fwd["params"] and mcp.writ_from(fwd) is None
    json.dumps(msg)  # plain JSON


def test_attach_keeps_other_meta_and_refuses_other_methods():
    req = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "t", "_meta": {"progressToken": 3}}}
    out = mcp.attach(req, b"w")
    assert out["params"]["_meta"]["progressToken"] == 3 and mcp.META_KEY in out["params"]["_meta"]
    assert "dev.writ/writ" not in req["params"]["_meta"]  # the input is not changed
    assert mcp.strip_writ(out)["params"]["_meta"] == {"progressToken": 3}
    with pytest.raises(ValueError, match="tools/call"):
        mcp.attach({"method": "tools/list"}, b"w")
    with pytest.raises(ValueError, match="params.name"):
        mcp.attach({"method": "tools/call", "params": {}}, b"w")


def test_a_malformed_writ_in_meta_is_an_error_not_absent():
    bad = {"method": "tools/call", "params": {"name": "t", "_meta": {mcp.META_KEY: "%%%"}}}
    with pytest.raises(ValueError, match="base64"):
        mcp.writ_from(bad)
    with pytest.raises(ValueError, match="base64 string"):
        mcp.writ_from({"params": {"_meta": {mcp.META_KEY: 5}}})


def test_a_server_side_gate_checks_the_writ_from_meta(tmp_path, gate_trust, gate_key, sign_tool):
    gate = writ.Gate(gate_trust, gate_key=gate_key, hostname="agent-1", spool=tmp_path / "s")
    w = sign_tool([{"tool": {"name": "refund", "args": {"amount": {"glob": "?"}}}}])
    for amount, ok in (("5", True), ("50", False)):
        msg = mcp.tools_call("refund", {"amount": amount}, w)
        got, _ = mcp.writ_from(msg)
        p = msg["params"]
        if ok:
            assert gate.check(got, p["name"], p["arguments"]).args == {"amount": "5"}
        else:
            with pytest.raises(writ.Denied):
                gate.check(got, p["name"], p["arguments"])


def test_importing_the_package_needs_no_mcp_dependency():
    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def imp(name, *a, **k):\n"
        "    if name == 'mcp' or name.startswith('mcp.'):\n"
        "        raise ImportError('no mcp here')\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = imp\n"
        "import writ, writ.mcp\n"
        "assert 'mcp' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_the_official_mcp_sdk_carries_the_writ_to_a_gated_server(tmp_path, gate_trust, gate_key, sign_tool):
    pytest.importorskip("mcp", reason="the official `mcp` SDK is not installed (scripts/test-python.sh installs it)")
    import pathlib

    from conftest import write_key_file
    from test_gate import entries

    w = sign_tool([{"tool": {"name": "refund", "args": {"amount": {"glob": "?"}}}}])
    (tmp_path / "writ.json").write_bytes(w)
    (tmp_path / "trust.json").write_bytes(gate_trust)
    key = write_key_file(tmp_path / "gate.key", gate_key)
    client = pathlib.Path(__file__).resolve().parents[1] / "examples" / "mcp_client.py"
    out = subprocess.run(
        [sys.executable, str(client), str(tmp_path / "trust.json"), str(tmp_path / "s"), str(key), str(tmp_path / "writ.json"), "5", "50"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    ok, wide, none = [json.loads(line) for line in out.stdout.splitlines()]
    assert ok == {"amount": "5", "is_error": False, "text": ["refunded 5 EUR"]}
    assert wide["is_error"] and "denied (scope_args)" in wide["text"][0]
    assert none["is_error"] and "needs a writ" in none["text"][0]
    # One run recorded (start, end) and one denial; the refused calls never ran.
    assert [k for k, _ in entries(tmp_path / "s")] == ["exec_start", "exec_end", "denial"]
