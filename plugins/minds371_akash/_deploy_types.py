"""Data and hooks around a deployment: budget, progress events, the saga journal, the result.

These are what :class:`~minds371_akash.provider.AkashIntegrationProvider` takes and returns:

* :class:`Budget`: maximum price per block, maximum deposit, maximum USD per month, checked
  before any call that spends (:class:`~minds371.errors.BudgetExceeded`, nothing spent);
* :class:`DeployEvent` and :data:`EventHook`: progress, one event per step;
* :class:`DeployJournal`: a Protocol whose callbacks run **before** each side effect (and right
  after it), so that a durable saga can record intent and outcome around every spend;
* :class:`PreparedDeployment`: an SDL parsed once into its manifest, version hash and groups;
* :class:`DeploymentResult`: leases, endpoints and the cost report of a running deployment.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from minds371_akash.bidding import GroupRanking
from minds371_akash.diagnose import GroupRequirements
from minds371_akash.market import Deployment, Endpoint, Lease, LeaseId
from minds371_akash.pricing import CostReport, ResourceNeed

#: Whose SDL rules a network applies: the Go parser's (CLI, providers) or Console's (chain-sdk
#: TypeScript, which builds the manifest and version that Console records).
SdlRules = Literal["go", "console"]

__all__ = [
    "SdlRules",
    "Budget",
    "DeployEvent",
    "DeployJournal",
    "DeploymentResult",
    "EventHook",
    "PreparedDeployment",
]


class Budget(BaseModel):
    """Spending limits, checked before anything is spent.

    Attributes:
        max_price_per_block: Highest total price per block (uact) of all leases together; the
            SDL's own maximum (the sum of its placement prices) must fit in it.
        max_deposit: Highest escrow deposit (uact) made at creation or by :meth:`deposit`.
        max_usd_per_month: Highest monthly cost in USD at the SDL's maximum prices.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_price_per_block: Decimal | None = Field(default=None, gt=0)
    max_deposit: Decimal | None = Field(default=None, ge=0)
    max_usd_per_month: Decimal | None = Field(default=None, gt=0)


class DeployEvent(BaseModel):
    """One step of a deployment, for progress displays and task events.

    Attributes:
        type: Dotted step name (``deployment.created``, ``bids.received``, ``lease.created``,
            ``manifest.sent``, ``deployment.ready``, ``deployment.closed``, ...).
        message: One line for people.
        data: Facts (dseq, providers, prices ...), JSON-serialisable.
    """

    model_config = ConfigDict(frozen=True)

    type: str
    message: str
    data: Mapping[str, Any] = Field(default_factory=dict)


#: Called with every :class:`DeployEvent`; may be sync or async.
EventHook = Callable[[DeployEvent], Awaitable[None] | None]


class DeployJournal(Protocol):
    """Callbacks a durable saga uses to record each step around its side effect.

    ``before_*`` runs before the call that spends and may raise to stop it; the matching
    callback after it runs as soon as the outcome is known, before anything else happens.
    """

    async def before_create(self, *, version: str, sdl: str) -> None:
        """About to create a deployment for manifest ``version``."""
        ...

    async def created(
        self, *, dseq: int, version: str, recovered: bool, manifest: str = ""
    ) -> None:
        """The deployment ``dseq`` exists (``recovered``: found after an ambiguous failure).

        ``version`` is the version the network recorded and ``manifest`` the manifest string
        that re-hashes to it (the one the create returned): the only one its providers accept.
        """
        ...

    async def before_lease(self, *, dseq: int, bids: Sequence[LeaseId]) -> None:
        """About to lease ``bids``."""
        ...

    async def leased(self, *, dseq: int, leases: Sequence[Lease]) -> None:
        """Leases exist and the manifest was sent."""
        ...

    async def closed(self, *, dseq: int, reason: str) -> None:
        """The deployment was closed (``reason``: ``failure``, ``requested``, ...)."""
        ...

    async def updated(self, *, dseq: int, version: str, manifest: str) -> None:
        """The deployment now runs manifest ``manifest`` (on-chain ``version``)."""
        ...


class PreparedDeployment(BaseModel):
    """An SDL parsed once: what create, bid waiting, leasing and cost reports need.

    Attributes:
        sdl: The SDL text, sent as is.
        manifest: Canonical manifest JSON (what providers receive).
        version: Manifest version hash (hex).
        group_specs: GroupSpecs in Go JSON.
        groups: Placement requirements per group (``gseq`` 1-based, sorted by name).
        needs: Resource needs for the cost reference.
        max_price_per_block: Sum of the SDL's placement prices (uact per block).
        denom: The pricing denomination.
        services: Service names per gseq.
        rules: Whose SDL rules built it: ``go`` or ``console`` (see ``prepare_sdl``).
    """

    model_config = ConfigDict(frozen=True)

    sdl: str
    manifest: str
    version: str
    group_specs: tuple[Mapping[str, Any], ...]
    groups: tuple[GroupRequirements, ...]
    needs: tuple[ResourceNeed, ...]
    max_price_per_block: Decimal
    denom: str
    services: Mapping[int, tuple[str, ...]]
    rules: SdlRules = "go"

    @property
    def gseqs(self) -> tuple[int, ...]:
        """Every group's gseq."""
        return tuple(g.gseq for g in self.groups)


class DeploymentResult(BaseModel):
    """A running deployment: what ``deploy()`` returns.

    Attributes:
        dseq: Deployment sequence.
        owner: Owner address.
        version: Manifest version hash (hex).
        leases: Active leases with their live status.
        endpoints: Every endpoint of every lease.
        cost: The cost report.
        bids: The bid rankings considered, with their reasons.
        deployment: The deployment as last fetched.
    """

    model_config = ConfigDict(frozen=True)

    dseq: int
    owner: str
    version: str
    leases: tuple[Lease, ...]
    endpoints: tuple[Endpoint, ...]
    cost: CostReport
    bids: tuple[GroupRanking, ...] = ()
    deployment: Deployment | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result's public JSON shape (as in the ``minds371 deploy --json`` contract)."""
        return {
            "dseq": str(self.dseq),
            "owner": self.owner,
            "version": self.version,
            "leases": [
                {
                    "provider": lease.id.provider,
                    "gseq": lease.id.gseq,
                    "oseq": lease.id.oseq,
                    "price": {"denom": lease.price.denom, "amount": str(lease.price.amount)},
                }
                for lease in self.leases
            ],
            "endpoints": [e.model_dump(mode="json") for e in self.endpoints],
            "cost": self.cost.summary(),
        }
