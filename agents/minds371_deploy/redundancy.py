"""Redundancy: the same services in N placement groups of one deployment.

Each group gets its own order on Akash, so each can be leased from a different provider; the bid
policy's ``distinct_providers`` makes sure they are. When one provider fails, the others keep
serving while the watcher re-leases the lost group elsewhere.
"""

from __future__ import annotations

from typing import Any

from minds371.errors import FieldIssue, ValidationError
from minds371_akash.sdl import parse_sdl
from minds371_deploy._yaml import dump_sdl, load_checked_sdl

__all__ = ["replicate_placements"]


def replicate_placements(sdl: str, copies: int) -> str:
    """Return ``sdl`` with every placement group copied ``copies`` times (``name-1`` ...).

    With ``copies == 1`` the SDL is returned unchanged.

    Raises:
        ValidationError: the SDL is invalid, or the copies break a chain limit (20 groups).
    """
    parse_sdl(sdl)  # validated (and size-limited) before it is loaded again below
    if copies == 1:
        return sdl
    document: dict[str, Any] = load_checked_sdl(sdl)
    placements: dict[str, Any] = document["profiles"]["placement"]
    renamed = {name: [f"{name}-{index}" for index in range(1, copies + 1)] for name in placements}
    document["profiles"]["placement"] = {
        copy: placements[name] for name, names in renamed.items() for copy in names
    }
    for service, targets in document["deployment"].items():
        document["deployment"][service] = {
            copy: target for name, target in targets.items() for copy in renamed[name]
        }
    replicated = dump_sdl(document)
    try:
        parse_sdl(replicated)
    except ValidationError as exc:
        raise ValidationError(
            [FieldIssue("/redundancy", f"{copies} copies make an invalid SDL: {exc.message}")],
            subject="deployment request",
        ) from None
    return replicated
