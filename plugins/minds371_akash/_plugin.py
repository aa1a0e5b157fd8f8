"""The ``akash`` plugin: what minds371_akash contributes to a runtime and to the CLI."""

from __future__ import annotations

import argparse

from minds371.plugins import Plugin

__all__ = ["plugin"]


def _cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Each area owns its commands; imports stay inside so `minds371 --version` stays fast.
    from minds371_akash._cli import register_cli as register_market_cli
    from minds371_akash.sdl._cli import register_cli as register_sdl_cli

    register_sdl_cli(sub)
    register_market_cli(sub)


plugin = Plugin(name="akash", cli=_cli)
