"""docs/agents.md shows complete examples byte for byte: each fenced block
right after an `<!-- example: PATH -->` line must be exactly the file PATH
of this repository (which its own test runs)."""

from __future__ import annotations

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"<!-- example: (\S+) -->\n```[a-z]*\n(.*?)```\n", re.S)


def test_every_example_in_the_agents_doc_is_its_file_byte_for_byte():
    doc = (ROOT / "docs" / "agents.md").read_text()
    found = {path: body for path, body in BLOCK.findall(doc)}
    # The three ways to gate an agent, each with its complete example.
    assert {
        "python/examples/gateway_agent.py",
        "python/examples/agent_tools.py",
        "crates/writ-gate/examples/agent_tools.rs",
    } <= set(found), sorted(found)
    assert doc.count("<!-- example: ") == len(found), "an example marker without its block right after it"
    for path, body in found.items():
        assert body == (ROOT / path).read_text(), f"docs/agents.md's copy of {path} differs from the file"
