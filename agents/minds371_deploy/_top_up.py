"""Keeping a watched deployment's escrow funded, never beyond the request's budget.

A lease is paid from its deployment's escrow; when the escrow runs dry the chain closes every
lease and the deployment. The watcher keeps it funded:

* on Console (and the sandbox, which serves Console's API) it switches on Console's own auto
  top-up (``PATCH /v2/deployment-settings/{dseq}``), which funds the deployment from the managed
  wallet whenever its runway drops below the look-ahead window (24 h), up to the target runway
  (48 h) (``console:apps/api/src/deployment/config/env.config.ts``);
* elsewhere (the ``cli`` network) it deposits itself on the same rule
  (``akash tx escrow deposit deployment <amount>uact --dseq N``), never past the request's
  ``ttl``.

Budget: a funding event may deposit at most ``budget.max_deposit_uact``, like the deposit at
creation. A top-up that would need more is refused and reported (``topup_refused``), and on
Console auto top-up is switched off, so nothing ever deposits more than the cap at once. The
lease price itself was already checked against ``max_uact_per_block`` and ``max_usd_per_month``
before anything was created, so keeping a deployment funded spends at the rate the budget
allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from minds371_akash import AkashIntegrationProvider
from minds371_akash.market import Deployment
from minds371_akash.market._funding import BLOCKS_PER_HOUR, current_runway

__all__ = ["AUTO_TOP_UP", "TARGET_HOURS", "TOP_UP", "WINDOW_HOURS", "Funding", "keep_funded"]

#: Saga step: the watcher deposited ``amount`` uact into ``dseq``'s escrow.
TOP_UP = "deployment.top_up"
#: Saga step: Console's auto top-up of ``dseq`` was switched (``enabled``, ``reason``).
AUTO_TOP_UP = "deployment.auto_top_up"
#: Fund once the runway is below this many hours (``AUTO_TOP_UP_LOOK_AHEAD_WINDOW_IN_H``) ...
WINDOW_HOURS = 24
#: ... up to this many (``AUTO_TOP_UP_TARGET_RUNWAY_IN_H``).
TARGET_HOURS = 48


@dataclass(frozen=True, slots=True)
class Funding:
    """What the watcher did about one deployment's escrow.

    ``kind`` is ``top_up`` (deposited), ``auto_top_up`` (Console funds it now),
    ``topup_refused`` (the budget does not allow it); ``step`` is the saga step to record.
    """

    kind: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)
    step: str | None = None


async def keep_funded(
    akash: AkashIntegrationProvider,
    deployment: Deployment,
    *,
    auto_top_up_decided: bool,
    ttl_left: float | None,
) -> Funding | None:
    """Fund ``deployment`` if it needs it and the budget allows (see module docs).

    Args:
        akash: The provider (its backend and budget are used).
        deployment: The deployment as just read, with its leases and escrow.
        auto_top_up_decided: Console's auto top-up was already switched for it.
        ttl_left: Seconds until the request's ``ttl`` closes it (``None``: no ttl).
    """
    rate = sum((lease.price.amount for lease in deployment.active_leases), Decimal(0))
    if rate <= 0:
        return None
    switch = getattr(akash.backend, "set_auto_top_up", None)
    if switch is not None:
        if auto_top_up_decided:
            return None
        return await _console(akash, deployment, rate)
    return await _deposit(akash, deployment, rate, ttl_left)


async def _console(
    akash: AkashIntegrationProvider, deployment: Deployment, rate: Decimal
) -> Funding:
    cap = akash.budget.max_deposit
    dseq = deployment.dseq
    # The largest event Console can make: from an empty escrow up to the target runway.
    largest = rate * BLOCKS_PER_HOUR * TARGET_HOURS
    backend: Any = akash.backend
    if cap is None or largest <= cap:
        setting = await backend.set_auto_top_up(dseq, enabled=True)
        largest = setting.largest_event(rate)
        if cap is None or largest <= cap:
            return Funding(
                "auto_top_up",
                f"Console funds the escrow automatically (about {setting.estimated_amount} uact "
                f"an event, below {setting.window_hours:g} h of runway)",
                {"enabled": True, "estimated_uact": str(setting.estimated_amount)},
                AUTO_TOP_UP,
            )
    await backend.set_auto_top_up(dseq, enabled=False)
    return Funding(
        "topup_refused",
        f"auto top-up left off: one funding event may deposit up to {largest:f} uact, over "
        f"the budget's max_deposit_uact of {cap}",
        {"enabled": False, "needed_uact": f"{largest:f}", "max_deposit_uact": str(cap)},
        AUTO_TOP_UP,
    )


async def _deposit(
    akash: AkashIntegrationProvider,
    deployment: Deployment,
    rate: Decimal,
    ttl_left: float | None,
) -> Funding | None:
    runway = await current_runway(akash.backend, deployment)
    if runway is None or runway.blocks is None:
        return None
    window = BLOCKS_PER_HOUR * WINDOW_HOURS
    if runway.blocks >= window:
        return None
    blocks = BLOCKS_PER_HOUR * TARGET_HOURS - runway.blocks
    if ttl_left is not None:
        block_time = await akash.backend.block_time() or 6.0
        blocks = min(blocks, math.ceil(ttl_left / block_time) - runway.blocks)
    amount = Decimal(math.ceil(rate * blocks))
    if amount <= 0:
        return None  # the escrow outlasts the ttl
    cap = akash.budget.max_deposit
    data = {"amount_uact": str(amount), "runway_hours": runway.hours}
    if cap is not None and amount > cap:
        return Funding(
            "topup_refused",
            f"escrow runs out in {runway.hours} h; a top-up of {amount} uact is over the "
            f"budget's max_deposit_uact of {cap}",
            {**data, "max_deposit_uact": str(cap)},
        )
    await akash.deposit(deployment.dseq, amount)
    return Funding(
        "top_up",
        f"deposited {amount} uact ({runway.hours} h of runway left)",
        data,
        TOP_UP,
    )
