#!/usr/bin/env python3
"""Verify a writ envelope with securesystemslib's standard DSSE implementation.

Independent of writ's code: given only the envelope and the issuer's public key
file (`ed25519 <base64> [name]`), it checks the DSSE signature over PAE and prints
the in-toto statement's predicateType. Exit 0 = verified, 1 = not verified.

usage: dsse_verify.py ENVELOPE PUBKEY_FILE
"""
import base64
import hashlib
import json
import sys

from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey


def main() -> int:
    envelope_path, pub_path = sys.argv[1], sys.argv[2]
    raw = base64.b64decode(open(pub_path).read().split()[1], validate=True)
    keyid = hashlib.sha256(raw).hexdigest()
    key = SSlibKey(keyid, "ed25519", "ed25519", {"public": raw.hex()})
    envelope = Envelope.from_dict(json.load(open(envelope_path)))
    try:
        envelope.verify([key], 1)
    except Exception as exc:  # VerificationError and friends
        print(f"not verified: {exc}")
        return 1
    statement = json.loads(envelope.payload)
    print(f"verified by {keyid}: {statement['_type']} {statement['predicateType']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
