"""The code blocks of README.md and docs/: found, classified, and run as a reader would.

A reader runs each ``sh`` block from the repository root after the README's install, with a
fresh ``MINDS371_HOME`` on the embedded sandbox, and each ``python`` block as a script. The
workspace here has the same shape (``.venv/bin/minds371``, ``.venv/bin/python``, ``examples/``,
``scripts/``) with the commands pointing at the interpreter running the tests, so the blocks run
exactly as written whether or not the suite runs from the repository's own ``.venv``.

What is not run says why, here: :data:`NOT_RUN` (by block) and :data:`DROPPED` (by command).
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

_FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```", re.S | re.M)

#: Commands taken out of a block before it runs, and why.
DROPPED = {
    'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]" && ': (
        "the install: the suite runs from it"
    ),
    'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]"': (
        "the install: the suite runs from it"
    ),
    "bash scripts/test.sh": "the test suite itself",
}

#: Blocks not run, by (document, first line), and why.
NOT_RUN = {
    ("README.md", "python3 -m venv .venv && .venv/bin/pip install"): (
        "the quickstart: tests/deploy/test_quickstart.py runs its deploy as written"
    ),
    ("docs/building.md", "docker-registry serve examples/from-source/registry.yml &"): (
        "leaves a registry running on the fixed port 5000: tests/deploy/building/"
        "test_from_source.py deploys examples/from-source (its app and request) on a free port"
    ),
    ("docs/mcp.md", "minds371 mcp --http"): (
        "a server that runs until stopped: tests/adapters/test_mcp_proof.py serves HTTP so"
    ),
    ("docs/mcp.md", "MINDS371_MCP_TOKEN="): (
        "binds every interface; tests/adapters/test_mcp_server.py covers the token rule"
    ),
    ("docs/mcp.md", "# The MCP SDK's client"): (
        "the same SDK client over stdio is tests/adapters/test_mcp_proof.py, which does more"
    ),
}


@dataclass(frozen=True)
class Snippet:
    """One fenced code block."""

    document: str
    lang: str
    body: str
    line: int

    @property
    def first_line(self) -> str:
        return self.body.strip().splitlines()[0] if self.body.strip() else ""

    @property
    def skip_reason(self) -> str | None:
        for (document, start), why in NOT_RUN.items():
            if self.document == document and self.first_line.startswith(start):
                return why
        return None

    def runnable_body(self) -> str:
        """The block less the :data:`DROPPED` commands."""
        text = self.body
        for command in sorted(DROPPED, key=len, reverse=True):
            text = text.replace(command, "")
        return "\n".join(line for line in text.splitlines() if line.strip()) + "\n"

    def __str__(self) -> str:
        return f"{self.document}:{self.line} ({self.lang})"


def snippets(lang: str | None = None) -> list[Snippet]:
    """Every fenced block of every document (of one language when ``lang`` is given)."""
    found: list[Snippet] = []
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            snippet = Snippet(str(path.relative_to(ROOT)), match["lang"], match["body"], line)
            if lang is None or snippet.lang == lang:
                found.append(snippet)
    return found


def workspace(folder: Path) -> Path:
    """A directory shaped like the repository after the README's install (see module docs)."""
    work = folder / "work"
    bin_dir = work / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, run in (("python", []), ("minds371", ["-m", "minds371"])):
        script = bin_dir / name
        args = " ".join([f"'{sys.executable}'", *run])
        script.write_text(f'#!/usr/bin/env bash\nexec {args} "$@"\n', encoding="utf-8")
        script.chmod(0o755)
    for name in ("examples", "scripts"):
        (work / name).symlink_to(ROOT / name)
    return work


def reader_env(home: Path) -> dict[str, str]:
    """The environment of a reader: this one, less minds371's and Akash's settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MINDS371_", "AKASH_")) and k != "PYTHONFAULTHANDLER"
    }
    env["MINDS371_HOME"] = str(home)
    env["PS1"] = "$ "
    return env
