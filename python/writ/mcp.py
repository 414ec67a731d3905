"""Attach a writ to an MCP ``tools/call`` request (pure Python: no ``mcp``
import needed).

The writ travels in the request's ``params._meta`` under :data:`META_KEY`
as the standard base64 of the envelope bytes (and, for a delegated writ,
its ancestors, parent first, under :data:`ANCESTORS_KEY`). Over Streamable
HTTP a gateway may also take it from the :data:`HEADER` header. A gateway
removes both before it forwards the call (:func:`strip_writ`): a writ is
never passed through to the upstream server.

With the official Python SDK::

    from writ.mcp import meta
    result = await session.call_tool("refund", {"amount": "5"}, meta=meta(writ_bytes))

With raw JSON-RPC::

    from writ.mcp import tools_call
    msg = tools_call("refund", {"amount": "5"}, writ_bytes, id=7)
"""

from __future__ import annotations

import base64
import binascii
import copy
from typing import Any, Iterable, Mapping

#: The ``_meta`` key holding the writ (base64 of the envelope bytes).
META_KEY = "dev.writ/writ"
#: The ``_meta`` key holding the ancestors of a delegated writ (list of base64, parent first).
ANCESTORS_KEY = "dev.writ/ancestors"
#: The HTTP header a Streamable HTTP gateway also accepts (base64 of the envelope).
HEADER = "Writ"
#: Largest writ accepted from a request (the core's envelope limit is lower; this only bounds decoding).
_MAX_B64 = 1 << 20


def _b64(data: bytes) -> str:
    if isinstance(data, str):
        data = data.encode()
    if not isinstance(data, (bytes, bytearray)):
        raise TypeError("a writ must be bytes (the envelope file's contents)")
    return base64.b64encode(bytes(data)).decode("ascii")


def meta(writ: bytes, ancestors: Iterable[bytes] = ()) -> dict[str, Any]:
    """The ``_meta`` object carrying ``writ`` (merge it into an existing one
    with ``{**existing, **meta(writ)}``)."""
    out: dict[str, Any] = {META_KEY: _b64(writ)}
    anc = [_b64(a) for a in ancestors]
    if anc:
        out[ANCESTORS_KEY] = anc
    return out


def attach(request: Mapping[str, Any], writ: bytes, ancestors: Iterable[bytes] = ()) -> dict[str, Any]:
    """A copy of the JSON-RPC ``tools/call`` request with the writ in
    ``params._meta`` (other ``_meta`` keys kept). Raises ``ValueError`` for
    any other method: a writ goes only where a gate checks it."""
    if request.get("method") != "tools/call":
        raise ValueError(f"a writ is attached to `tools/call` requests only, not `{request.get('method')}`")
    out = copy.deepcopy(dict(request))
    params = out.setdefault("params", {})
    if not isinstance(params, dict) or not isinstance(params.get("name"), str):
        raise ValueError("`tools/call` needs `params.name` (the tool's name)")
    existing = params.get("_meta") or {}
    if not isinstance(existing, dict):
        raise ValueError("`params._meta` must be an object")
    existing = {k: v for k, v in existing.items() if k not in (META_KEY, ANCESTORS_KEY)}
    params["_meta"] = {**existing, **meta(writ, ancestors)}
    return out


def tools_call(
    name: str,
    arguments: Mapping[str, Any] | None,
    writ: bytes,
    *,
    id: int | str = 1,
    ancestors: Iterable[bytes] = (),
) -> dict[str, Any]:
    """A complete JSON-RPC 2.0 ``tools/call`` request carrying ``writ``."""
    req = {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": name, "arguments": dict(arguments or {})}}
    return attach(req, writ, ancestors)


def _decode(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or len(value) > _MAX_B64:
        raise ValueError(f"`{what}` must be a base64 string of at most {_MAX_B64} characters")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error as e:
        raise ValueError(f"`{what}` is not valid base64: {e}") from None


def writ_from(request: Mapping[str, Any]) -> tuple[bytes, list[bytes]] | None:
    """The writ and its ancestors carried by a ``tools/call`` request, or
    ``None`` when it carries none. Raises ``ValueError`` when they are
    present but malformed (a gate must refuse the call then)."""
    params = request.get("params")
    m = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(m, dict) or META_KEY not in m:
        return None
    writ = _decode(m[META_KEY], f"_meta.{META_KEY}")
    anc = m.get(ANCESTORS_KEY, [])
    if not isinstance(anc, list):
        raise ValueError(f"`_meta.{ANCESTORS_KEY}` must be a list")
    return writ, [_decode(a, f"_meta.{ANCESTORS_KEY}[]") for a in anc]


def strip_writ(request: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the request without the writ (what a gateway forwards)."""
    out = copy.deepcopy(dict(request))
    params = out.get("params")
    if isinstance(params, dict) and isinstance(params.get("_meta"), dict):
        m = {k: v for k, v in params["_meta"].items() if k not in (META_KEY, ANCESTORS_KEY)}
        if m:
            params["_meta"] = m
        else:
            del params["_meta"]
    return out
