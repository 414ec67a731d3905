#!/usr/bin/env python3
"""Validate the predicate of every allowed test vector against the JSON Schema
(docs/writ-predicate.schema.json) with the reference `jsonschema` package, and
check that invalid shapes are rejected by the schema too.

usage: schema_check.py REPO_ROOT  (exit 0 = all as expected)
"""
import base64
import copy
import glob
import json
import os
import sys

import jsonschema


def main() -> int:
    root = sys.argv[1]
    schema = json.load(open(os.path.join(root, "docs", "writ-predicate.schema.json")))
    validator = jsonschema.Draft202012Validator(schema)
    checked = 0
    for path in sorted(glob.glob(os.path.join(root, "testdata", "writs", "allow_*.writ.json"))):
        env = json.load(open(path))
        predicate = json.loads(base64.b64decode(env["payload"], validate=True))["predicate"]
        errors = list(validator.iter_errors(predicate))
        if errors:
            print(f"{path}: {errors[0].message}")
            return 1
        for mutate, what in [
            (lambda p: p.__setitem__("extra", 1), "unknown member"),
            (lambda p: p["scope"].__setitem__("actions", []), "no actions"),
            (lambda p: p.__setitem__("issued_at", "2026-01-01T00:00:00+00:00"), "offset time"),
            (lambda p: p["policy"].__setitem__("decision", "deny"), "deny decision"),
        ]:
            bad = copy.deepcopy(predicate)
            mutate(bad)
            if validator.is_valid(bad):
                print(f"{path}: schema accepted a predicate with {what}")
                return 1
        checked += 1
    if checked < 5:
        print(f"only {checked} vectors checked")
        return 1
    print(f"{checked} predicates valid against the schema")
    return 0


if __name__ == "__main__":
    sys.exit(main())
