"""A scripted agent loop whose tools run only under a writ.

    python agent_tools.py TRUST_JSON WRIT_JSON SPOOL GATE_KEY

The "model" below proposes tool calls; each tool is an ordinary function
behind `@writ.gated`, so a call outside the writ's scope raises
`writ.Denied` (with its stable code) and never reaches the tool. Every call
that runs is recorded (exec_start before, exec_end after) in SPOOL, which
`writ sync` uploads to the authority; every record is signed with the
gate's private key GATE_KEY (from `writ keygen`; its public key is in the
trust root with the `gate` role), or the authority would refuse it. The same decorated functions can be
handed to any agent framework that takes Python callables as tools.
"""

from __future__ import annotations

import json
import socket
import sys

import writ
from writ import mcp


def main(trust_path: str, writ_path: str, spool: str, gate_key: str) -> int:
    trust = open(trust_path, "rb").read()
    token = open(writ_path, "rb").read()
    gate = writ.Gate(trust, hostname=socket.gethostname(), spool=spool, gate_key=gate_key)

    @writ.gated(tool="read_ticket", writ=token, gate=gate)
    def read_ticket(id: str) -> str:
        return f"ticket {id}: printer on fire"

    @writ.gated(tool="refund", writ=token, gate=gate)
    def refund(amount: str, currency: str = "EUR") -> str:
        return f"refunded {amount} {currency}"

    tools = {"read_ticket": read_ticket, "refund": refund}
    # What a model might ask for, in order.
    plan = [
        ("read_ticket", {"id": "4217"}),
        ("refund", {"amount": "5"}),
        ("refund", {"amount": "5000"}),
        ("delete_account", {"user": "bob"}),
    ]
    for name, args in plan:
        try:
            fn = tools.get(name)
            if fn is None:
                # No such tool here; a gate would say the same for a tool the writ does not name.
                gate.check(token, name, args)
                raise AssertionError("unreachable: the writ names no such tool")
            print(json.dumps({"call": name, "args": args, "result": fn(**args)}))
        except writ.Denied as d:
            print(json.dumps({"call": name, "args": args, "denied": d.code, "detail": d.detail}))
    # The same writ, carried to an MCP server in `tools/call`'s `_meta`.
    print(json.dumps({"mcp_request": mcp.tools_call("refund", {"amount": "5"}, token, id=1)["params"]["name"]}))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:5]))
