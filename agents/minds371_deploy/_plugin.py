"""The ``deploy`` plugin: what minds371_deploy contributes to a runtime and to the CLI."""

from __future__ import annotations

from minds371.plugins import Plugin

__all__ = ["plugin"]

plugin = Plugin(name="deploy")
