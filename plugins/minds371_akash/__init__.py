"""minds371_akash: the Akash Network marketplace client (SDL engine, market backends).

The local twin of the network lives apart, in :mod:`minds371_sandbox`; this package imports it
only to start the embedded one (:func:`open_backend` with ``network="sandbox"``).

Public API (imported lazily so that loading the plugin stays cheap)::

    from minds371_akash import (
        AkashIntegrationProvider,    # deploy(), the step methods, status/logs/events/close ...
        Budget, BidPolicy,           # spending limits; bid filters, ranking and waiting rule
        DeployEvent, EventHook, DeployJournal,   # progress events; saga callbacks
        PreparedDeployment, DeploymentResult, CostReport, Diagnosis, HealthReport,
        DeploymentNotReady, check_health, diagnosis_of,
        open_backend, NETWORKS,      # the backend chooser: "sandbox" | "console" | "cli"
    )

The market protocol and its models live in :mod:`minds371_akash.market`; pricing, bidding and
diagnosis in :mod:`minds371_akash.pricing`, :mod:`minds371_akash.bidding` and
:mod:`minds371_akash.diagnose`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from minds371_akash._plugin import plugin

if TYPE_CHECKING:
    from minds371_akash._deploy_types import (
        Budget,
        DeployEvent,
        DeployJournal,
        DeploymentResult,
        EventHook,
        PreparedDeployment,
    )
    from minds371_akash._readiness import DeploymentNotReady, HealthReport, check_health
    from minds371_akash.bidding import BidPolicy
    from minds371_akash.diagnose import Diagnosis, diagnosis_of
    from minds371_akash.networks import NETWORKS, open_backend
    from minds371_akash.pricing import CostReport
    from minds371_akash.provider import AkashIntegrationProvider

__all__ = [
    "NETWORKS",
    "AkashIntegrationProvider",
    "BidPolicy",
    "Budget",
    "CostReport",
    "DeployEvent",
    "DeployJournal",
    "DeploymentNotReady",
    "DeploymentResult",
    "Diagnosis",
    "EventHook",
    "HealthReport",
    "PreparedDeployment",
    "check_health",
    "diagnosis_of",
    "open_backend",
    "plugin",
]

_LAZY = {
    "AkashIntegrationProvider": "minds371_akash.provider",
    "BidPolicy": "minds371_akash.bidding",
    "Budget": "minds371_akash._deploy_types",
    "CostReport": "minds371_akash.pricing",
    "DeployEvent": "minds371_akash._deploy_types",
    "DeployJournal": "minds371_akash._deploy_types",
    "DeploymentNotReady": "minds371_akash._readiness",
    "DeploymentResult": "minds371_akash._deploy_types",
    "Diagnosis": "minds371_akash.diagnose",
    "EventHook": "minds371_akash._deploy_types",
    "HealthReport": "minds371_akash._readiness",
    "NETWORKS": "minds371_akash.networks",
    "PreparedDeployment": "minds371_akash._deploy_types",
    "check_health": "minds371_akash._readiness",
    "diagnosis_of": "minds371_akash.diagnose",
    "open_backend": "minds371_akash.networks",
}


if not TYPE_CHECKING:  # type checkers read the imports above; only the runtime is lazy

    def __getattr__(name: str) -> Any:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'minds371_akash' has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
