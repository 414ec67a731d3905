#!/usr/bin/env python3
"""Check writ's passkey approvals with py_webauthn (PyPI `webauthn`), an
independent WebAuthn implementation.

For each approval of a writ that carries a WebAuthn assertion, the script
takes the passkey (public key, credential id, rp id) from the trust root,
computes the approval's signing input from the writ's own fields — the v2
approval input, DSSE PAE of "approve sha256:<request digest> <time>" (see
docs/format.md §5) — and asks `webauthn.verify_authentication_response` to
verify the assertion with that input as the expected challenge.

usage:
  webauthn_check.py WRIT TRUST --origin ORIGIN
      exit 0 when every passkey approval verifies (at least one present), 1 if not
  webauthn_check.py --vectors DIR
      the testdata/writs passkey vectors: `allow_passkey_*` must verify and
      each `deny_passkey_*` whose fault is in the WebAuthn assertion must be
      refused (origin https://<rp id>); exit 0 when all agree with writ
"""
import base64
import glob
import json
import os
import sys

import cbor2
from webauthn import verify_authentication_response
from webauthn.helpers.structs import AuthenticationCredential, AuthenticatorAssertionResponse

PAYLOAD_TYPE = "application/vnd.writ.approval.v2"
# Vectors whose fault is not in the assertion (writ refuses them before any
# WebAuthn check: an Ed25519 key with WebAuthn parts, a passkey approval
# without them); py_webauthn has nothing to say about those.
NOT_WEBAUTHN = {"deny_passkey_parts_on_ed25519_key", "deny_passkey_without_assertion"}


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def pae(payload_type: str, body: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def cose_key(sec1: bytes) -> bytes:
    assert len(sec1) == 65 and sec1[0] == 4, "an uncompressed P-256 point"
    return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: sec1[1:33], -3: sec1[33:]})


def passkey_approvals(writ_path: str, trust_path: str):
    env = json.load(open(writ_path))
    statement = json.loads(base64.b64decode(env["payload"]))
    predicate = statement["predicate"]
    digest = predicate["request"]["digest"]["sha256"]
    passkeys = {p["key_id"]: p for p in json.load(open(trust_path)).get("passkeys", [])}
    for a in predicate.get("governance", {}).get("approvals", []):
        if "webauthn" not in a:
            continue
        pk = passkeys.get(a["approver"])
        if pk is None:
            yield a, None, None, "the approver is not a passkey of the trust root"
            continue
        challenge = pae(PAYLOAD_TYPE, f"approve sha256:{digest} {a['time']}".encode())
        yield a, pk, challenge, None


def check(a, pk, challenge, origin):
    """None when py_webauthn accepts the assertion, else its reason."""
    cred_id = b64url_decode(pk["credential_id"])
    credential = AuthenticationCredential(
        id=b64url(cred_id),
        raw_id=cred_id,
        response=AuthenticatorAssertionResponse(
            client_data_json=base64.b64decode(a["webauthn"]["client_data_json"]),
            authenticator_data=base64.b64decode(a["webauthn"]["authenticator_data"]),
            signature=base64.b64decode(a["sig"]),
        ),
    )
    try:
        verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=pk["rp_id"],
            expected_origin=origin or f"https://{pk['rp_id']}",
            credential_public_key=cose_key(base64.b64decode(pk["public_key"])),
            credential_current_sign_count=0,
            require_user_verification=bool(pk.get("user_verification", False)),
        )
    except Exception as exc:  # InvalidAuthenticationResponse and friends
        return f"{type(exc).__name__}: {exc}"
    return None


def one(writ_path: str, trust_path: str, origin: str) -> int:
    found = 0
    bad = 0
    for a, pk, challenge, err in passkey_approvals(writ_path, trust_path):
        found += 1
        why = err or check(a, pk, challenge, origin)
        if why:
            bad += 1
            print(f"refused: approval by {a['approver']}: {why}")
        else:
            print(f"verified: passkey approval by {pk['name']} ({a['approver']}) at {a['time']}")
    if not found:
        print("no passkey approval in the writ")
        return 1
    return 1 if bad else 0


def vectors(directory: str) -> int:
    failures = 0
    names = sorted(os.path.basename(p)[: -len(".writ.json")] for p in glob.glob(os.path.join(directory, "*passkey*.writ.json")))
    if not names:
        print(f"no passkey vectors in {directory}")
        return 1
    for name in names:
        if name in NOT_WEBAUTHN:
            continue
        expected = json.load(open(os.path.join(directory, name + ".expected.json")))
        results = [
            err or check(a, pk, ch, None)
            for a, pk, ch, err in passkey_approvals(os.path.join(directory, name + ".writ.json"), os.path.join(directory, expected["trust"]))
        ]
        accepted = bool(results) and all(r is None for r in results)
        want = expected["verdict"] == "allow"
        status = "ok" if accepted == want else "DISAGREES"
        if accepted != want:
            failures += 1
        print(f"{status}: {name}: py_webauthn {'accepts' if accepted else 'refuses'}"
              f"{'' if accepted else ' (' + '; '.join(r for r in results if r) + ')'}; writ: {expected['verdict']} {expected['code'] or ''}")
    return 1 if failures else 0


def main() -> int:
    args = sys.argv[1:]
    if len(args) == 2 and args[0] == "--vectors":
        return vectors(args[1])
    if len(args) == 4 and args[2] == "--origin":
        return one(args[0], args[1], args[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
