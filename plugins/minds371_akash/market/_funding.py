"""Escrow runway and Console's auto top-up setting, as the client sees them.

Runway is what the deployment's escrow still pays for: ``funds`` as of the escrow's last
settlement, minus what the active leases have used since (``rate`` uact a block), over ``rate``.
The chain settles lazily (on a deposit, a withdrawal or a close), so ``funds`` alone overstates
it: counting from the current height matters (the provider's withdrawal period is 24 h). Hours
are counted at Console's ``averageBlockTime`` of 6 s (``console:apps/api/src/utils/constants.ts``),
the basis of its auto top-up window too.

:class:`AutoTopUp` is the ``data`` of Console's ``/v2/deployment-settings`` answers
(``console:apps/api/src/deployment/http-schemas/deployment-setting.schema.ts``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from minds371.errors import ProviderError
from minds371.logging import get_logger
from minds371_akash.market._models import Deployment

__all__ = [
    "BLOCKS_PER_HOUR",
    "AutoTopUp",
    "Runway",
    "current_runway",
    "parse_auto_top_up",
    "runway_of",
]

_log = get_logger("minds371.akash.funding")

#: Console's ``averageBlockCountInAnHour`` (6 s blocks).
BLOCKS_PER_HOUR = 600


class Runway(BaseModel):
    """How long a deployment's escrow lasts at its current price.

    Attributes:
        rate: uact a block the active leases pay together.
        funds: uact left in escrow at ``height``.
        height: The block height it is counted at.
        blocks: Blocks left (``None`` while no lease pays).
        hours: ``blocks`` in hours of 6 s blocks (``None`` while no lease pays).
    """

    model_config = ConfigDict(frozen=True)

    rate: Decimal
    funds: Decimal
    height: int
    blocks: int | None
    hours: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (amounts as strings)."""
        return {
            "rate_uact_per_block": str(self.rate),
            "funds_uact": str(self.funds),
            "height": self.height,
            "blocks": self.blocks,
            "hours": self.hours,
        }


def runway_of(deployment: Deployment, height: int | None = None) -> Runway | None:
    """The deployment's runway at ``height`` (default: the escrow's last settlement).

    Returns ``None`` when the backend reports no escrow.
    """
    escrow = deployment.escrow
    if escrow is None:
        return None
    rate = sum((lease.price.amount for lease in deployment.active_leases), Decimal(0))
    at = max(height or 0, escrow.settled_at)
    funds = max(Decimal(0), escrow.funds - rate * (at - escrow.settled_at))
    if rate <= 0 or not deployment.active:
        return Runway(rate=rate, funds=funds, height=at, blocks=None, hours=None)
    blocks = math.floor(funds / rate)
    return Runway(
        rate=rate,
        funds=funds,
        height=at,
        blocks=blocks,
        hours=round(blocks / BLOCKS_PER_HOUR, 2),
    )


async def current_runway(backend: Any, deployment: Deployment) -> Runway | None:
    """The runway at the chain's current height, where ``backend`` can tell it.

    Backends with ``current_height()`` (Console, the sandbox) count from it; others from the
    escrow's last settlement, which overstates the runway by what was used since.
    """
    height = None
    current = getattr(backend, "current_height", None)
    if current is not None:
        try:
            height = int(await current())
        except ProviderError as exc:
            _log.warning("minds371.akash.height_unknown", error=exc.message)
    return runway_of(deployment, height)


class AutoTopUp(BaseModel):
    """Console's auto top-up setting of one deployment.

    Attributes:
        dseq: The deployment.
        enabled: Whether Console funds it automatically.
        estimated_amount: uact one funding event deposits in the steady state (0 when off).
        window_hours: The look-ahead window: it is funded once its runway drops below this.
    """

    model_config = ConfigDict(frozen=True)

    dseq: int
    enabled: bool
    estimated_amount: Decimal
    window_hours: float

    def largest_event(self, rate: Decimal) -> Decimal:
        """The most one funding event can deposit at ``rate`` uact a block.

        The steady-state event refills from the window to the target runway; the first one (or
        one after a gap) starts from below the window, so it can add up to a window more.
        """
        return self.estimated_amount + rate * BLOCKS_PER_HOUR * Decimal(str(self.window_hours))


def parse_auto_top_up(data: Mapping[str, Any]) -> AutoTopUp:
    """``{id, userId, dseq, autoTopUpEnabled, estimatedTopUpAmount, topUpFrequencyMs, …}``."""
    return AutoTopUp(
        dseq=int(str(data["dseq"])),
        enabled=bool(data["autoTopUpEnabled"]),
        estimated_amount=Decimal(str(data["estimatedTopUpAmount"])),
        window_hours=float(data["topUpFrequencyMs"]) / 3_600_000,
    )
