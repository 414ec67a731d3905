#!/usr/bin/env python3
"""An independent verifier of writ's ledger formats, written from the specs
(C2SP signed-note, tlog-checkpoint, tlog-proof; RFC 9162 §2.1.3.2 inclusion
and §2.1.4.2 consistency) with pyca/cryptography for Ed25519 — no writ code.

usage:
  tlog_verify.py proof VKEY PROOF_FILE ENTRY_FILE
      verify a C2SP tlog-proof of ENTRY against the verifier key string VKEY
  tlog_verify.py consistency VKEY OLD_CHECKPOINT NEW_CHECKPOINT PROOF_FILE
      verify two signed checkpoints and the consistency proof between them
Exit 0 = verified, 1 = rejected.
"""
import base64
import hashlib
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def fail(msg):
    print(f"rejected: {msg}")
    sys.exit(1)


def parse_vkey(vkey):
    name, hex_id, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if raw[0] != 1 or len(raw) != 33:
        fail("verifier key is not Ed25519")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != hex_id:
        fail("verifier key id does not match")
    return name, key_id, Ed25519PublicKey.from_public_bytes(raw[1:])


def open_note(note, vkey):
    """Return the note text if a signature by vkey verifies (C2SP signed-note)."""
    name, key_id, pub = parse_vkey(vkey)
    text, sep, sigs = note.partition("\n\n")
    if not sep or not text:
        fail("not a signed note")
    text += "\n"
    ok = False
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            fail("bad signature line")
        sig_name, b64 = line[2:].rsplit(" ", 1)
        blob = base64.b64decode(b64, validate=True)
        if sig_name != name or blob[:4] != key_id:
            continue  # unknown keys are ignored
        try:
            pub.verify(blob[4:], text.encode())
        except InvalidSignature:
            fail("signature by the known key does not verify")
        ok = True
    if not ok:
        fail("no signature by the known key")
    return text


def parse_checkpoint(text, origin):
    lines = text.split("\n")
    if lines[0] != origin:
        fail(f"origin {lines[0]!r} is not {origin!r}")
    size = int(lines[1])
    if str(size) != lines[1]:
        fail("tree size is not canonical decimal")
    root = base64.b64decode(lines[2], validate=True)
    return size, root


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf, path, root):
    # RFC 9162 §2.1.3.2
    if index >= size:
        fail("index beyond tree size")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            fail("proof too long")
        if fn % 2 == 1 or fn == sn:
            r = node(p, r)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        fail("inclusion proof does not lead to the checkpoint root")


def verify_consistency(m, n, path, r1, r2):
    # RFC 9162 §2.1.4.2
    if m == n:
        if path or r1 != r2:
            fail("bad proof for equal sizes")
        return
    if m & (m - 1) == 0:
        path = [r1] + path
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            fail("consistency proof too long")
        if fn % 2 == 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    if fr != r1 or sr != r2 or sn != 0:
        fail("consistency proof does not match the two roots")


def main():
    mode, vkey = sys.argv[1], sys.argv[2]
    origin = vkey.split("+", 1)[0]
    if mode == "proof":
        data = open(sys.argv[3], "rb").read().decode()
        entry = open(sys.argv[4], "rb").read()
        head, _, note = data.partition("\n\n")
        lines = head.split("\n")
        if lines[0] != "c2sp.org/tlog-proof@v1":
            fail("not a tlog-proof")
        rest = lines[1:]
        if rest and rest[0].startswith("extra "):
            rest = rest[1:]
        index = int(rest[0].removeprefix("index "))
        path = [base64.b64decode(h, validate=True) for h in rest[1:]]
        size, root = parse_checkpoint(open_note(note, vkey), origin)
        verify_inclusion(index, size, hashlib.sha256(b"\x00" + entry).digest(), path, root)
        print(f"verified: entry {index} of {size} in {origin}")
    elif mode == "consistency":
        m, r1 = parse_checkpoint(open_note(open(sys.argv[3]).read(), vkey), origin)
        n, r2 = parse_checkpoint(open_note(open(sys.argv[4]).read(), vkey), origin)
        path = [base64.b64decode(l, validate=True) for l in open(sys.argv[5]).read().split()]
        verify_consistency(m, n, path, r1, r2)
        print(f"verified: {m} -> {n} consistent")
    else:
        fail("unknown mode")


if __name__ == "__main__":
    main()
