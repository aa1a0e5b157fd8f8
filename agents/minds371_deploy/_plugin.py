"""The ``deploy`` plugin: the DeploymentAgent, its actions, its CLI commands and services."""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any
from weakref import WeakKeyDictionary

from minds371.actions import Action
from minds371.plugins import Plugin, Service

__all__ = ["agent_for", "plugin", "watcher_for"]

_agents: WeakKeyDictionary[Any, Any] = WeakKeyDictionary()
_watchers: WeakKeyDictionary[Any, Any] = WeakKeyDictionary()


def agent_for(runtime: Any) -> Any:
    """The DeploymentAgent of ``runtime`` (one per runtime, made on first use)."""
    from minds371_deploy.agent import DeploymentAgent

    found = _agents.get(runtime)
    if found is None:
        found = _agents[runtime] = DeploymentAgent()
    return found


def _agents_of(runtime: Any) -> Iterable[Any]:
    return [agent_for(runtime)]


def watcher_for(runtime: Any) -> Any:
    """The DeploymentWatcher of ``runtime`` (the one its service runs; made on first use)."""
    from minds371_deploy.watcher import DeploymentWatcher

    found = _watchers.get(runtime)
    if found is None:
        found = _watchers[runtime] = DeploymentWatcher(agent_for(runtime), runtime.store)
    return found


def _services(runtime: Any) -> Iterable[Service]:
    agent = agent_for(runtime)
    if getattr(runtime.store, "shared", False) and agent.config.sandbox_url is None:
        # Several processes share this runtime's tasks, but each would run its own embedded
        # sandbox: a task taken over by another process would find no deployment there.
        from minds371.logging import get_logger

        get_logger("minds371.deploy").warning(
            "minds371.deploy.embedded_sandbox_per_process",
            say=(
                "tasks on the sandbox network run on this process's own embedded sandbox, "
                "which other workers cannot see: serve one (minds371 sandbox serve) and set "
                "MINDS371_SANDBOX_URL for every worker"
            ),
        )
    return [agent.backends.service(), agent.registries.service(), watcher_for(runtime).run]


def _actions() -> Iterable[Action]:
    from minds371_deploy.actions import deployment_actions

    return deployment_actions()


def _resources(runtime: Any) -> Iterable[Any]:
    from minds371_deploy._resources import deployment_resources

    return deployment_resources(runtime)


def _cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from minds371_deploy._cli import register_cli

    register_cli(sub)


plugin = Plugin(
    name="deploy",
    actions=_actions,
    agents=_agents_of,
    services=_services,
    cli=_cli,
    resources=_resources,
)
