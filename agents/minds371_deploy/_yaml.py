"""YAML in and out of SDL documents that have already passed the SDL engine's checks.

The SDL engine parses untrusted text with its own bounded loader; what reaches these helpers has
been through it, so plain safe loading is enough. libyaml's parser and emitter are used when
PyYAML has them (its wheels do): several times faster than the pure-Python ones, which matters
when a runtime prepares hundreds of deployments at once.
"""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["dump_sdl", "load_checked_sdl"]

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def load_checked_sdl(text: str) -> Any:
    """Load an SDL the SDL engine has already accepted."""
    return yaml.load(text, Loader=_Loader)


def dump_sdl(document: Any) -> str:
    """Write an SDL document back: keys in their order, Unicode kept, no line folding."""
    return str(
        yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1_000_000)
    )
