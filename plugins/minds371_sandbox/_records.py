"""The sandbox chain's records: accounts, deployments, groups, orders, bids, leases, escrow.

These are the world's private, mutable state (the ledger of a simulated chain). They never cross an
interface as objects: the HTTP layers render them into the real JSON shapes, and persistence turns
them into plain JSON with :func:`dump_record` / the ``load`` class methods.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ErrorKind",
    "WorldError",
    "Account",
    "Bid",
    "Deployment",
    "Escrow",
    "Group",
    "Lease",
    "Order",
    "WorldConfig",
]


ErrorKind = Literal[
    "not_found", "invalid", "exists", "funds", "deposit", "closed", "lease", "hostname"
]


class WorldError(Exception):
    """A transaction the chain refuses; ``kind`` tells the HTTP layer which status to use."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message


class WorldConfig(BaseModel):
    """Timing and economics of a sandbox world, in blocks and ``uact``.

    Attributes:
        block_time: Seconds per block for the clock (``None`` = manual; admin advances blocks).
        start_height: The height of the first block.
        bid_timeout_blocks: An open bid not leased within this many blocks closes
            (the provider's ``--bid-timeout``).
        manifest_timeout_blocks: A lease without a manifest within this many blocks is closed by
            its provider (reason ``lease_closed_reason_manifest_timeout``).
        lease_visibility_blocks: Blocks before a provider sees a new lease; a manifest sent
            earlier gets 404 "no lease for deployment".
        pull_blocks: Blocks from an accepted manifest until a pullable image's pods are ready.
        min_deposit: The chain's ``min_deposits`` for ``uact``.
        initial_balance: What a new account holds, in ``uact``.
        console_deposit: The deposit Console makes for a managed wallet when
            ``console_managed_deposit`` is on, in ``uact`` (``DEPLOYMENT_DEFAULT_DEPOSIT``).
        console_managed_deposit: Console's managed-funding flag: on, the caller's deposit is
            ignored for ``console_deposit``; off (the default), the caller must send one.
        auto_top_up_look_ahead_hours: Console's ``AUTO_TOP_UP_LOOK_AHEAD_WINDOW_IN_H``: a
            deployment whose escrow runs out within it is funded (hours of 600 blocks).
        auto_top_up_target_runway_hours: ``AUTO_TOP_UP_TARGET_RUNWAY_IN_H``: the runway a
            funded deployment is brought up to; must exceed the look-ahead window.
        auto_top_up_headroom_uact: ``AUTO_TOP_UP_BALANCE_HEADROOM_IN_USD`` in uact: left in the
            wallet by automatic funding (waived when the balance is at or below it).
        auto_top_up_cooldown_blocks: ``AUTO_TOP_UP_DEDUP_COOLDOWN_IN_MIN`` in blocks: a
            deployment funded more recently is skipped.
        auto_top_up_every_blocks: Blocks between two runs of the funding sweep (Console's cron).
        log_every_blocks: A running pod writes a log line this often.
        backoff_blocks: Blocks between ``BackOff`` events of a failing pod.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    block_time: float | None = Field(default=0.2, gt=0)
    start_height: int = Field(default=1_000, ge=1)
    bid_timeout_blocks: int = Field(default=1_500, ge=1)
    manifest_timeout_blocks: int = Field(default=1_500, ge=1)
    lease_visibility_blocks: int = Field(default=1, ge=0)
    pull_blocks: int = Field(default=2, ge=0)
    min_deposit: int = Field(default=500_000, ge=0)
    initial_balance: int = Field(default=1_000_000_000, ge=0)
    console_deposit: int = Field(default=500_000, ge=0)
    console_managed_deposit: bool = False
    auto_top_up_look_ahead_hours: float = Field(default=24, ge=0)
    auto_top_up_target_runway_hours: float = Field(default=48, gt=0)
    auto_top_up_headroom_uact: int = Field(default=5_000_000, ge=0)
    auto_top_up_cooldown_blocks: int = Field(default=600, ge=0)
    auto_top_up_every_blocks: int = Field(default=600, ge=1)
    log_every_blocks: int = Field(default=25, ge=1)
    backoff_blocks: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _runway_above_window(self) -> WorldConfig:
        # As Console's env schema refuses it: a deployment triggering at the window's edge
        # would be sized a zero deposit.
        if self.auto_top_up_target_runway_hours <= self.auto_top_up_look_ahead_hours:
            raise ValueError(
                "auto_top_up_target_runway_hours must be greater than auto_top_up_look_ahead_hours"
            )
        return self


def _dec(value: Any) -> Decimal:
    return Decimal(str(value))


@dataclass(slots=True)
class Account:
    """A sandbox account: balance in ``uact`` and, once it has signed, its public key."""

    address: str
    balance: Decimal
    public_key: bytes | None = None

    def dump(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "address": self.address,
            "balance": str(self.balance),
            "public_key": self.public_key.hex() if self.public_key else None,
        }

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Account:
        """Inverse of :meth:`dump`."""
        key = raw.get("public_key")
        return cls(raw["address"], _dec(raw["balance"]), bytes.fromhex(key) if key else None)


@dataclass(slots=True)
class Bid:
    """A provider's bid on an order (``open`` → ``active`` | ``lost`` | ``closed``)."""

    provider: str
    price: Decimal
    created_at: int
    state: str = "open"

    def dump(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "provider": self.provider,
            "price": str(self.price),
            "created_at": self.created_at,
            "state": self.state,
        }

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Bid:
        """Inverse of :meth:`dump`."""
        return cls(raw["provider"], _dec(raw["price"]), raw["created_at"], raw["state"])


@dataclass(slots=True)
class Order:
    """An order for one group (``open`` → ``active`` → ``closed``); bids and refusals."""

    oseq: int
    created_at: int
    state: str = "open"
    bids: list[Bid] = field(default_factory=list)
    declined: dict[str, str] = field(default_factory=dict)  # provider -> reason

    def dump(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "oseq": self.oseq,
            "created_at": self.created_at,
            "state": self.state,
            "bids": [b.dump() for b in self.bids],
            "declined": dict(self.declined),
        }

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Order:
        """Inverse of :meth:`dump`."""
        return cls(
            raw["oseq"],
            raw["created_at"],
            raw["state"],
            [Bid.load(b) for b in raw["bids"]],
            dict(raw["declined"]),
        )


@dataclass(slots=True)
class Group:
    """A deployment group (one placement): its GroupSpec and its orders."""

    gseq: int
    spec: dict[str, Any]
    created_at: int
    state: str = "open"
    orders: list[Order] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)  # providers that closed a lease on it

    @property
    def name(self) -> str:
        """The placement name."""
        return str(self.spec.get("name", ""))

    def dump(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "gseq": self.gseq,
            "spec": self.spec,
            "created_at": self.created_at,
            "state": self.state,
            "orders": [o.dump() for o in self.orders],
            "excluded": list(self.excluded),
        }

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Group:
        """Inverse of :meth:`dump`."""
        return cls(
            raw["gseq"],
            raw["spec"],
            raw["created_at"],
            raw["state"],
            [Order.load(o) for o in raw["orders"]],
            list(raw.get("excluded", [])),
        )


@dataclass(slots=True)
class Lease:
    """A lease and what its provider runs for it.

    ``manifest`` is the group of the last manifest the provider accepted; ``manifest_at`` the
    height it did; ``generation`` counts accepted manifests (an update restarts the pods).
    """

    provider: str
    gseq: int
    oseq: int
    price: Decimal
    created_at: int
    visible_at: int
    state: str = "active"
    closed_on: int = 0
    reason: str = ""
    manifest: dict[str, Any] | None = None
    manifest_at: int | None = None
    generation: int = 0

    def dump(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "provider": self.provider,
            "gseq": self.gseq,
            "oseq": self.oseq,
            "price": str(self.price),
            "created_at": self.created_at,
            "visible_at": self.visible_at,
            "state": self.state,
            "closed_on": self.closed_on,
            "reason": self.reason,
            "manifest": self.manifest,
            "manifest_at": self.manifest_at,
            "generation": self.generation,
        }

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Lease:
        """Inverse of :meth:`dump`."""
        return cls(
            raw["provider"],
            raw["gseq"],
            raw["oseq"],
            _dec(raw["price"]),
            raw["created_at"],
            raw["visible_at"],
            raw["state"],
            raw["closed_on"],
            raw["reason"],
            raw["manifest"],
            raw["manifest_at"],
            raw["generation"],
        )


@dataclass(slots=True)
class Escrow:
    """The deployment's escrow account: what is left, what was paid, every deposit."""

    funds: Decimal
    settled_at: int
    transferred: Decimal = Decimal(0)
    state: str = "open"
    deposits: list[dict[str, Any]] = field(default_factory=list)

    def dump(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "funds": str(self.funds),
            "settled_at": self.settled_at,
            "transferred": str(self.transferred),
            "state": self.state,
            "deposits": list(self.deposits),
        }

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Escrow:
        """Inverse of :meth:`dump`."""
        return cls(
            _dec(raw["funds"]),
            raw["settled_at"],
            _dec(raw["transferred"]),
            raw["state"],
            list(raw["deposits"]),
        )


@dataclass(slots=True)
class Deployment:
    """A deployment: owner, dseq, version hash, groups, leases and escrow.

    ``manifest`` is the canonical manifest JSON string Console returned at create.
    """

    owner: str
    dseq: int
    hash: bytes
    created_at: int
    escrow: Escrow
    groups: list[Group] = field(default_factory=list)
    leases: list[Lease] = field(default_factory=list)
    state: str = "active"
    closed_at: int = 0
    manifest: str = ""

    def dump(self) -> dict[str, Any]:
        """Plain JSON form."""
        return {
            "owner": self.owner,
            "dseq": self.dseq,
            "hash": self.hash.hex(),
            "created_at": self.created_at,
            "escrow": self.escrow.dump(),
            "groups": [g.dump() for g in self.groups],
            "leases": [lease.dump() for lease in self.leases],
            "state": self.state,
            "closed_at": self.closed_at,
            "manifest": self.manifest,
        }

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Deployment:
        """Inverse of :meth:`dump`."""
        return cls(
            raw["owner"],
            raw["dseq"],
            bytes.fromhex(raw["hash"]),
            raw["created_at"],
            Escrow.load(raw["escrow"]),
            [Group.load(g) for g in raw["groups"]],
            [Lease.load(lease) for lease in raw["leases"]],
            raw["state"],
            raw["closed_at"],
            raw.get("manifest", ""),
        )

    def active_leases(self) -> list[Lease]:
        """Leases still running."""
        return [lease for lease in self.leases if lease.state == "active"]

    def group(self, gseq: int) -> Group | None:
        """The group with this gseq, if any."""
        return next((g for g in self.groups if g.gseq == gseq), None)
