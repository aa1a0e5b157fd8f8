"""Test-suite guards: no live network, no secrets from the environment, no third-party plugins."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import structlog

import minds371
import minds371.plugins

_SECRET_ENV = ("MNEMONIC", "PRIVATE_KEY", "API_KEY", "_RPC_URL", "KEYSTORE")


def pytest_configure(config: pytest.Config) -> None:
    # Nothing in the suite may reach beyond this machine unless a live test opts in.
    minds371.ALLOW_NETWORK = os.environ.get("MINDS371_LIVE") == "1"
    minds371.plugins.LOAD_THIRD_PARTY = False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("MINDS371_LIVE") == "1":
        return
    skip = pytest.mark.skip(reason="live network test: set MINDS371_LIVE=1 to run it")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Strip secrets and live endpoints from the environment; give each test its own home."""
    for name in list(os.environ):
        if name.startswith(("AKASH_", "MINDS371_")) or name.endswith(_SECRET_ENV):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "minds371-home"
    monkeypatch.setenv("MINDS371_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def reset_logging() -> None:
    """Undo logging configuration made by an in-process CLI call in an earlier test."""
    structlog.reset_defaults()
