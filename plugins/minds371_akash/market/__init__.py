"""The Akash marketplace behind one protocol.

Public API::

    from minds371_akash.market import (
        MarketBackend,                       # the protocol every backend implements
        ConsoleBackend,                      # Console managed-wallet API (and the sandbox)
        CliBackend, CliConfig,               # the akash / provider-services binaries
        Bid, Lease, LeaseId, LeaseStatus, ServiceStatus, Deployment, CreatedDeployment,
        Provider, Price, Endpoint, Escrow, LogLine, KubeEvent, ResourceOffer,
        RetryPolicy, set_testing, NotFound,
    )

Prices are per block in micro-denominations (``uact``). Every backend is an async context
manager; errors are minds371's own (:mod:`minds371.errors`), ``retryable`` where it helps.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minds371_akash.market._backend import MarketBackend
    from minds371_akash.market._errors import NotFound
    from minds371_akash.market._funding import AutoTopUp, Runway, runway_of
    from minds371_akash.market._models import (
        Bid,
        CreatedDeployment,
        Deployment,
        Endpoint,
        Escrow,
        ForwardedPort,
        KubeEvent,
        Lease,
        LeasedIP,
        LeaseId,
        LeaseStatus,
        LogLine,
        Price,
        Provider,
        ResourceOffer,
        ServiceStatus,
    )
    from minds371_akash.market._retry import RetryPolicy, set_testing
    from minds371_akash.market.cli import CliBackend, CliConfig
    from minds371_akash.market.console import DEFAULT_CONSOLE_URL, ConsoleBackend

__all__ = [
    "DEFAULT_CONSOLE_URL",
    "AutoTopUp",
    "Bid",
    "CliBackend",
    "CliConfig",
    "ConsoleBackend",
    "CreatedDeployment",
    "Deployment",
    "Endpoint",
    "Escrow",
    "ForwardedPort",
    "KubeEvent",
    "Lease",
    "LeaseId",
    "LeaseStatus",
    "LeasedIP",
    "LogLine",
    "MarketBackend",
    "NotFound",
    "Price",
    "Provider",
    "ResourceOffer",
    "RetryPolicy",
    "Runway",
    "ServiceStatus",
    "runway_of",
    "set_testing",
]

# Loaded on first use: the sandbox's CLI stand-ins import this package and must start quickly.
_WHERE = {
    "AutoTopUp": "minds371_akash.market._funding",
    "Bid": "minds371_akash.market._models",
    "CliBackend": "minds371_akash.market.cli",
    "CliConfig": "minds371_akash.market.cli",
    "ConsoleBackend": "minds371_akash.market.console",
    "CreatedDeployment": "minds371_akash.market._models",
    "DEFAULT_CONSOLE_URL": "minds371_akash.market.console",
    "Deployment": "minds371_akash.market._models",
    "Endpoint": "minds371_akash.market._models",
    "Escrow": "minds371_akash.market._models",
    "ForwardedPort": "minds371_akash.market._models",
    "KubeEvent": "minds371_akash.market._models",
    "Lease": "minds371_akash.market._models",
    "LeaseId": "minds371_akash.market._models",
    "LeaseStatus": "minds371_akash.market._models",
    "LeasedIP": "minds371_akash.market._models",
    "LogLine": "minds371_akash.market._models",
    "MarketBackend": "minds371_akash.market._backend",
    "NotFound": "minds371_akash.market._errors",
    "Price": "minds371_akash.market._models",
    "Provider": "minds371_akash.market._models",
    "ResourceOffer": "minds371_akash.market._models",
    "RetryPolicy": "minds371_akash.market._retry",
    "Runway": "minds371_akash.market._funding",
    "runway_of": "minds371_akash.market._funding",
    "ServiceStatus": "minds371_akash.market._models",
    "set_testing": "minds371_akash.market._retry",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'minds371_akash.market' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
