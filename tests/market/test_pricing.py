from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from minds371.errors import ValidationError
from minds371_akash.market import Price
from minds371_akash.pricing import (
    REFERENCE_INSTANCES,
    ResourceNeed,
    blocks_per_month,
    cost_report,
    needs_from_group_specs,
    reference_usd_per_month,
    total_cost,
    usd_per_month,
)

# chain-sdk go/sdl testdata, vendored in the repository.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/sdl/go/output-fixtures/v2.0"


def test_blocks_per_month_matches_console_figures():
    # Console web UI: 30.437 days at 6.098 s -> 431,249 blocks; Console API at 6 s -> 438,292.8.
    assert int(blocks_per_month()) == 431249
    assert blocks_per_month(6.0) == Decimal("438292.8")


def test_ten_uact_per_block_is_about_four_dollars_a_month():
    monthly = usd_per_month(Price(denom="uact", amount=Decimal(10)))
    assert monthly is not None
    assert Decimal("4.31") < monthly < Decimal("4.32")


def test_unknown_denomination_without_rate_has_no_dollar_figure():
    assert usd_per_month(Price(denom="uakt", amount=Decimal(10))) is None
    priced = usd_per_month(Price(denom="uakt", amount=Decimal(10)), token_usd={"uakt": Decimal(2)})
    assert priced is not None and priced > Decimal("8.6")


def test_measured_block_time_changes_the_monthly_cost():
    price = [Price(denom="uact", amount=Decimal(100))]
    slow = cost_report(price, block_time=12.0)
    default = cost_report(price)
    assert slow.usd_per_month is not None and default.usd_per_month is not None
    assert slow.usd_per_month < default.usd_per_month
    assert "measured block time" in slow.sources


def test_reference_picks_cheapest_instance_that_fits():
    need = ResourceNeed(cpu_millis=500, memory_bytes=512 * 1024**2)
    total, used, sources = reference_usd_per_month([need])  # type: ignore[misc]
    assert used == ("1x aws c6i.large",)
    assert total == Decimal("0.085") * Decimal("30.437") * 24
    assert all("aws.amazon.com" in s for s in sources)


def test_reference_for_an_unknown_gpu_model_is_absent_not_partial():
    need = ResourceNeed(cpu_millis=1000, memory_bytes=1024**3, gpu_units=1, gpu_model="h100")
    assert reference_usd_per_month([need]) is None


def test_savings_and_summary():
    need = ResourceNeed(cpu_millis=1000, memory_bytes=1024**3, storage_bytes=10 * 1024**3)
    report = cost_report([Price(denom="uact", amount=Decimal(10))], [need])
    ref, akash = report.reference_usd_per_month, report.usd_per_month
    assert ref is not None and akash is not None and report.savings_pct is not None
    assert report.savings_pct == (ref - akash) / ref * 100
    summary = report.summary()
    assert set(summary) == {"usd_per_month", "reference_usd_per_month", "savings_pct", "sources"}
    json.dumps(summary)


def test_mixed_denominations_are_refused():
    with pytest.raises(ValidationError):
        cost_report(
            [Price(denom="uact", amount=Decimal(1)), Price(denom="uakt", amount=Decimal(1))]
        )


def test_the_total_of_several_replicas_adds_prices_dollars_and_references():
    need = ResourceNeed(cpu_millis=1000, memory_bytes=1024**3, storage_bytes=10 * 1024**3)
    cheap = cost_report([Price(denom="uact", amount=Decimal(10))], [need])
    dear = cost_report([Price(denom="uact", amount=Decimal(60))], [need])
    total = total_cost([cheap, dear])
    assert total.uact_per_block == Decimal(70)
    assert total.usd_per_month == usd_per_month(Price(denom="uact", amount=Decimal(70)))
    assert cheap.reference_usd_per_month is not None
    assert total.reference_usd_per_month == 2 * cheap.reference_usd_per_month  # once per replica
    assert total.savings_pct is not None and total.usd_per_month is not None
    reference = total.reference_usd_per_month
    assert total.savings_pct == (reference - total.usd_per_month) / reference * 100
    assert total.sources == cheap.sources  # the same sources, each once
    assert total_cost([cheap]) is cheap


def test_a_total_with_any_unknown_figure_is_unknown_and_one_denomination_is_required():
    known = cost_report([Price(denom="uact", amount=Decimal(10))])
    unpriced = cost_report([Price(denom="uakt", amount=Decimal(10))])  # no rate for uakt
    assert total_cost([known, known]).usd_per_month is not None
    assert total_cost([unpriced, unpriced]).usd_per_month is None
    assert total_cost([known, known]).reference_usd_per_month is None  # no needs: no reference
    with pytest.raises(ValidationError, match="one denomination"):
        total_cost([known, unpriced])
    with pytest.raises(ValidationError, match="at least one"):
        total_cost([])


def test_every_reference_row_is_sourced_and_dated():
    for row in REFERENCE_INSTANCES:
        assert row.source.startswith("https://") and row.as_of


def test_needs_from_upstream_group_specs():
    specs = json.loads((FIXTURES / "gpu-basic" / "group-specs.json").read_text())
    (need,) = needs_from_group_specs(specs)
    assert need == ResourceNeed(
        cpu_millis=1000,
        memory_bytes=2147483648,
        storage_bytes=10737418240,
        gpu_units=1,
        gpu_model="rtx3080",
        count=1,
    )
