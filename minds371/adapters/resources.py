"""Resources a plugin offers to hosts (MCP ``resources/*``), without the host knowing the domain.

A plugin's ``resources`` hook returns :class:`ResourceTemplate` objects for a runtime: a URI
template such as ``minds371://deployments/{dseq}``, how to read one (JSON-ready data) and how to
list the current ones. The MCP server serves whatever the plugins contribute; the core knows
nothing of what a deployment is.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["ResourceEntry", "ResourceTemplate", "resource_templates"]

_VARIABLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class ResourceEntry:
    """One concrete resource (what ``resources/list`` shows)."""

    uri: str
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class ResourceTemplate:
    """A family of resources under one URI template.

    Attributes:
        uri_template: RFC 6570 level-1 template, e.g. ``minds371://deployments/{dseq}``.
        name: Short name of the family.
        description: What reading one returns.
        read: ``async (variables) -> JSON-ready data``; a ``Minds371Error`` for an unknown one.
        list: ``async () -> entries`` of the resources that exist now.
        mime_type: The content type of what ``read`` returns.
    """

    uri_template: str
    name: str
    description: str
    read: Callable[[Mapping[str, str]], Awaitable[Any]]
    list: Callable[[], Awaitable[list[ResourceEntry]]]
    mime_type: str = "application/json"

    def match(self, uri: str) -> dict[str, str] | None:
        """The template's variables in ``uri``, or ``None`` when ``uri`` is not one of these."""
        pattern = "".join(
            f"(?P<{part}>[^/?#]+)" if index % 2 else re.escape(part)
            for index, part in enumerate(_VARIABLE.split(self.uri_template))
        )
        found = re.fullmatch(pattern, uri)
        return None if found is None else found.groupdict()


def resource_templates(plugins: Iterable[Any], runtime: Any) -> list[ResourceTemplate]:
    """Every resource template ``plugins`` contribute for ``runtime`` (their ``resources`` hook)."""
    found: list[ResourceTemplate] = []
    for plugin in plugins:
        hook: Callable[[Any], Iterable[ResourceTemplate]] | None = getattr(
            plugin, "resources", None
        )
        if hook is not None:
            found.extend(hook(runtime))
    return found
