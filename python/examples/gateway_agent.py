"""A scripted agent whose MCP server sits behind `writ-gate mcp`.

    python gateway_agent.py GATE_TOML WRIT -- SERVER_COMMAND...

The agent talks to the MCP server only through the gateway (started here
over stdio, `$WRIT_GATE` or `writ-gate` on PATH, offline: records go to the
spool of GATE_TOML, signed with its `key`). Each `tools/call` carries the
writ in `_meta` (`writ.mcp.meta`); the gateway checks it against exactly
that call, records it and forwards it without the writ, or answers an MCP
error carrying writ's stable code — and the server never sees the call.
Prints one JSON line per step. The official Python MCP SDK (`mcp` 2.x) is
the client; the server can be any MCP server.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

from mcp import Client, MCPError, StdioServerParameters

from writ.mcp import meta


async def main(gate_toml: str, writ_path: str, server: list[str]) -> None:
    token = open(writ_path, "rb").read()
    gateway = StdioServerParameters(
        command=os.environ.get("WRIT_GATE", "writ-gate"),
        args=["mcp", "--offline", "--config", gate_toml, "--", *server],
    )
    m = meta(token)
    async with Client(gateway) as client:
        # tools/list shows only the tools this writ permits.
        tools = (await client.list_tools(meta=m)).tools
        print(json.dumps({"tools": sorted(t.name for t in tools)}), flush=True)
        # What a model might ask for, in order.
        plan = [
            ("refund", {"amount": 5, "currency": "EUR"}),
            ("refund", {"amount": 5000, "currency": "EUR"}),
            ("delete_everything", {}),
        ]
        for name, args in plan:
            try:
                result = await client.call_tool(name, args, meta=m)
                text = "".join(c.text for c in result.content if c.type == "text")
                print(json.dumps({"call": name, "args": args, "result": text}), flush=True)
            except MCPError as e:
                code = (e.data or {}).get("writ", {}).get("code")
                print(json.dumps({"call": name, "args": args, "denied": code}), flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[4:]))
