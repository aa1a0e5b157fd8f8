"""A served sandbox for the MCP proof tests: a block every 0.25 s, to cancel a deploy mid-way."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.deploy.conftest import ROOT, Sandbox

BLOCK = ["--block-time", "0.25"]


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[Sandbox]:
    token = secrets.token_urlsafe(32)
    process = subprocess.Popen(
        [sys.executable, "-m", "minds371.cli", "sandbox", "serve", "--port", "0", *BLOCK],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env={**os.environ, "MINDS371_SANDBOX_ADMIN_TOKEN": token},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        yield Sandbox(url, token)
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()
