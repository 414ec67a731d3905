"""Schemathesis hooks for scripts/schemathesis.sh: sign requests like a writ client.

Every authenticated `/v1` operation needs an RFC 9421 HTTP message signature
(docs/api.md, crates/writ-api/src/httpsig.rs): label `sig1`, components
("@method" "@path" "@query" "content-digest"), parameters
created;keyid;alg="ed25519";nonce, with `Signature-Input` and `Content-Digest`.

How it fits schemathesis 4:

* An auth provider (`WritSignature`) acts on the operations that declare
  the `httpSignature` security scheme. It does not sign (the body is not
  serialized yet); it puts a marker `Signature: writ-sign <role>` on the case
  naming the key the route needs. Because it is a registered auth provider,
  schemathesis knows the credentials are explicit, so `ignored_auth` removes
  them and resends, expecting a refusal.
* A `before_call` hook hands requests an `auth` object (`Signer`) that signs
  the prepared request: the exact method, raw path, raw query and body bytes
  on the wire. It signs only a request whose `Signature` header is the
  marker, so the probes `ignored_auth` sends without credentials (or with an
  invalid `Signature`), and negative cases that drop the header, go out
  unsigned, as they must.

Keys come from `writ keygen` private key files (`ed25519-secret <base64 seed>`,
crates/writ-cli/src/files.rs), named by WRIT_SIGN_REQUESTER, WRIT_SIGN_APPROVER
and WRIT_SIGN_GATE (paths). Needs pyca `cryptography`.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time

import requests
import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

MARKER = "writ-sign "
COMPONENTS = '("@method" "@path" "@query" "content-digest")'
PRIVATE_PREFIX = "ed25519-secret "


class Key:
    """A writ private key file, loaded once."""

    def __init__(self, path: str) -> None:
        with open(path, encoding="ascii") as f:
            text = f.read().strip()
        if not text.startswith(PRIVATE_PREFIX):
            raise ValueError(f"`{path}` is not a writ private key (expected `{PRIVATE_PREFIX}<base64>`)")
        seed = base64.b64decode(text[len(PRIVATE_PREFIX) :], validate=True)
        if len(seed) != 32:
            raise ValueError(f"`{path}`: an Ed25519 seed is 32 bytes")
        self.private = Ed25519PrivateKey.from_private_bytes(seed)
        raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.keyid = hashlib.sha256(raw).hexdigest()


def _key(role: str) -> Key:
    var = f"WRIT_SIGN_{role.upper()}"
    path = os.environ.get(var)
    if not path:
        raise RuntimeError(f"schemathesis_hooks: set {var} to the {role} private key file")
    return Key(path)


KEYS = {role: _key(role) for role in ("requester", "approver", "gate")}

# The key each authenticated route is called with (its role in docs/api.md).
# Anything not listed is signed by the requester.
ROUTE_ROLE = {
    ("GET", "/v1/requests"): "approver",
    ("POST", "/v1/requests/{id}/approvals"): "approver",
    ("POST", "/v1/writs/{id}/status"): "gate",
    ("POST", "/v1/writs/{id}/start"): "gate",
    ("POST", "/v1/records"): "gate",
}


def content_digest(body: bytes) -> str:
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"


def sign_headers(key: Key, method: str, path: str, query: str, body: bytes) -> dict[str, str]:
    """The three headers of crates/writ-api/src/httpsig.rs `sign`."""
    digest = content_digest(body)
    params = (
        f'{COMPONENTS};created={int(time.time())};keyid="{key.keyid}";alg="ed25519";nonce="{secrets.token_hex(16)}"'
    )
    base = (
        f'"@method": {method}\n"@path": {path}\n"@query": ?{query}\n'
        f'"content-digest": {digest}\n"@signature-params": {params}'
    )
    sig = base64.b64encode(key.private.sign(base.encode())).decode()
    return {"Content-Digest": digest, "Signature-Input": f"sig1={params}", "Signature": f"sig1=:{sig}:"}


class Signer(requests.auth.AuthBase):
    """Signs a prepared request that carries the marker, over its exact bytes."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        marker = r.headers.get("Signature")
        if not isinstance(marker, str) or not marker.startswith(MARKER):
            return r
        key = KEYS[marker[len(MARKER) :]]
        path, _, query = (r.path_url or "/").partition("?")
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        r.headers.update(sign_headers(key, r.method or "", path, query, body))
        return r


SIGNER = Signer()


@schemathesis.auth(refresh_interval=None)
class WritSignature:
    """Names the key for each case; `Signer` signs at send time."""

    def get(self, case, ctx):
        # Only the operations that declare the `httpSignature` scheme; the
        # public read path goes out as schemathesis generated it.
        return True if case.operation.definition.raw.get("security") else None

    def set(self, case, data, ctx):
        role = ROUTE_ROLE.get((case.method.upper(), case.operation.path), "requester")
        case.headers = case.headers or {}
        case.headers["Signature"] = MARKER + role


@schemathesis.hook
def before_call(ctx, case, kwargs):
    kwargs["auth"] = SIGNER


@schemathesis.hook
def after_call(ctx, case, response):
    """With WRIT_ST_LOG set, one line per signed request: `METHOD PATH STATUS`."""
    log = os.environ.get("WRIT_ST_LOG")
    sent = getattr(response, "request", None)
    if log and sent is not None and "Signature-Input" in sent.headers:
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{case.method.upper()} {case.operation.path} {response.status_code}\n")
