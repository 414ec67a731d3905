#!/usr/bin/env python3
"""Check that docs/writ-predicate.schema.json validates exactly the predicates
docs/format.md allows, with the reference `jsonschema` package:

* every test vector whose payload is a statement: the schema accepts its
  predicate unless the vector's verdict is `malformed`, and refuses it when
  it is — except for the few rules the schema cannot see (listed below with
  the reason);
* docs/examples/predicate.json is valid;
* mutations of every allowed predicate that the prose refuses are refused.

usage: schema_check.py REPO_ROOT  (exit 0 = all as expected)
"""
import base64
import copy
import glob
import json
import os
import sys

import jsonschema

# Malformed by rules outside a JSON Schema's reach (docs/format.md §3).
PROSE_ONLY = {
    "deny_negative_zero": "a number's spelling (-0) is not visible in the JSON data model",
    "deny_issuer_not_signer": "predicate.issuer is checked against the envelope's signatures",
}


def statement(path):
    try:
        env = json.load(open(path, "rb"))
        return json.loads(base64.b64decode(env["payload"], validate=True))
    except (ValueError, KeyError, TypeError):
        return None


def set_path(p, path, value):
    *parents, last = path
    for k in parents:
        p = p[k]
    p[last] = value


def exec_action(p):
    return next((a["exec"] for a in p["scope"]["actions"] if "exec" in a), None)


MUTATIONS = [
    (lambda p: p.__setitem__("extra", 1), "unknown member"),
    (lambda p: p["scope"].__setitem__("actions", []), "no actions"),
    (lambda p: p.__setitem__("issued_at", "2026-01-01T00:00:00+00:00"), "offset time"),
    (lambda p: p.__setitem__("issued_at", "2026-02-30T00:00:00Z"), "February 30"),
    (lambda p: p.__setitem__("issued_at", "1969-12-31T23:59:59Z"), "a year before 1970"),
    (lambda p: p["policy"].__setitem__("decision", "deny"), "deny decision"),
    (lambda p: p["scope"].__setitem__("uses", None), "null uses"),
    (lambda p: p["scope"].__setitem__("uses", 0), "zero uses"),
    (lambda p: p.__setitem__("governance", None), "null governance"),
    (lambda p: p.__setitem__("lineage", None), "null lineage"),
    (lambda p: p["scope"].setdefault("environment", {}).__setitem__("hosts", None), "null hosts"),
    (lambda p: p["scope"].setdefault("environment", {}).__setitem__("cwd", None), "null cwd"),
    (lambda p: p["scope"].setdefault("boundaries", {}).__setitem__("network", None), "null network"),
    (lambda p: p["scope"].setdefault("environment", {}).__setitem__("cwd", "srv"), "relative cwd"),
    (lambda p: p["scope"]["actions"].append({"exec": {"program": "/bin/x", "sha256": "0" * 64,
                                                      "args": [{"file": {"path": "x.toml", "sha256": "0" * 64}}]}}),
     "relative file argument"),
    (lambda p: p["scope"]["actions"].append({"tool": {"name": "t", "args": {
        "a": {"file": {"path": "/x", "sha256": "0" * 64}}}}}), "file rule in a tool action"),
    (lambda p: p["scope"]["actions"].append({"http": {"method": "GET", "path": "/v1/a**"}}), "partial **"),
    (lambda p: p["scope"]["actions"].append({"http": {"method": "GET", "path": "/v1//a"}}), "empty segment"),
    (lambda p: p["scope"]["actions"].append({"http": {"method": "GET", "path": "/v1/../a"}}), "dot-dot segment"),
    (lambda p: p["scope"]["actions"].append({"http": {"method": "GET", "path": "/v1/%2E%2e"}}), "encoded dots"),
    (lambda p: p["scope"]["actions"].append({"http": {"method": "GET", "path": "/v1/a;b"}}), "a `;`"),
    (lambda p: p["scope"]["actions"].append({"http": {"method": "GET", "path": "/v1/a", "body_sha256": None}}),
     "null body digest"),
    (lambda p: p["scope"]["actions"].append({"http": {"method": "get", "path": "/v1/a"}}), "lower-case method"),
    (lambda p: p["scope"]["actions"].append({"tool": {"name": "t", "args": {"n": {"range": {}}}}}),
     "a range without bounds"),
    (lambda p: p["scope"]["actions"].append({"tool": {"name": "t", "args": {"n": {"range": {"max": None}}}}}),
     "a null range bound"),
    (lambda p: p["scope"]["actions"].append({"tool": {"name": "t", "args": {"n": {"range": {"max": 2.5}}}}}),
     "a non-integer range bound"),
    (lambda p: p["scope"]["actions"].append({"tool": {"name": "t", "args_sha256": "ab"}}), "a short args digest"),
    (lambda p: p["scope"]["actions"].append({"tool": {"name": "t", "definition_sha256": None}}),
     "a null definition digest"),
]

# Shapes the prose allows that a too-strict schema would refuse.
ALLOWED_VARIANTS = [
    (lambda p: p["scope"]["actions"].append({"exec": {"program": "/bin/x", "sha256": "0" * 64,
                                                      "args": [{"file": {"path": "/x.toml", "sha256": "0" * 64}}]}}),
     "a file argument"),
    (lambda p: p["scope"]["actions"].append({"http": {"method": "GET", "path": "/v1/**/x/*", "body_sha256": "0" * 64}}),
     "an http pattern with ** and *"),
    (lambda p: p["scope"]["actions"].append({"http": {"method": "GET", "path": "/v1/.well-known/"}}),
     "a trailing slash and a dot-file segment"),
    (lambda p: p.setdefault("governance", {}).setdefault("approvals", []).append(
        {"approver": "0" * 64, "time": "2026-01-01T00:00:00Z", "sig": "not base64"}),
     "an approval whose sig is not base64 (bad_approval, not malformed)"),
    (lambda p: p["scope"].setdefault("environment", {}).setdefault("env", {}).__setitem__("LANG", None),
     "an env variable allowed with any value (null)"),
    (lambda p: p["scope"]["actions"].append({"tool": {"name": "t", "args": {"n": {"range": {"min": -5, "max": 10}},
                                                                            "m": {"range": {"max": 3}}},
                                                      "args_sha256": "0" * 64, "definition_sha256": "1" * 64}}),
     "a tool action with ranges and both digests"),
    (lambda p: p["scope"]["actions"].append({"exec": {"program": "/bin/x", "sha256": "0" * 64,
                                                      "args": [{"range": {"min": 1}}]}}),
     "a range argument of an exec action"),
]


def main() -> int:
    root = sys.argv[1]
    schema = json.load(open(os.path.join(root, "docs", "writ-predicate.schema.json")))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = []
    checked = allowed = 0
    for path in sorted(glob.glob(os.path.join(root, "testdata", "writs", "*.writ.json"))):
        stem = os.path.basename(path)[: -len(".writ.json")]
        expected = json.load(open(path.replace(".writ.json", ".expected.json")))
        st = statement(path)
        if not isinstance(st, dict) or not isinstance(st.get("predicate"), dict):
            continue
        predicate = st["predicate"]
        valid = validator.is_valid(predicate)
        malformed = expected["code"] == "malformed"
        checked += 1
        if stem in PROSE_ONLY:
            if not valid:
                failures.append(f"{stem}: listed as prose-only but the schema refuses it")
        elif malformed and valid:
            failures.append(f"{stem}: malformed by the prose, accepted by the schema")
        elif not malformed and not valid:
            err = next(validator.iter_errors(predicate)).message
            failures.append(f"{stem}: well-formed by the prose, refused by the schema: {err}")
        if expected["verdict"] != "allow":
            continue
        allowed += 1
        for mutate, what in MUTATIONS:
            bad = copy.deepcopy(predicate)
            mutate(bad)
            if validator.is_valid(bad):
                failures.append(f"{stem}: schema accepted a predicate with {what}")
        for mutate, what in ALLOWED_VARIANTS:
            ok = copy.deepcopy(predicate)
            mutate(ok)
            if not validator.is_valid(ok):
                err = next(validator.iter_errors(ok)).message
                failures.append(f"{stem}: schema refused {what}: {err}")
    example = json.load(open(os.path.join(root, "docs", "examples", "predicate.json")))
    if not validator.is_valid(example):
        failures.append(f"docs/examples/predicate.json: {next(validator.iter_errors(example)).message}")
    for f in failures:
        print(f)
    if failures:
        return 1
    if allowed < 10:
        print(f"only {allowed} allowed vectors checked")
        return 1
    print(f"{checked} vector predicates agree with the schema ({allowed} allowed, each with "
          f"{len(MUTATIONS)} refused mutations and {len(ALLOWED_VARIANTS)} allowed variants); example valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
