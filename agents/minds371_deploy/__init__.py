"""minds371_deploy: the DeploymentAgent, its request, its saga and its actions.

Public API (imported lazily so that loading the plugin stays cheap)::

    from minds371_deploy import (
        DeploymentAgent,      # serves "deployment" tasks
        DeploymentRequest,    # what a task's payload (or a request file) holds
        DeploymentContext,    # status, times and steps of one run
        DeployConfig,         # settings that do not come from requests
        load_request, parse_request, reconcile,
    )
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from minds371_deploy._plugin import plugin

if TYPE_CHECKING:
    from minds371_deploy.agent import DeploymentAgent
    from minds371_deploy.backends import DeployConfig
    from minds371_deploy.context import DeploymentContext
    from minds371_deploy.reconcile import reconcile
    from minds371_deploy.request import DeploymentRequest, load_request, parse_request

__all__ = [
    "DeployConfig",
    "DeploymentAgent",
    "DeploymentContext",
    "DeploymentRequest",
    "load_request",
    "parse_request",
    "plugin",
    "reconcile",
]

_WHERE = {
    "DeploymentAgent": "minds371_deploy.agent",
    "DeployConfig": "minds371_deploy.backends",
    "DeploymentContext": "minds371_deploy.context",
    "reconcile": "minds371_deploy.reconcile",
    "DeploymentRequest": "minds371_deploy.request",
    "load_request": "minds371_deploy.request",
    "parse_request": "minds371_deploy.request",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'minds371_deploy' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
