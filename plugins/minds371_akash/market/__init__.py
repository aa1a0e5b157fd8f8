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

from minds371_akash.market._backend import MarketBackend
from minds371_akash.market._errors import NotFound
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
    "ServiceStatus",
    "set_testing",
]
