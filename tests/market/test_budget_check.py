"""The budget check before any spend: each limit at its boundary, its message and its details.

Each test opens its own sandbox with ``world()``: a context rather than a fixture, because the
sandbox's block clock must be left by the task that entered it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from minds371.errors import BudgetExceeded
from minds371_akash import AkashIntegrationProvider, Budget
from minds371_akash._deploy_types import PreparedDeployment
from minds371_akash.market import ConsoleBackend
from minds371_akash.pricing import DAYS_PER_MONTH, DEFAULT_BLOCK_TIME

from .conftest import BLOCK, sdl, world


def monthly_usd(prepared: PreparedDeployment, block_time: float) -> Decimal:
    """What a month at the SDL's price costs: uact are micro-dollars, one price per block."""
    blocks = DAYS_PER_MONTH * 86400 / Decimal(str(block_time))
    return prepared.max_price_per_block / 1_000_000 * blocks


async def check(backend: ConsoleBackend, budget: Budget, **kw: object) -> BudgetExceeded | None:
    deposit = kw.pop("deposit", None)
    akash = AkashIntegrationProvider(backend, budget=budget, **kw)  # type: ignore[arg-type]
    prepared = akash.prepare(sdl("web"))
    try:
        await akash.check_budget(prepared, deposit=deposit)  # type: ignore[arg-type]
    except BudgetExceeded as exc:
        return exc
    return None


async def test_no_limits_allow_everything() -> None:
    async with world() as (_net, backend):
        assert await check(backend, Budget()) is None
        assert await check(backend, Budget(), deposit=Decimal(10**12)) is None


async def test_price_per_block_at_the_limit_passes_and_above_it_is_refused() -> None:
    async with world() as (_net, backend):
        price = AkashIntegrationProvider(backend).prepare(sdl("web")).max_price_per_block
        assert await check(backend, Budget(max_price_per_block=price)) is None
        refused = await check(backend, Budget(max_price_per_block=price - Decimal("0.001")))
        assert refused is not None
        limit = price - Decimal("0.001")
        assert refused.message == (
            f"the SDL allows up to {price} uact/block, over the budget of {limit}; "
            "lower the placement pricing in the SDL"
        )
        assert refused.details == {"limit": str(limit), "requested": str(price)}


async def test_monthly_dollars_use_the_console_block_time_on_the_sandbox() -> None:
    async with world() as (_net, backend):
        prepared = AkashIntegrationProvider(backend).prepare(sdl("web"))
        monthly = monthly_usd(prepared, DEFAULT_BLOCK_TIME)
        assert await check(backend, Budget(max_usd_per_month=monthly)) is None
        limit = monthly - Decimal("0.000001")
        refused = await check(backend, Budget(max_usd_per_month=limit))
        assert refused is not None
        assert refused.message == (
            f"the SDL may cost up to {monthly:.2f} USD/month, over the budget of {limit} USD/month"
        )
        assert refused.details == {"limit": str(limit), "requested": f"{monthly:.2f}"}


async def test_a_configured_pricing_block_time_is_used() -> None:
    async with world() as (_net, backend):
        prepared = AkashIntegrationProvider(backend).prepare(sdl("web"))
        # twice the block time, half the blocks in a month: the Console-time cost no longer fits
        slow = monthly_usd(prepared, 2 * DEFAULT_BLOCK_TIME)
        assert (
            await check(backend, Budget(max_usd_per_month=slow), pricing_block_time=12.196) is None
        )
        assert await check(backend, Budget(max_usd_per_month=slow)) is not None


async def test_off_the_sandbox_the_networks_own_block_time_prices_a_month() -> None:
    async with world() as (_net, backend):
        backend.name = "console"
        prepared = AkashIntegrationProvider(backend).prepare(sdl("web"))
        fast = monthly_usd(prepared, BLOCK)  # 0.05 s blocks: many more blocks in a month
        assert await check(backend, Budget(max_usd_per_month=fast)) is None
        refused = await check(backend, Budget(max_usd_per_month=fast - 1))
        assert refused is not None and refused.details["requested"] == f"{fast:.2f}"


async def test_a_price_in_a_denomination_without_a_dollar_rate_is_refused() -> None:
    async with world() as (_net, backend):
        akash = AkashIntegrationProvider(backend, budget=Budget(max_usd_per_month=Decimal(10**6)))
        prepared = akash.prepare(sdl("web")).model_copy(update={"denom": "ibc/unknown"})
        with pytest.raises(BudgetExceeded) as caught:
            await akash.check_budget(prepared)
        assert caught.value.message == (
            "the SDL may cost up to unknown USD/month, over the budget of 1000000 USD/month"
        )
        assert caught.value.details == {"limit": "1000000", "requested": "unknown"}


async def test_the_default_deposit_is_the_chains_minimum() -> None:
    async with world() as (_net, backend):
        assert await check(backend, Budget(max_deposit=Decimal(500_000))) is None
        refused = await check(backend, Budget(max_deposit=Decimal(499_999)))
        assert refused is not None
        assert refused.message == (
            "the deposit of 500000 uact is over the budget of 499999 uact"
            " (the chain's minimum deposit is 500000 uact)"
        )
        assert refused.details == {"limit": "499999", "requested": "500000"}


async def test_a_given_deposit_is_checked_as_given() -> None:
    async with world() as (_net, backend):
        budget = Budget(max_deposit=Decimal(1000))
        assert await check(backend, budget, deposit=Decimal(1000)) is None
        assert await check(backend, Budget(max_deposit=Decimal(0)), deposit=Decimal(0)) is None
        refused = await check(backend, budget, deposit=Decimal(1001))
        assert refused is not None
        assert refused.message == "the deposit of 1001 uact is over the budget of 1000 uact"
        assert refused.details == {"limit": "1000", "requested": "1001"}


async def test_limits_are_checked_price_first_then_dollars_then_deposit() -> None:
    async with world() as (_net, backend):
        tiny = Decimal("0.000001")
        every = Budget(max_price_per_block=tiny, max_usd_per_month=tiny, max_deposit=Decimal(0))
        refused = await check(backend, every)
        assert refused is not None and "uact/block" in refused.message
        dollars_and_deposit = Budget(max_usd_per_month=tiny, max_deposit=Decimal(0))
        refused = await check(backend, dollars_and_deposit)
        assert refused is not None and "USD/month" in refused.message
