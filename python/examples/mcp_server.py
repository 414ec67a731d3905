"""An MCP server (official Python SDK, `mcp` 2.x) whose tool runs only under
the writ the client put in the call's `_meta`.

    python mcp_server.py TRUST_JSON SPOOL GATE_KEY     # speaks MCP over stdio

Each `tools/call` of `refund` takes the writ from `_meta` (`writ.mcp`),
checks it for exactly this call, records exec_start/exec_end in SPOOL
(signed with the gate's private key GATE_KEY, as every gate record is) and
only then runs the tool. A refusal is a tool error `denied (<code>): ...`.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

import writ
from writ import mcp as writ_mcp

trust, spool, gate_key = open(sys.argv[1], "rb").read(), sys.argv[2], sys.argv[3]
gate = writ.Gate(trust, hostname="agent-1", spool=spool, gate_key=gate_key)
server = MCPServer("refunds")


def presented_writ(ctx: Context) -> tuple[bytes, list[bytes]]:
    try:
        got = writ_mcp.writ_from({"params": {"_meta": dict(ctx.request_context.meta or {})}})
    except ValueError as e:
        raise ToolError(f"denied (malformed): {e}") from None
    if got is None:
        raise ToolError("denied (malformed): this tool needs a writ in `_meta`; attach one with writ.mcp.meta(...)")
    return got


@server.tool()
def refund(amount: str, ctx: Context) -> str:
    """Refund `amount` EUR."""
    token, ancestors = presented_writ(ctx)
    try:
        permit = gate.check(token, "refund", {"amount": amount}, ancestors=ancestors)
        gate.record(permit, "exec_start")
    except writ.Denied as d:
        raise ToolError(str(d)) from None
    result = f"refunded {permit.args['amount']} EUR"  # the checked argument, not the raw one
    gate.record(permit, "exec_end", outcome="returned", exit_code=0)
    return result


if __name__ == "__main__":
    server.run("stdio")
