"""The smallest MCP stdio server: answers `initialize`, `tools/list` and
`tools/call` of `echo` at once, so that a benchmark of the gateway in front
of it measures the gateway, not the server (tests/mcp/bench.py --upstream echo).
"""

import json
import sys

TOOL = {"name": "echo", "description": "Echo `text`.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}}

for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg or "method" not in msg:
        continue
    m = msg["method"]
    if m == "initialize":
        result = {"protocolVersion": msg["params"]["protocolVersion"], "capabilities": {"tools": {}},
                  "serverInfo": {"name": "echo", "version": "1"}}
    elif m == "tools/list":
        result = {"tools": [TOOL]}
    elif m == "tools/call":
        result = {"content": [{"type": "text", "text": msg["params"]["arguments"]["text"]}], "isError": False}
    else:
        sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": m}}) + "\n")
        sys.stdout.flush()
        continue
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}) + "\n")
    sys.stdout.flush()
