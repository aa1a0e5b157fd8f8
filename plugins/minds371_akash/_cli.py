"""Command-line sub-commands of this area (filled in as the area is built)."""

from __future__ import annotations

import argparse

__all__ = ["register_cli"]


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this area's sub-commands to the ``minds371`` command."""
