"""Console's automatic funding of managed deployments (auto top-up), on the sandbox chain.

Read from ``console:apps/api/src/deployment``: ``config/env.config.ts`` (the knobs),
``services/draining-deployment/draining-deployment.service.ts`` (which deployments drain and how
much they get), ``services/top-up-managed-deployments/top-up-managed-deployments.service.ts``
(the sweep) and ``services/cached-balance/cached-balance.service.ts`` (the balance headroom):

* a deployment whose setting has ``autoTopUpEnabled`` and whose leases pay ``rate`` uact a block
  is draining when its escrow runs out (``predictedClosedHeight``) within the look-ahead window
  (``AUTO_TOP_UP_LOOK_AHEAD_WINDOW_IN_H`` = 24 h, at Console's 600 blocks an hour);
* it gets ``floor(rate * (height + target - max(height, predictedClosedHeight)))``, the runway
  up to ``AUTO_TOP_UP_TARGET_RUNWAY_IN_H`` (48 h);
* paid from the wallet's balance minus ``AUTO_TOP_UP_BALANCE_HEADROOM_IN_USD`` ($5), a floor
  waived when the balance is at or below it; short balances fund what they can;
* a deployment funded less than ``AUTO_TOP_UP_DEDUP_COOLDOWN_IN_MIN`` (60 min) ago is skipped;
* the deposit's source is ``grant``.

The sweep runs as Console's cron does, every ``auto_top_up_every_blocks`` (an hour of blocks),
and for one owner at once when a setting is switched on (Console schedules an immediate job).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from minds371.logging import get_logger
from minds371_sandbox._records import Deployment, WorldError

if TYPE_CHECKING:
    from minds371_sandbox._world import World

__all__ = [
    "BLOCKS_PER_HOUR",
    "DeploymentSetting",
    "runway_blocks",
    "steady_state_amount",
    "sweep",
]

#: Console's ``averageBlockCountInAnHour`` (``averageBlockTime`` = 6 s).
BLOCKS_PER_HOUR = 600

_log = get_logger("minds371.sandbox.top_up")


@dataclass(slots=True)
class DeploymentSetting:
    """One row of Console's ``deployment_setting`` table."""

    id: str
    user_id: str
    owner: str
    dseq: int
    auto_top_up_enabled: bool
    created_at: str
    updated_at: str
    last_funded_height: int | None = None

    @classmethod
    def new(cls, user_id: str, owner: str, dseq: int, enabled: bool) -> DeploymentSetting:
        """A fresh setting with a random id, stamped now."""
        now = _now()
        return cls(str(uuid.uuid4()), user_id, owner, dseq, enabled, now, now)

    def dump(self) -> dict[str, Any]:
        """Plain JSON form (persistence)."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "owner": self.owner,
            "dseq": self.dseq,
            "auto_top_up_enabled": self.auto_top_up_enabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_funded_height": self.last_funded_height,
        }

    @classmethod
    def load(cls, raw: dict[str, Any]) -> DeploymentSetting:
        """Inverse of :meth:`dump`."""
        return cls(**raw)

    def touch(self) -> None:
        """Stamp ``updated_at``."""
        self.updated_at = _now()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def block_rate(dep: Deployment) -> Decimal:
    """What the deployment's active leases pay per block, together (uact)."""
    return sum((lease.price for lease in dep.active_leases()), Decimal(0))


def runway_blocks(dep: Deployment, height: int) -> int | None:
    """Blocks until the escrow runs out at the current rate (``None`` while nothing pays)."""
    rate = block_rate(dep)
    if rate <= 0:
        return None
    unsettled = rate * (height - dep.escrow.settled_at)
    return max(0, math.floor((dep.escrow.funds - unsettled) / rate))


def steady_state_amount(world: World, dep: Deployment | None) -> int:
    """``calculateSteadyStateTopUpAmount``: one event's deposit once funded (0 without leases)."""
    if dep is None:
        return 0
    config = world.config
    hours = config.auto_top_up_target_runway_hours - config.auto_top_up_look_ahead_hours
    return math.floor(block_rate(dep) * BLOCKS_PER_HOUR * Decimal(str(hours)))


def sweep(world: World, owner: str | None = None) -> list[tuple[int, Decimal]]:
    """Fund every draining auto-top-up deployment (of ``owner``); returns ``(dseq, amount)``."""
    config = world.config
    height = world.height
    window = Decimal(str(config.auto_top_up_look_ahead_hours)) * BLOCKS_PER_HOUR
    horizons = world.drain_horizons
    target = Decimal(str(config.auto_top_up_target_runway_hours)) * BLOCKS_PER_HOUR
    funded: list[tuple[int, Decimal]] = []
    by_owner: dict[str, list[tuple[DeploymentSetting, Deployment]]] = {}
    # Only the settings whose runway may have reached the window (:mod:`._drain`), in the table's
    # order; the others' escrows last beyond it.
    for key in horizons.due(world.deployment_settings, height, window):
        setting = world.deployment_settings[key]
        if not setting.auto_top_up_enabled or (owner is not None and setting.owner != owner):
            continue
        dep = world.deployments.get((setting.owner, setting.dseq))
        if dep is None:
            continue
        if dep.state != "active":
            horizons.done(key)
            continue
        by_owner.setdefault(setting.owner, []).append((setting, dep))
    for address, items in by_owner.items():
        available = world.account(address).balance
        headroom = Decimal(config.auto_top_up_headroom_uact)
        spendable = available - headroom if available > headroom else available
        for setting, dep in items:
            left = runway_blocks(dep, height)
            if left is None or left > window:
                if left is not None:
                    horizons.note((setting.owner, setting.dseq), height, window, left)
                continue  # nothing pays, or the escrow lasts beyond the window
            last = setting.last_funded_height
            if last is not None and height - last < config.auto_top_up_cooldown_blocks:
                continue
            rate = block_rate(dep)
            amount = Decimal(math.floor(rate * (target - left)))
            value = min(amount, spendable)
            if value <= 0:
                continue  # "Insufficient balance": this deployment is skipped
            try:
                world.deposit(address, dep.dseq, value, source="grant")
            except WorldError as exc:
                _log.warning("minds371.sandbox.top_up_failed", dseq=dep.dseq, error=exc.message)
                continue
            spendable -= value
            setting.last_funded_height = height
            funded.append((dep.dseq, value))
            _log.info("minds371.sandbox.top_up", owner=address, dseq=dep.dseq, amount=str(value))
    return funded
