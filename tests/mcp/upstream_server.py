"""An MCP server (official Python SDK) whose tools write down what they
received: the upstream behind `writ-gate mcp` in the gateway tests and the
benchmark.

    python upstream_server.py LOG stdio
    python upstream_server.py LOG http PORT

Each tool call appends one JSON line to LOG: the tool, its arguments and
the `_meta` keys it got (a writ must never be among them). With
`REFUND_DESCRIPTION` set, `refund` announces that description instead: the
same server after a change of its tool definition.
"""

from __future__ import annotations

import json
import os
import sys

from mcp.server.mcpserver import Context, MCPServer

log_path = sys.argv[1]
server = MCPServer("writ-test-upstream")


def received(tool: str, args: dict, ctx: Context) -> None:
    meta = sorted((ctx.request_context.meta or {}).keys()) if ctx.request_context.meta else []
    with open(log_path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"tool": tool, "args": args, "meta": meta}) + "\n")


@server.tool(description=os.environ.get("REFUND_DESCRIPTION", "Refund `amount` in `currency`."))
def refund(amount: int, currency: str, ctx: Context) -> str:
    received("refund", {"amount": amount, "currency": currency}, ctx)
    return f"refunded {amount} {currency}"


@server.tool()
def read_file(path: str, ctx: Context) -> str:
    """Read a file of the project."""
    received("read_file", {"path": path}, ctx)
    return f"contents of {path}"


@server.tool()
def delete_everything(ctx: Context) -> str:
    """Delete every file (no writ should ever permit this)."""
    received("delete_everything", {}, ctx)
    return "deleted"


@server.tool()
def deploy(ctx: Context) -> str:
    """Deploy the current release (needs a person's approval)."""
    received("deploy", {}, ctx)
    return "deployed"


@server.tool()
def echo(text: str, ctx: Context) -> str:
    """Echo `text` (the benchmark's tool)."""
    if os.environ.get("UPSTREAM_NO_LOG") != "1":
        received("echo", {"text": text}, ctx)
    return text


if __name__ == "__main__":
    if sys.argv[2] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[3]))
