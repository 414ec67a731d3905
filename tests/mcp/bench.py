"""Gateway overhead per `tools/call`: the same MCP server (official Python
SDK, tests/mcp/upstream_server.py, tool `echo`) called directly over stdio
and through `writ-gate mcp`, in one paired run: rounds alternate direct and
gateway, each round CALLERS concurrent callers making CALLS calls each.

    python bench.py WRIT_GATE GATE_TOML WRIT_FILE [--callers 16] [--calls 50] [--rounds 6] [--upstream sdk|echo]

Run by scripts/bench-mcp.sh (which makes the trust root, key, writ and
gate.toml). Latency is measured by the client from writing the request line
to reading its answer; "added" is gateway minus direct at the same
percentile. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import pathlib
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


class Conn:
    """Newline-delimited JSON-RPC to a child process, answers matched by id."""

    def __init__(self, proc):
        self.proc = proc
        self.waiting: dict[int, asyncio.Future] = {}
        self.next_id = 0
        self.reader = asyncio.create_task(self.read())

    async def read(self):
        while line := await self.proc.stdout.readline():
            msg = json.loads(line)
            fut = self.waiting.pop(msg.get("id"), None) if "method" not in msg else None
            if fut is not None:
                fut.set_result(msg)

    async def request(self, method, params):
        self.next_id += 1
        i = self.next_id
        fut = asyncio.get_running_loop().create_future()
        self.waiting[i] = fut
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", "id": i, "method": method, "params": params}) + "\n").encode())
        await self.proc.stdin.drain()
        return await fut

    async def notify(self, method):
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", "method": method}) + "\n").encode())
        await self.proc.stdin.drain()


async def open_conn(argv):
    env = {**os.environ, "UPSTREAM_NO_LOG": "1"}
    proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env)
    c = Conn(proc)
    init = await c.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                          "clientInfo": {"name": "writ-bench", "version": "1"}})
    assert "result" in init, init
    await c.notify("notifications/initialized")
    return c


async def round_(conn, meta, callers, calls):
    out = []

    async def caller(n):
        for k in range(calls):
            params = {"name": "echo", "arguments": {"text": f"c{n}-{k}"}}
            if meta:
                params["_meta"] = meta
            t = time.perf_counter()
            r = await conn.request("tools/call", params)
            out.append(time.perf_counter() - t)
            assert "result" in r and not r["result"].get("isError"), r

    await asyncio.gather(*(caller(n) for n in range(callers)))
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gate")
    ap.add_argument("config")
    ap.add_argument("writ")
    ap.add_argument("--callers", type=int, default=16)
    ap.add_argument("--calls", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--upstream", choices=["sdk", "echo"], default="sdk",
                    help="sdk: the official SDK server; echo: tests/mcp/echo_server.py, which answers at once")
    a = ap.parse_args()
    if a.upstream == "sdk":
        server = [sys.executable, str(HERE / "upstream_server.py"), os.devnull, "stdio"]
    else:
        server = [sys.executable, str(HERE / "echo_server.py")]
    direct = await open_conn(server)
    gated = await open_conn([a.gate, "mcp", "--offline", "--config", a.config, "--", *server])
    meta = {"dev.writ/writ": base64.b64encode(pathlib.Path(a.writ).read_bytes()).decode()}
    # Warm-up: one round each, not counted.
    await round_(direct, None, a.callers, 5)
    await round_(gated, meta, a.callers, 5)
    d, g = [], []
    for _ in range(a.rounds):
        d += await round_(direct, None, a.callers, a.calls)
        g += await round_(gated, meta, a.callers, a.calls)
    ms = lambda x: round(x * 1e3, 3)  # noqa: E731
    res = {
        "upstream": a.upstream,
        "callers": a.callers,
        "calls_per_mode": len(d),
        "direct_ms": {"p50": ms(pct(d, 50)), "p99": ms(pct(d, 99)), "mean": ms(statistics.mean(d))},
        "gateway_ms": {"p50": ms(pct(g, 50)), "p99": ms(pct(g, 99)), "mean": ms(statistics.mean(g))},
    }
    res["added_ms"] = {k: round(res["gateway_ms"][k] - res["direct_ms"][k], 3) for k in ("p50", "p99", "mean")}
    print(json.dumps(res))
    for c in (direct, gated):
        c.proc.stdin.close()
        await c.proc.wait()


if __name__ == "__main__":
    asyncio.run(main())
