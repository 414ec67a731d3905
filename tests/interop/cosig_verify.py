#!/usr/bin/env python3
"""An independent verifier of witness cosignatures, written from the C2SP
texts alone (tlog-cosignature: cosignature/v1 with Ed25519; tlog-witness;
signed-note), with pyca/cryptography for Ed25519 — no writ code. The signed
note and checkpoint parsing is tlog_verify.py's (same specs).

usage:
  cosig_verify.py vectors FILE
      check testdata/witness/cosignatures.json: every case's cosignature
      verifies exactly when it says `valid`, with the timestamp it says
  cosig_verify.py quorum LOG_VKEY FILE K WITNESS_VKEY...
      FILE is a cosigned checkpoint note, or a C2SP tlog-proof (a writ
      receipt) carrying one: the log's signature must verify and at least K
      of the witnesses must have a valid cosignature on the checkpoint
Exit 0 = verified, 1 = rejected.
"""
import base64
import hashlib
import json
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tlog_verify import fail, open_note, parse_checkpoint


def parse_witness_vkey(vkey):
    """<name>+<hex key id>+<base64(0x04 || pubkey)>; key id per tlog-cosignature."""
    name, hex_id, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != 0x04:
        fail("witness key is not an Ed25519 cosignature/v1 key (type 0x04)")
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x04" + raw[1:]).digest()[:4]
    if key_id.hex() != hex_id:
        fail("witness key id does not match SHA-256(name || \\n || 0x04 || key)[:4]")
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def cosignature_time(text, line, witness):
    """The timestamp of `line` if it is a valid cosignature of `text` by
    `witness`, None if it is by another key, False if it does not verify."""
    name, key_id, pub = witness
    if not line.startswith("\u2014 "):
        return None
    sig_name, b64 = line[2:].rsplit(" ", 1)
    blob = base64.b64decode(b64, validate=True)
    if sig_name != name or blob[:4] != key_id:
        return None
    if len(blob) != 4 + 8 + 64:
        return False
    (timestamp,) = struct.unpack(">Q", blob[4:12])
    if timestamp > 2**63 - 1:
        return False
    message = b"cosignature/v1\n" + b"time %d\n" % timestamp + text.encode()
    try:
        pub.verify(blob[12:], message)
    except InvalidSignature:
        return False
    return timestamp


def vectors(path):
    data = json.load(open(path))
    witness = parse_witness_vkey(data["witness_vkey"])
    for case in data["cases"]:
        text = open_note(case["checkpoint"], data["log_vkey"])
        got = cosignature_time(text, case["cosignature"].rstrip("\n"), witness)
        valid = got is not None and got is not False
        if valid != case["valid"]:
            fail(f"{case['description']}: valid={valid}, the vector says {case['valid']}")
        if valid and got != case["timestamp"]:
            fail(f"{case['description']}: timestamp {got}, the vector says {case['timestamp']}")
    print(f"verified: {len(data['cases'])} cosignature vectors")


def quorum(log_vkey, path, k, witness_vkeys):
    data = open(path, "rb").read().decode()
    if data.startswith("c2sp.org/tlog-proof@v1\n"):
        data = data.partition("\n\n")[2]
    text = open_note(data, log_vkey)
    parse_checkpoint(text, log_vkey.split("+", 1)[0])
    sigs = data.partition("\n\n")[2]
    witnesses = [parse_witness_vkey(v) for v in witness_vkeys]
    cosigned = set()
    for line in sigs.splitlines():
        for w in witnesses:
            t = cosignature_time(text, line, w)
            if t is False:
                fail(f"the cosignature of {w[0]} does not verify")
            if t is not None:
                cosigned.add(w[0])
    if len(cosigned) < k:
        fail(f"{len(cosigned)} of the witnesses cosigned, {k} required")
    print(f"verified: cosigned by {', '.join(sorted(cosigned))}")


def main():
    mode = sys.argv[1]
    if mode == "vectors":
        vectors(sys.argv[2])
    elif mode == "quorum":
        quorum(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5:])
    else:
        fail("unknown mode")


if __name__ == "__main__":
    main()
