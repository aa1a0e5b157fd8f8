"""The sandbox world: a simulated Akash chain and its providers, advanced one block at a time.

Pure Python and synchronous: every operation is a transaction applied at the current height, and
:meth:`World.advance` produces the next block (providers bid, bids expire, escrow drains, leases
without a manifest time out). The HTTP layers and the clock drive it from one event loop, so no
operation is ever interleaved with another.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

from minds371.logging import get_logger
from minds371_sandbox._blocks import produce_block
from minds371_sandbox._drain import DrainHorizons
from minds371_sandbox._fit import gpu_models_used, spec_resources
from minds371_sandbox._intake import receive_manifest, sees_lease
from minds371_sandbox._providers import ProviderSpec
from minds371_sandbox._records import (
    Account,
    Deployment,
    Escrow,
    Group,
    Lease,
    Order,
    WorldConfig,
    WorldError,
)
from minds371_sandbox._top_up import DeploymentSetting

__all__ = ["REASONS", "World", "WorldError"]

log = get_logger("minds371.sandbox.world")

#: Lease close reasons (``market/v1/types.proto``).
REASONS = {
    "owner": "lease_closed_owner",
    "unstable": "lease_closed_reason_unstable",
    "decommission": "lease_closed_reason_decommission",
    "unspecified": "lease_closed_reason_unspecified",
    "manifest_timeout": "lease_closed_reason_manifest_timeout",
    "insufficient_funds": "lease_closed_reason_insufficient_funds",
}


class World:
    """The simulated chain: accounts, deployments and the providers that bid on them.

    Args:
        providers: The provider set.
        config: Timing and economics.
    """

    def __init__(
        self, providers: Sequence[ProviderSpec], config: WorldConfig | None = None
    ) -> None:
        self.config = config or WorldConfig()
        self.height = self.config.start_height
        self.providers: dict[str, ProviderSpec] = {p.address: p for p in providers}
        self.online: dict[str, bool] = {p.address: p.online for p in providers}
        self.accounts: dict[str, Account] = {}
        self.deployments: dict[tuple[str, int], Deployment] = {}
        self._usage: dict[str, dict[str, int]] = {}
        self._gpu_usage: dict[str, dict[str, int]] = {}
        self._live: set[tuple[str, int]] = set()  # deployments still active: what advance() visits
        # Transactions admitted by a sync broadcast, by signer; the next block delivers them.
        self.mempool: list[tuple[str, Callable[[], None]]] = []
        # Client certificates published on chain (``MsgCreateCertificate``), by owner.
        self.certificates: dict[str, list[dict[str, str]]] = {}
        #: Console's per-deployment settings (auto top-up), by (owner, dseq).
        self.deployment_settings: dict[tuple[str, int], DeploymentSetting] = {}
        #: What the auto top-up sweep learnt about runways (:class:`._drain.DrainHorizons`).
        self.drain_horizons = DrainHorizons()

    # ---- accounts -------------------------------------------------------------------------

    def account(self, address: str, public_key: bytes | None = None) -> Account:
        """The account at ``address``, created with the initial balance on first use."""
        acct = self.accounts.get(address)
        if acct is None:
            acct = Account(address, Decimal(self.config.initial_balance))
            self.accounts[address] = acct
        if public_key is not None and acct.public_key is None:
            acct.public_key = public_key
        return acct

    def public_key_of(self, address: str) -> bytes | None:
        """The on-chain public key of an account (None until it has signed a transaction)."""
        acct = self.accounts.get(address)
        return acct.public_key if acct else None

    # ---- deployments ----------------------------------------------------------------------

    def deployment(self, owner: str, dseq: int) -> Deployment:
        """Look a deployment up.

        Raises:
            WorldError: ``not_found`` if there is none.
        """
        dep = self.deployments.get((owner, dseq))
        if dep is None:
            raise WorldError("not_found", "Deployment not found")
        return dep

    def deployments_of(self, owner: str | None = None) -> Iterator[Deployment]:
        """Every deployment (of one owner), oldest first."""
        for dep in self.deployments.values():
            if owner is None or dep.owner == owner:
                yield dep

    def create_deployment(
        self,
        owner: str,
        groups: Sequence[Mapping[str, Any]],
        version: bytes,
        deposit: int | Decimal,
        *,
        dseq: int | None = None,
        source: str = "balance",
        manifest: str = "",
    ) -> Deployment:
        """``MsgCreateDeployment``: open one order per group and fund the escrow.

        Raises:
            WorldError: ``exists`` (dseq taken), ``deposit`` (below ``min_deposits``), ``invalid``
                (bad groups or denom), ``funds`` (balance below the deposit).
        """
        acct = self.account(owner)
        dseq = self.height if dseq is None else dseq
        if (owner, dseq) in self.deployments:
            raise WorldError("exists", "Deployment with provided dseq and owner already exists")
        if not groups or len(groups) > 20:
            raise WorldError("invalid", "invalid deployment: 1 to 20 groups required")
        if len(version) != 32:
            raise WorldError("invalid", "Invalid deployment version/hash")
        denoms = {
            str((unit.get("price") or {}).get("denom", ""))
            for group in groups
            for unit in group.get("resources") or []
        }
        if denoms != {"uact"}:
            raise WorldError(
                "invalid", "Invalid coin denominations: group price denom must be uact"
            )
        amount = Decimal(deposit)
        if amount < self.config.min_deposit:
            raise WorldError("deposit", "Deposit too low")
        if acct.balance < amount:
            raise WorldError("funds", "Insufficient funds")
        acct.balance -= amount
        escrow = Escrow(
            funds=amount,
            settled_at=self.height,
            deposits=[
                {
                    "owner": owner,
                    "height": str(self.height),
                    "source": source,
                    "amount": str(amount),
                }
            ],
        )
        dep = Deployment(owner, dseq, bytes(version), self.height, escrow, manifest=manifest)
        for gseq, spec in enumerate(groups, start=1):
            group = Group(gseq, dict(spec), self.height)
            group.orders.append(Order(1, self.height))
            dep.groups.append(group)
        self.deployments[(owner, dseq)] = dep
        self._live.add((owner, dseq))
        log.info("minds371.sandbox.deployment_created", owner=owner, dseq=dseq, height=self.height)
        return dep

    def update_deployment(
        self, owner: str, dseq: int, version: bytes, manifest: str = ""
    ) -> Deployment:
        """``MsgUpdateDeployment``: only the version hash changes on chain."""
        dep = self._active(owner, dseq)
        if len(version) != 32:
            raise WorldError("invalid", "Invalid deployment version/hash")
        dep.hash = bytes(version)
        if manifest:
            dep.manifest = manifest
        return dep

    def deposit(
        self,
        owner: str,
        dseq: int,
        amount: int | Decimal,
        *,
        depositor: str | None = None,
        source: str = "balance",
    ) -> Deployment:
        """``MsgAccountDeposit`` into a deployment's escrow."""
        dep = self._active(owner, dseq)
        payer = self.account(depositor or owner)
        value = Decimal(amount)
        if value <= 0:
            raise WorldError("invalid", "invalid deposit amount")
        if payer.balance < value:
            raise WorldError("funds", "Insufficient funds")
        payer.balance -= value
        dep.escrow.funds += value
        dep.escrow.deposits.append(
            {
                "owner": payer.address,
                "height": str(self.height),
                "source": source,
                "amount": str(value),
            }
        )
        return dep

    def close_deployment(self, owner: str, dseq: int) -> Deployment:
        """``MsgCloseDeployment``: close leases, orders and bids; refund what is left."""
        dep = self.deployment(owner, dseq)
        if dep.state == "closed":
            return dep
        self._shut(dep, lease_state="closed", reason=REASONS["owner"], group_state="closed")
        dep.escrow.state = "closed"
        self.account(owner).balance += dep.escrow.funds
        dep.escrow.funds = Decimal(0)
        return dep

    def _active(self, owner: str, dseq: int) -> Deployment:
        dep = self.deployment(owner, dseq)
        if dep.state != "active":
            raise WorldError("closed", "Deployment closed")
        return dep

    def _shut(self, dep: Deployment, *, lease_state: str, reason: str, group_state: str) -> None:
        for lease in dep.active_leases():
            self._end_lease(lease, dep, lease_state, reason)
        for group in dep.groups:
            group.state = group_state
            for order in group.orders:
                order.state = "closed"
                for bid in order.bids:
                    if bid.state in ("open", "active"):
                        bid.state = "closed"
        dep.state = "closed"
        dep.closed_at = self.height
        self._live.discard((dep.owner, dep.dseq))
        log.info("minds371.sandbox.deployment_closed", dseq=dep.dseq, reason=reason)

    # ---- leases ---------------------------------------------------------------------------

    def create_lease(self, owner: str, dseq: int, gseq: int, oseq: int, provider: str) -> Lease:
        """``MsgCreateLease`` on an open bid of an open order.

        Raises:
            WorldError: ``not_found`` (no deployment), ``lease`` ("Cannot create lease: …").
        """
        dep = self.deployment(owner, dseq)
        if dep.state != "active":
            raise WorldError("lease", "Cannot create lease: deployment closed")
        group = dep.group(gseq)
        order = next((o for o in group.orders if o.oseq == oseq), None) if group else None
        if group is None or order is None:
            raise WorldError("lease", "Cannot create lease: order not found")
        if order.state != "open" or group.state != "open":
            raise WorldError("lease", "Cannot create lease: order not open")
        bid = next((b for b in order.bids if b.provider == provider), None)
        if bid is None:
            raise WorldError("lease", "Cannot create lease: bid not found")
        if bid.state != "open":
            raise WorldError("lease", "Cannot create lease: bid not open")
        for other in order.bids:
            other.state = (
                "active" if other is bid else ("lost" if other.state == "open" else other.state)
            )
        order.state = "active"
        lease = Lease(
            provider,
            gseq,
            oseq,
            bid.price,
            self.height,
            visible_at=self.height + self.config.lease_visibility_blocks,
        )
        dep.leases.append(lease)
        self._hold(lease, group, +1)
        self.drain_horizons.forget((owner, dseq))  # the rate went up
        log.info("minds371.sandbox.lease_created", dseq=dseq, gseq=gseq, provider=provider)
        return lease

    def undo_lease(self, dep: Deployment, lease: Lease) -> None:
        """Revert a lease whose multi-lease transaction failed as a whole."""
        group = dep.group(lease.gseq)
        if group is not None:
            self._hold(lease, group, -1)
            for order in group.orders:
                if order.oseq == lease.oseq:
                    order.state = "open"
                    for bid in order.bids:
                        if bid.state in ("active", "lost"):
                            bid.state = "open"
        dep.leases.remove(lease)

    def find_lease(
        self, owner: str, dseq: int, gseq: int, oseq: int, provider: str | None = None
    ) -> Lease | None:
        """The newest lease with this id (any state)."""
        dep = self.deployments.get((owner, dseq))
        if dep is None:
            return None
        for lease in reversed(dep.leases):
            if lease.gseq == gseq and lease.oseq == oseq and provider in (None, lease.provider):
                return lease
        return None

    def provider_close_lease(
        self, owner: str, dseq: int, gseq: int, oseq: int, reason: str = "unstable"
    ) -> Lease:
        """The provider closes a lease (``MsgCloseBid``); the group gets a new order.

        Raises:
            WorldError: ``not_found`` if there is no such active lease.
        """
        dep = self.deployment(owner, dseq)
        lease = self.find_lease(owner, dseq, gseq, oseq)
        if lease is None or lease.state != "active":
            raise WorldError("not_found", "lease not found")
        self._end_lease(lease, dep, "closed", REASONS.get(reason, reason))
        self._reopen(dep, lease, exclude=True)
        return lease

    def owner_close_lease(
        self, owner: str, dseq: int, gseq: int, oseq: int, provider: str
    ) -> Lease:
        """The owner closes one lease (``MsgCloseLease``); the group gets a new order.

        The checks and their messages are the market module's, in its order: the order must be
        active, the provider's bid active, the lease active. Unlike a provider's close, the
        provider stays welcome to bid on the new order: the owner chooses among the bids.

        Raises:
            WorldError: ``not_found`` (``invalid order: order not found``, ``invalid bid: bid not
                found``, ``invalid lease: lease not found``), ``closed`` (``order closed``: the
                order or the lease is no longer active), ``lease`` (``bid not active``).
        """
        dep = self.deployments.get((owner, dseq))
        group = dep.group(gseq) if dep is not None else None
        order = next((o for o in group.orders if o.oseq == oseq), None) if group else None
        if dep is None or order is None:
            raise WorldError("not_found", "invalid order: order not found")
        if order.state != "active":
            raise WorldError("closed", "order closed")
        bid = next((b for b in order.bids if b.provider == provider), None)
        if bid is None:
            raise WorldError("not_found", "invalid bid: bid not found")
        if bid.state != "active":
            raise WorldError("lease", "bid not active")
        lease = self.find_lease(owner, dseq, gseq, oseq, provider)
        if lease is None:
            raise WorldError("not_found", "invalid lease: lease not found")
        if lease.state != "active":
            raise WorldError("closed", "order closed")
        self._end_lease(lease, dep, "closed", REASONS["owner"])
        self._reopen(dep, lease, exclude=False)
        log.info("minds371.sandbox.lease_closed", dseq=dseq, gseq=gseq, provider=provider)
        return lease

    def _reopen(self, dep: Deployment, lease: Lease, *, exclude: bool) -> None:
        """Close the lease's order and, while the deployment lives, open the group's next one."""
        group = dep.group(lease.gseq)
        if group is None or dep.state != "active":
            return
        for order in group.orders:
            if order.oseq == lease.oseq:
                order.state = "closed"
        if exclude:
            group.excluded.append(lease.provider)
        group.orders.append(Order(max(o.oseq for o in group.orders) + 1, self.height))

    def _end_lease(self, lease: Lease, dep: Deployment, state: str, reason: str) -> None:
        lease.state = state
        lease.reason = reason
        lease.closed_on = self.height
        group = dep.group(lease.gseq)
        if group is not None:
            self._hold(lease, group, -1)
            for order in group.orders:
                if order.oseq == lease.oseq:
                    for bid in order.bids:
                        if bid.provider == lease.provider and bid.state == "active":
                            bid.state = "closed"

    def _hold(self, lease: Lease, group: Group, sign: int) -> None:
        usage = self._usage.setdefault(lease.provider, {})
        for key, value in spec_resources(group.spec).items():
            usage[key] = usage.get(key, 0) + sign * value
        provider = self.providers.get(lease.provider)
        if provider is not None and provider.gpu_models:
            gpus = self._gpu_usage.setdefault(lease.provider, {})
            for model, units in gpu_models_used(group.spec, provider).items():
                gpus[model] = gpus.get(model, 0) + sign * units

    def sees_lease(self, provider: str, owner: str, dseq: int) -> bool:
        """Whether ``provider`` has seen an active lease of ``owner``'s deployment ``dseq``."""
        return sees_lease(self, provider, owner, dseq)

    def receive_manifest(
        self,
        provider: str,
        owner: str,
        dseq: int,
        groups: Iterable[Mapping[str, Any]],
        version: bytes,
    ) -> list[Lease]:
        """A provider receives a manifest (:func:`._intake.receive_manifest`)."""
        return receive_manifest(self, provider, owner, dseq, groups, version)

    # ---- providers ------------------------------------------------------------------------

    def set_online(self, provider: str, online: bool) -> None:
        """Take a provider offline (it stops bidding and answering) or bring it back."""
        if provider not in self.providers:
            raise WorldError("not_found", "provider not found")
        self.online[provider] = online

    def usage(self, provider: str) -> dict[str, int]:
        """What a provider's active leases hold."""
        return dict(self._usage.get(provider, {}))

    def gpu_usage(self, provider: str) -> dict[str, int]:
        """GPUs a provider's active leases hold, per model."""
        return dict(self._gpu_usage.get(provider, {}))

    # ---- blocks ---------------------------------------------------------------------------

    def advance(self, blocks: int = 1) -> int:
        """Produce ``blocks`` blocks (:func:`._blocks.produce_block`); returns the new height."""
        for _ in range(blocks):
            produce_block(self)
        return self.height

    def live_deployments(self) -> list[Deployment]:
        """The deployments still active: what a block visits."""
        return [self.deployments[key] for key in self._live]

    def overdraw(self, dep: Deployment) -> None:
        """The escrow cannot pay a block: close every lease and the deployment (out of funds).

        As ``node:x/market/hooks`` does: leases ``insufficient_funds`` (reason 20000), groups
        ``insufficient_funds``, the deployment ``closed``.
        """
        dep.escrow.state = "overdrawn"
        self._shut(
            dep,
            lease_state="insufficient_funds",
            reason=REASONS["insufficient_funds"],
            group_state="insufficient_funds",
        )

    # ---- persistence ----------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """The whole world as plain JSON (providers' online flags included)."""
        return {
            "height": self.height,
            "online": dict(self.online),
            "accounts": [a.dump() for a in self.accounts.values()],
            "deployments": [d.dump() for d in self.deployments.values()],
            "certificates": {k: list(v) for k, v in self.certificates.items()},
            "deployment_settings": [s.dump() for s in self.deployment_settings.values()],
        }

    def restore(self, raw: Mapping[str, Any]) -> None:
        """Load a :meth:`dump` into this world (its providers and config stay as configured)."""
        self.height = int(raw["height"])
        for address, online in dict(raw.get("online", {})).items():
            if address in self.providers:
                self.online[address] = bool(online)
        self.accounts = {a["address"]: Account.load(a) for a in raw.get("accounts", [])}
        self.certificates = {
            str(k): [dict(c) for c in v] for k, v in dict(raw.get("certificates", {})).items()
        }
        self.deployments = {}
        self._usage, self._gpu_usage, self._live = {}, {}, set()
        self.drain_horizons.clear()
        settings = [DeploymentSetting.load(x) for x in raw.get("deployment_settings", [])]
        self.deployment_settings = {(x.owner, x.dseq): x for x in settings}
        for item in raw.get("deployments", []):
            dep = Deployment.load(item)
            self.deployments[(dep.owner, dep.dseq)] = dep
            if dep.state == "active":
                self._live.add((dep.owner, dep.dseq))
            for lease in dep.active_leases():
                group = dep.group(lease.gseq)
                if group is not None:
                    self._hold(lease, group, +1)
