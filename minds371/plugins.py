"""Plugins: how actions, agents, CLI commands and services join a runtime.

A plugin is a :class:`Plugin` object exposed under the entry-point group ``minds371.plugins``::

    [project.entry-points."minds371.plugins"]
    weather = "my_package:plugin"

minds371's own plugins (``minds371_akash``, ``minds371_registry``, ``minds371_deploy``) register
through the same door. Every hook is optional.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from minds371.errors import ConfigurationError, DuplicateRegistration
from minds371.logging import get_logger

if TYPE_CHECKING:
    from minds371.actions import Action
    from minds371.agent import Agent

__all__ = ["BUILTIN_PLUGINS", "ENTRY_POINT_GROUP", "Plugin", "discover_plugins"]

ENTRY_POINT_GROUP = "minds371.plugins"
BUILTIN_PLUGINS = frozenset({"akash", "registry", "sandbox", "deploy"})

_log = get_logger("minds371.plugins")

#: When false, only minds371's own plugins are loaded (the test suite sets this).
LOAD_THIRD_PARTY = True

Service = Callable[[], Coroutine[Any, Any, None]]


def _no_actions() -> Iterable[Action]:
    return ()


def _no_agents(runtime: Any) -> Iterable[Agent]:
    return ()


async def _no_startup(runtime: Any) -> None:
    return None


def _no_services(runtime: Any) -> Iterable[Service]:
    return ()


def _no_resources(runtime: Any) -> Iterable[Any]:
    return ()


def _no_cli(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    return None


@dataclass(frozen=True)
class Plugin:
    """What a plugin contributes. Every hook is optional.

    Attributes:
        name: Unique plugin name (the entry point's name, by convention).
        actions: Returns the actions to register.
        agents: Given the runtime, returns the agents to register.
        startup: Runs once when a runtime starts, after unfinished tasks were re-queued (e.g. to
            reconcile external state).
        services: Given the runtime, returns long-running coroutines to run while it runs
            (watchers); they are cancelled when it stops.
        cli: Adds sub-commands to the ``minds371`` command.
        resources: Given the runtime, returns the
            :class:`~minds371.adapters.resources.ResourceTemplate` objects it offers to hosts
            (the MCP server's ``resources/*``).
    """

    name: str
    actions: Callable[[], Iterable[Action]] = _no_actions
    agents: Callable[[Any], Iterable[Agent]] = _no_agents
    startup: Callable[[Any], Awaitable[None]] = _no_startup
    services: Callable[[Any], Iterable[Service]] = _no_services
    cli: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None] = field(
        default=_no_cli
    )
    resources: Callable[[Any], Iterable[Any]] = _no_resources


def discover_plugins(*, third_party: bool | None = None) -> list[Plugin]:
    """Load every plugin of the entry-point group ``minds371.plugins``, sorted by name.

    Args:
        third_party: Load plugins of other packages too (default: :data:`LOAD_THIRD_PARTY`).

    Raises:
        ConfigurationError: if an entry point does not resolve to a :class:`Plugin`.
        DuplicateRegistration: if two plugins share a name.
    """
    allow_third_party = LOAD_THIRD_PARTY if third_party is None else third_party
    found: dict[str, Plugin] = {}
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        builtin = point.name in BUILTIN_PLUGINS and point.value.startswith("minds371")
        if not builtin and not allow_third_party:
            continue
        try:
            loaded = point.load()
        except Exception as exc:
            raise ConfigurationError(
                f"plugin {point.name!r} ({point.value}) failed to load: {exc}"
            ) from exc
        if not isinstance(loaded, Plugin):
            raise ConfigurationError(
                f"entry point {point.name!r} ({point.value}) is not a minds371 Plugin"
            )
        if loaded.name in found:
            raise DuplicateRegistration(f"two plugins are named {loaded.name!r}")
        found[loaded.name] = loaded
        _log.debug("minds371.plugin.loaded", plugin=loaded.name, builtin=builtin)
    return list(found.values())
