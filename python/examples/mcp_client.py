"""An MCP client (official Python SDK) that attaches a writ to each
`tools/call` with `writ.mcp.meta`.

    python mcp_client.py TRUST_JSON SPOOL GATE_KEY WRIT_JSON AMOUNT...

Starts `mcp_server.py` (with TRUST_JSON, SPOOL and the gate key GATE_KEY) over stdio and calls `refund` once per AMOUNT,
printing one JSON line per call.
"""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys

from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from writ.mcp import meta


async def main(trust: str, spool: str, gate_key: str, writ_path: str, amounts: list[str]) -> None:
    token = open(writ_path, "rb").read()
    server = pathlib.Path(__file__).with_name("mcp_server.py")
    params = StdioServerParameters(command=sys.executable, args=[str(server), trust, spool, gate_key])
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for amount in amounts:
            res = await session.call_tool("refund", {"amount": amount}, meta=meta(token))
            text = [c.text for c in res.content if getattr(c, "type", "") == "text"]
            print(json.dumps({"amount": amount, "is_error": res.is_error, "text": text}), flush=True)
        # Without a writ the tool does not run either.
        res = await session.call_tool("refund", {"amount": "1"})
        print(json.dumps({"amount": "1", "is_error": res.is_error, "text": [c.text for c in res.content]}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
