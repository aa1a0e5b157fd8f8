"""The ``registry`` plugin: what minds371_registry contributes to a runtime and to the CLI."""

from __future__ import annotations

import argparse

from minds371.plugins import Plugin

__all__ = ["plugin"]


def _cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Imported here so that `minds371 --version` does not load eth-account and SQLite.
    from minds371_registry._cli import register_cli

    register_cli(sub)


plugin = Plugin(name="registry", cli=_cli)
