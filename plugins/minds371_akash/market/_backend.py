"""The :class:`MarketBackend` protocol: what every way of reaching the Akash marketplace offers.

Three implementations share it: :class:`~minds371_akash.market.console.ConsoleBackend` (the Console
managed-wallet API, and the sandbox that serves the same API), and
:class:`~minds371_akash.market.cli.CliBackend` (the ``akash`` and ``provider-services``
binaries). Every backend is an async context manager with :meth:`aclose`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

from minds371_akash.market._models import (
    Bid,
    CreatedDeployment,
    Deployment,
    KubeEvent,
    LeaseId,
    LogLine,
    Price,
    Provider,
)

__all__ = ["MarketBackend"]


@runtime_checkable
class MarketBackend(Protocol):
    """A way to create, lease, watch and close deployments on an Akash marketplace.

    Every method raises only :class:`~minds371.errors.Minds371Error` subclasses:
    :class:`~minds371.errors.ValidationError` for input the marketplace refused,
    :class:`~minds371.errors.ConfigurationError` for bad credentials,
    :class:`~minds371.errors.MarketError` (and its subclasses) for everything else, with
    ``retryable`` set when the same call may succeed later.
    """

    #: ``"console"``, ``"cli"`` or ``"sandbox"``.
    name: str

    #: Whether :meth:`close_lease` can close one lease on this network. Every backend has the
    #: method; check this flag first (the Console API has no such route, so it refuses).
    can_close_lease: bool

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def aclose(self) -> None:
        """Release what the backend created (HTTP clients, temporary files)."""
        ...

    async def create_deployment(
        self,
        sdl: str,
        *,
        version: str,
        manifest: str,
        deposit: Decimal | None = None,
        unique_version: bool = False,
    ) -> CreatedDeployment:
        """Create a deployment from SDL, never twice for one call.

        Args:
            sdl: SDL YAML text.
            version: Its manifest version hash (hex).
            manifest: Its canonical manifest JSON.
            deposit: Escrow deposit in uact (``None``: the network's default/minimum).
            unique_version: No deployment of ``version`` can exist before this call (its SDL
                carries a marker of this create's own task): a backend that recognises a lost
                create by its version need not note the existing ones first.

        Raises:
            ValidationError: the SDL was refused.
            InsufficientFunds: the deposit cannot be paid.
            MarketError: anything else.
        """
        ...

    async def list_deployments(self) -> list[Deployment]:
        """Active deployments of the account (leases without live status)."""
        ...

    async def find_deployments(self, version: str) -> list[Deployment]:
        """Active deployments whose manifest version hash (hex) is ``version``."""
        ...

    async def get_deployment(self, dseq: int) -> Deployment:
        """A deployment, its leases, and each active lease's live status.

        Raises:
            NotFound: no such deployment.
        """
        ...

    async def update_deployment(self, dseq: int, sdl: str) -> Deployment:
        """Update a deployment's SDL (only the manifest may change) and re-send the manifest."""
        ...

    async def close_deployment(self, dseq: int) -> None:
        """Close a deployment and its leases; closing a closed deployment succeeds."""
        ...

    async def close_lease(self, lease: LeaseId) -> None:
        """Close one lease as its owner (``MsgCloseLease``); the deployment stays open.

        The lease ends with reason ``lease_closed_owner`` and its group's order re-opens with
        the next ``oseq``, so the group can be bid on and leased again (any provider may bid,
        the closed one too). Closing a lease that is already closed succeeds.

        Raises:
            MarketError: the network cannot close one lease (``can_close_lease`` is False), or
                the chain refused (not retryable), or it could not be reached (retryable).
            NotFound: no such lease.
        """
        ...

    async def deposit(self, dseq: int, amount: Price) -> Deployment:
        """Add ``amount`` to the deployment's escrow."""
        ...

    async def list_bids(self, dseq: int) -> list[Bid]:
        """Every bid on the deployment's orders (empty while providers think)."""
        ...

    async def create_leases(
        self, dseq: int, bids: Sequence[LeaseId], *, manifest: str, sdl: str
    ) -> Deployment:
        """Create a lease for each bid and send the manifest to each provider.

        Raises:
            LeaseError: a bid was no longer open.
            ManifestRejected: a provider refused the manifest.
        """
        ...

    async def send_manifest(
        self, dseq: int, leases: Sequence[LeaseId], *, manifest: str, sdl: str
    ) -> None:
        """Send the manifest (again) to the providers of existing leases."""
        ...

    async def list_providers(self) -> list[Provider]:
        """Every provider the backend can see."""
        ...

    async def get_provider(self, address: str) -> Provider:
        """One provider by address.

        Raises:
            NotFound: unknown provider.
        """
        ...

    async def block_time(self) -> float | None:
        """Seconds per block, when the backend knows (``None`` otherwise)."""
        ...

    def lease_logs(
        self,
        lease: LeaseId,
        *,
        services: Sequence[str] = (),
        tail: int | None = None,
        follow: bool = False,
    ) -> AsyncGenerator[LogLine, None]:
        """Stream a lease's log lines (use ``contextlib.aclosing`` when stopping early)."""
        ...

    def lease_events(
        self, lease: LeaseId, *, services: Sequence[str] = (), follow: bool = False
    ) -> AsyncGenerator[KubeEvent, None]:
        """Stream a lease's Kubernetes events."""
        ...
