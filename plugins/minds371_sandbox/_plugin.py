"""The ``sandbox`` plugin: the ``minds371 sandbox`` commands."""

from __future__ import annotations

import argparse

from minds371.plugins import Plugin

__all__ = ["plugin"]


def _cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Imported inside so that `minds371 --version` stays fast.
    from minds371_sandbox._cli import register_cli

    register_cli(sub)


plugin = Plugin(name="sandbox", cli=_cli)
