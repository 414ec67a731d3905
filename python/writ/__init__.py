"""writ for Python: verify writs and gate an agent's tool calls.

A *writ* is a signed, scoped, expiring runtime authorization (a DSSE
envelope). This package is a thin layer over the Rust core (``writ-core``),
so Python reaches the same verdict and the same stable denial code as the
native gate and the browser (WebAssembly) for the same bytes.

- :func:`verify` checks a writ against a trust root and a context.
- :class:`Gate` checks one tool call and records it (``exec_start`` before,
  ``exec_end`` after) in a durable spool that ``writ sync`` uploads, each
  record signed with the gate's key (``gate_key=``).
- :func:`gated` wraps any function (an agent framework's tool) in a gate.
- :mod:`writ.mcp` attaches a writ to an MCP ``tools/call`` request.
"""

from __future__ import annotations

import base64 as _base64
import datetime as _dt
import functools as _functools
import inspect as _inspect
import json as _json
import os
from typing import Any, Callable, Mapping

from . import _writ
from ._writ import Denied, Permit, TrustRoot, Verified, decode_entry, read_spool, verify_record

__all__ = [
    "Context",
    "Delegation",
    "Denied",
    "Gate",
    "Permit",
    "TrustRoot",
    "Verified",
    "DENIAL_CODES",
    "decode_entry",
    "delegate",
    "gated",
    "read_spool",
    "set_default_gate",
    "tool_args",
    "verify",
    "verify_record",
]

#: Every stable denial code name (``docs/format.md`` §8).
DENIAL_CODES: tuple[str, ...] = tuple(_writ.denial_codes())


def _rfc3339(t: Any) -> str:
    if isinstance(t, bool):
        raise TypeError("`now` must be an RFC 3339 string, unix seconds or a datetime")
    if isinstance(t, int):
        return _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            raise ValueError("`now` is a naive datetime; give it a timezone (e.g. datetime.now(timezone.utc))")
        return t.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(t, str):
        return t
    raise TypeError("`now` must be an RFC 3339 string, unix seconds or a datetime")


class Context:
    """A prepared verification context (parse once, verify many times).

    ``spec`` is the context of ``docs/format.md``, "Context files" (the
    ``context`` of every ``testdata/writs/*.expected.json``): ``now``,
    ``mode`` (``check``/``offline``/``online``), ``attempt``, ``host``,
    ``capabilities``, ``status``, ``use_count``, ``ancestors``, ``receipt``.
    ``now`` may also be unix seconds or an aware ``datetime``; when absent it
    is the current time.
    """

    __slots__ = ("_inner",)

    def __init__(self, spec: Mapping[str, Any] | None = None) -> None:
        spec = dict(spec or {})
        now = spec.get("now")
        spec["now"] = _rfc3339(now if now is not None else int(_dt.datetime.now(_dt.timezone.utc).timestamp()))
        self._inner = _writ.VerifyContext(_json.dumps(spec))


@_functools.lru_cache(maxsize=8)
def _trust_root(data: bytes | str) -> TrustRoot:
    # Parsing a trust root decodes every key (curve points): cache the few
    # recently used ones, keyed by their exact bytes (a TrustRoot is immutable).
    return TrustRoot(data)


def verify(
    envelope: bytes,
    trust_root: bytes | str | TrustRoot,
    context: Mapping[str, Any] | Context | None = None,
) -> Verified:
    """Verifies ``envelope`` (the writ's bytes) against ``trust_root`` (the
    bytes or text of a ``trust.json``, or a :class:`TrustRoot`) in
    ``context`` (a dict as described in :class:`Context`, or a prepared
    :class:`Context`; absent = check authenticity and validity now).

    Returns a :class:`Verified`; raises :class:`Denied` (``.code`` is the
    stable denial code, ``.detail`` says why) otherwise, and ``ValueError``
    for a trust root or context that does not parse.
    """
    if isinstance(envelope, str):
        envelope = envelope.encode()
    if not isinstance(envelope, (bytes, bytearray, memoryview)):
        raise TypeError("the envelope must be bytes (the writ file's contents)")
    if isinstance(trust_root, TrustRoot):
        trust = trust_root
    elif isinstance(trust_root, (bytes, str)):
        trust = _trust_root(trust_root)
    else:
        trust = TrustRoot(trust_root)
    ctx = context if isinstance(context, Context) else Context(context)
    return _writ.verify_prepared(bytes(envelope), trust, ctx._inner)


def _arg_text(value: Any) -> str:
    """The string a tool argument is matched as: strings as they are, booleans
    as ``true``/``false``, numbers as Python prints them, ``None`` as
    ``null``, anything else as canonical JSON (sorted keys, no spaces)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return _json.dumps(value)
    return _json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def tool_args(args: Mapping[str, Any]) -> dict[str, str]:
    """The tool call's arguments as the gate matches them (see ``_arg_text``)."""
    out = {}
    for k, v in args.items():
        if not isinstance(k, str):
            raise TypeError(f"tool argument names must be strings, not `{k!r}`")
        out[k] = _arg_text(v)
    return out


class Gate:
    """A tool-call gate.

    ``Gate(trust_root, hostname=..., spool=path, gate_key=key)`` checks
    writs offline against ``trust_root`` and appends its records to the spool
    at ``path`` (the format of the native gate's spool, uploaded by ``writ
    sync``). ``mode="check"`` checks without recording (``spool`` optional).

    Every record is a signed gate record (``docs/format.md`` §19), signed
    with ``gate_key``: the path of the gate's private key file (``writ
    keygen``; mode 0600) or its 32-byte seed. Its public key must be in
    ``trust_root`` with the ``gate`` role (``writ trust add --role gate``) and,
    if the key is bound to hosts, cover ``hostname``; the authority refuses
    unsigned records at ``writ sync`` and ``writ audit`` flags them. A gate
    with a spool and no ``gate_key`` is refused (``ValueError``), and one
    whose key the trust root does not list as a gate key raises
    :class:`Denied` (``record_failed``; ``scope_host`` for a key bound to
    other hosts): it would write records nobody accepts.

    A tool called in-process enforces no process boundaries (CPU, memory,
    network...): a writ that sets any is refused with ``scope_boundary``
    unless ``enforces`` names it (when your tool runner really enforces it,
    e.g. it runs tools in a sandbox): ``wall_clock``, ``cpu``, ``memory``,
    ``processes``, ``open_files``, ``file_size``, ``network``, ``fs``.
    """

    def __init__(
        self,
        trust_root: bytes | str | TrustRoot,
        *,
        hostname: str,
        labels: list[str] | tuple[str, ...] = (),
        spool: str | os.PathLike[str] | None = None,
        mode: str = "offline",
        enforces: list[str] | tuple[str, ...] = (),
        gate_key: str | os.PathLike[str] | bytes | None = None,
    ) -> None:
        if gate_key is not None and not isinstance(gate_key, (bytes, bytearray)):
            gate_key = os.fspath(gate_key)
        elif isinstance(gate_key, bytearray):
            gate_key = bytes(gate_key)
        self._inner = _writ.Gate(
            trust_root,
            hostname,
            list(labels),
            None if spool is None else os.fspath(spool),
            mode,
            list(enforces),
            gate_key,
        )

    @property
    def spool(self):
        return self._inner.spool

    @property
    def gate_key_id(self) -> str | None:
        """The id of the key records are signed with (``sha256:<hex>``)."""
        return self._inner.gate_key_id

    def check(
        self,
        writ: bytes,
        tool: str,
        args: Mapping[str, Any] | None = None,
        *,
        ancestors: list[bytes] = (),
        receipt: bytes | None = None,
    ) -> Permit:
        """Checks ``writ`` for calling ``tool`` with ``args`` now (for a
        delegated writ, ``ancestors`` are its ancestors' envelopes, parent
        first; ``receipt`` is the ledger receipt issued with the writ, the
        ``WRIT.receipt`` file, which a trust root with ``require_receipt``
        asks for). Returns a :class:`Permit`; raises :class:`Denied` (after
        spooling a ``denial`` record, when the gate has a spool)."""
        if isinstance(writ, str):
            writ = writ.encode()
        if isinstance(receipt, str):
            receipt = receipt.encode()
        return self._inner.check(
            bytes(writ), tool, tool_args(args or {}), [bytes(a) for a in ancestors], None if receipt is None else bytes(receipt)
        )

    def record(self, permit: Permit, event: str, *, outcome: str | None = None, exit_code: int | None = None) -> bytes:
        """Appends ``exec_start`` (fsynced; raises :class:`Denied` with code
        ``record_failed`` if it cannot be written, and the tool must then not
        run) or ``exec_end`` (``outcome``, e.g. ``returned``/``raised``) for
        ``permit``. Returns the signed gate record's bytes (what the spool holds)."""
        return self._inner.record(permit, event, outcome, exit_code)

    def call(
        self,
        writ: bytes,
        tool: str,
        fn: Callable[..., Any],
        args: Mapping[str, Any] | None = None,
        *,
        receipt: bytes | None = None,
    ) -> Any:
        """Checks, records ``exec_start``, runs ``fn(**args)``, records
        ``exec_end`` (``returned``, exit code 0, or ``raised``, exit code 1)
        and returns ``fn``'s result (or re-raises its exception)."""
        args = dict(args or {})
        return self._run(writ, tool, args, lambda: fn(**args), receipt)

    def _run(
        self, writ: bytes, tool: str, args: Mapping[str, Any], thunk: Callable[[], Any], receipt: bytes | None = None
    ) -> Any:
        permit = self.check(writ, tool, args, receipt=receipt)
        self.record(permit, "exec_start")
        try:
            result = thunk()
        except BaseException:
            self.record(permit, "exec_end", outcome="raised", exit_code=1)
            raise
        self.record(permit, "exec_end", outcome="returned", exit_code=0)
        return result

    async def call_async(
        self,
        writ: bytes,
        tool: str,
        fn: Callable[..., Any],
        args: Mapping[str, Any] | None = None,
        *,
        receipt: bytes | None = None,
    ) -> Any:
        """:meth:`call` for a coroutine function."""
        args = dict(args or {})
        return await self._run_async(writ, tool, args, lambda: fn(**args), receipt)

    async def _run_async(
        self, writ: bytes, tool: str, args: Mapping[str, Any], thunk: Callable[[], Any], receipt: bytes | None = None
    ) -> Any:
        permit = self.check(writ, tool, args, receipt=receipt)
        self.record(permit, "exec_start")
        try:
            result = await thunk()
        except BaseException:
            self.record(permit, "exec_end", outcome="raised", exit_code=1)
            raise
        self.record(permit, "exec_end", outcome="returned", exit_code=0)
        return result


WritSource = bytes | str | Callable[[], bytes]

_default_gate: Gate | None = None


def set_default_gate(gate: Gate | None) -> None:
    """The gate :func:`gated` uses when it is given none."""
    global _default_gate
    _default_gate = gate


def _resolve(writ: WritSource) -> bytes:
    w = writ() if callable(writ) else writ
    if isinstance(w, str):
        w = w.encode()
    if not isinstance(w, (bytes, bytearray)):
        raise TypeError("the writ must be bytes (or a function returning them)")
    return bytes(w)


def gated(
    *,
    tool: str | None = None,
    writ: WritSource,
    receipt: WritSource | None = None,
    gate: Gate | None = None,
    trust_root: bytes | str | TrustRoot | None = None,
    hostname: str | None = None,
    spool: str | os.PathLike[str] | None = None,
    gate_key: str | os.PathLike[str] | bytes | None = None,
    labels: list[str] | tuple[str, ...] = (),
    enforces: list[str] | tuple[str, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: every call of the function is checked by ``gate`` (default:
    the one given to :func:`set_default_gate`; none set = every call fails)
    — or, instead of ``gate=``, by a gate of its own built from
    ``trust_root=``, ``hostname=``, ``spool=`` and ``gate_key=`` (required:
    the gate's private key, see :class:`Gate`; ``labels=`` and ``enforces=``
    optional) when the function is decorated — (with ``receipt``, the writ's
    ledger receipt: bytes or a function returning them, for a trust root
    that requires one) against ``writ`` (bytes, or a zero-argument function returning the
    current writ) as tool ``tool`` (default: the function's name) with the
    call's arguments bound by name (defaults applied, ``**kwargs`` merged),
    and recorded before (``exec_start``) and after (``exec_end``). A refused
    call raises :class:`Denied` and the function does not run.

    Works with plain and ``async`` functions, so it fits any agent framework
    that takes a Python callable as a tool; apply it under the framework's own
    decorator (``@framework.tool`` on top, ``@gated`` below it).
    """

    own = (trust_root, hostname, spool, gate_key)
    if any(v is not None for v in own) or labels or enforces:
        if gate is not None:
            raise TypeError("`@gated` takes either `gate=` or the keywords of a gate of its own (`trust_root=`, ...), not both")
        missing = [k for k, v in zip(("trust_root", "hostname", "spool", "gate_key"), own) if v is None]
        if missing:
            raise ValueError(
                f"`@gated` builds its own gate from `trust_root=`, `hostname=`, `spool=` and `gate_key=`; missing: "
                f"{', '.join(missing)} (every record is signed with the gate's key: pass `gate_key=` the path of its "
                f"`writ keygen` private key)"
            )
        gate = Gate(trust_root, hostname=hostname, spool=spool, gate_key=gate_key, labels=labels, enforces=enforces)

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = tool or fn.__name__
        sig = _inspect.signature(fn)
        for p in sig.parameters.values():
            if p.kind is _inspect.Parameter.VAR_POSITIONAL:
                raise TypeError(f"`@gated` tool `{name}` cannot take *{p.name}: every argument needs a name")

        def bound(args: tuple, kwargs: dict) -> dict[str, Any]:
            b = sig.bind(*args, **kwargs)
            b.apply_defaults()
            out: dict[str, Any] = {}
            for k, v in b.arguments.items():
                if sig.parameters[k].kind is _inspect.Parameter.VAR_KEYWORD:
                    out.update(v)
                else:
                    out[k] = v
            return out

        def the_gate() -> Gate:
            g = gate or _default_gate
            if g is None:
                raise RuntimeError(
                    f"`@gated` tool `{name}` has no gate; pass `gate=` or call `writ.set_default_gate(...)` first"
                )
            return g

        if _inspect.iscoroutinefunction(fn):

            @_functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                call = bound(args, kwargs)
                return await the_gate()._run_async(
                    _resolve(writ), name, call, lambda: fn(*args, **kwargs), None if receipt is None else _resolve(receipt)
                )

            return run_async

        @_functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            call = bound(args, kwargs)
            return the_gate()._run(
                _resolve(writ), name, call, lambda: fn(*args, **kwargs), None if receipt is None else _resolve(receipt)
            )

        return run

    return wrap


def _unix(t: Any, what: str) -> int:
    """Unix seconds from an int, an aware ``datetime`` or an RFC 3339 string."""
    if isinstance(t, bool):
        raise TypeError(f"`{what}` must be unix seconds, an RFC 3339 string or a datetime")
    if isinstance(t, int):
        return t
    if isinstance(t, str):
        t = _dt.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.timezone.utc)
    if isinstance(t, _dt.datetime):
        if t.tzinfo is None:
            raise ValueError(f"`{what}` is a naive datetime; give it a timezone")
        return int(t.timestamp())
    raise TypeError(f"`{what}` must be unix seconds, an RFC 3339 string or a datetime")


def _key_bytes(key: Any, prefix: str, what: str) -> bytes:
    """32 raw key bytes, given as such or as the path of a ``writ keygen`` file
    (``ed25519-secret <base64>`` for a private key, ``ed25519 <base64> [name]``
    for a public one)."""
    if isinstance(key, (bytes, bytearray)):
        raw = bytes(key)
    else:
        with open(os.fspath(key), encoding="utf-8") as f:
            parts = f.read().split()
        if len(parts) < 2 or parts[0] != prefix:
            raise ValueError(f"`{what}` is not a writ key file (expected `{prefix} <base64>` from `writ keygen`)")
        raw = _base64.b64decode(parts[1], validate=True)
    if len(raw) != 32:
        raise ValueError(f"`{what}` must be a 32-byte Ed25519 key")
    return raw


def _uuid7() -> str:
    ms = int(_dt.datetime.now(_dt.timezone.utc).timestamp() * 1000)
    b = bytearray(ms.to_bytes(6, "big") + os.urandom(10))
    b[6] = 0x70 | (b[6] & 0x0F)
    b[8] = 0x80 | (b[8] & 0x3F)
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Delegation:
    """A child writ and the ancestors that travel with it (parent first).

    ``writ`` is the child's envelope; pass ``ancestors`` to
    :meth:`Gate.check` (``ancestors=``) or in a context
    (``{"ancestors": d.ancestors_b64}``); :meth:`chain_json` is the text of
    the ``WRIT.chain`` file the native gate reads beside the writ.
    """

    __slots__ = ("ancestors", "writ")

    def __init__(self, writ: bytes, ancestors: list[bytes]) -> None:
        self.writ = writ
        self.ancestors = ancestors

    @property
    def ancestors_b64(self) -> list[str]:
        return [_base64.b64encode(a).decode() for a in self.ancestors]

    def chain_json(self) -> str:
        return _json.dumps({"ancestors": self.ancestors_b64}, separators=(",", ":")) + "\n"


def delegate(
    parent: bytes,
    key: bytes | str | os.PathLike[str],
    *,
    tool: str | None = None,
    args: Mapping[str, str | list[str]] | None = None,
    not_before: Any = None,
    not_after: Any = None,
    uses: int | None = None,
    depth: int | None = None,
    to: bytes | str | os.PathLike[str] | None = None,
    chain: list[bytes] | tuple[bytes, ...] = (),
    now: Any = None,
) -> Delegation:
    """Mints a child of ``parent`` (a writ whose ``lineage.holder`` is
    ``key``: a ``writ keygen`` private key file, or its 32-byte seed), signed
    by that key (``docs/format.md`` §18): only ``tool`` of the parent's tools,
    with ``args`` (name → the one value, or the values, it may take; other
    arguments keep the parent's rule), validity ``not_before`` /
    ``not_after`` (unix seconds, RFC 3339 or datetime), ``uses``, ``depth``
    (levels allowed below the child) and the next holder ``to`` (a public
    key file or 32 raw bytes). ``chain`` is the parent's own ancestors when
    the parent is itself delegated.

    Raises :class:`Denied` (``delegation_signature``: not the holder;
    ``delegation_depth``; ``delegation_widened``: more than the parent
    grants) with nothing minted."""
    if isinstance(parent, str):
        parent = parent.encode()
    now_s = _unix(now, "now") if now is not None else int(_dt.datetime.now(_dt.timezone.utc).timestamp())
    grouped = [(k, [v] if isinstance(v, str) else list(v)) for k, v in (args or {}).items()]
    child = _writ.delegate(
        bytes(parent),
        _key_bytes(key, "ed25519-secret", "key"),
        _uuid7(),
        now_s,
        tool,
        grouped,
        None if not_before is None else _unix(not_before, "not_before"),
        None if not_after is None else _unix(not_after, "not_after"),
        uses,
        depth,
        None if to is None else _key_bytes(to, "ed25519", "to"),
    )
    return Delegation(bytes(child), [bytes(parent), *[bytes(a) for a in chain]])
