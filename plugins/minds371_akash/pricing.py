"""What a lease costs, in dollars, and what the same resources would cost on a public cloud.

Akash prices are micro-denominations per block. To get dollars we need the block time and the
token's price:

* block time: the network's measured one when the backend offers it, else 6.098 s, the figure the
  Akash Console web UI uses (``console:apps/deploy-web/src/utils/priceUtils.ts``);
* a month is 30.437 days (``console:apps/api/src/utils/constants.ts``), so 431,249 blocks at
  6.098 s;
* ``uact``: 1 ACT = 1,000,000 uact ≈ 1 USD (chain v2 BME; Console treats ACT 1:1 USD). ``uakt``
  needs an AKT price, which the caller must give (there is no offline source for it).

The reference cloud price comes from :data:`REFERENCE_INSTANCES`, a small table of on-demand
list prices, each with its source and date; the cheapest instance that covers one replica's
vCPU and memory (and GPU) is chosen per replica, plus block storage per GiB. Prices drift: the
table says when each figure was taken, and reports carry those sources.

Public API::

    cost = cost_report([lease.price for lease in leases], needs_from_group_specs(specs),
                       block_time=await backend.block_time())
    cost.usd_per_month, cost.reference_usd_per_month, cost.savings_pct, cost.sources
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from minds371.errors import FieldIssue, ValidationError
from minds371_akash.market import Price

__all__ = [
    "DAYS_PER_MONTH",
    "DEFAULT_BLOCK_TIME",
    "REFERENCE_INSTANCES",
    "REFERENCE_STORAGE",
    "CostReport",
    "ReferenceInstance",
    "ResourceNeed",
    "blocks_per_month",
    "cost_report",
    "needs_from_group_specs",
    "reference_usd_per_month",
    "total_cost",
    "usd_per_block",
    "usd_per_hour",
    "usd_per_month",
]

#: Seconds per block used by the Akash Console web UI (``deploy-web/src/utils/priceUtils.ts``).
DEFAULT_BLOCK_TIME = 6.098
#: Average days per month used by the Console API (``api/src/utils/constants.ts``).
DAYS_PER_MONTH = Decimal("30.437")
_HOURS_PER_MONTH = DAYS_PER_MONTH * 24
_GIB = 1024**3
_MICRO = Decimal(1_000_000)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReferenceInstance(_Frozen):
    """One on-demand cloud instance type with its list price and where the price comes from."""

    name: str
    vcpu: int
    memory_gib: int
    usd_per_hour: Decimal
    gpu_units: int = 0
    gpu_model: str = ""
    source: str
    as_of: str


_AWS_EC2 = "https://aws.amazon.com/ec2/pricing/on-demand/ (us-east-1, Linux, on-demand list price)"
_AWS_AS_OF = "2025 list price"


def _aws(
    name: str, vcpu: int, mem: int, usd: str, gpus: int = 0, model: str = "", as_of: str = ""
) -> ReferenceInstance:
    return ReferenceInstance(
        name=f"aws {name}",
        vcpu=vcpu,
        memory_gib=mem,
        usd_per_hour=Decimal(usd),
        gpu_units=gpus,
        gpu_model=model,
        source=_AWS_EC2,
        as_of=as_of or _AWS_AS_OF,
    )


#: Non-burstable AWS EC2 instances (6th-generation Intel families; prices scale linearly with
#: size within a family). g5.xlarge is 1x NVIDIA A10G; its price is also quoted at $1.006/h for
#: us-east-1 in June 2026 by https://www.factualminds.com/blog/amazon-ec2-on-demand-pricing-instance-families-2026/
REFERENCE_INSTANCES: tuple[ReferenceInstance, ...] = (
    _aws("c6i.large", 2, 4, "0.085"),
    _aws("c6i.xlarge", 4, 8, "0.17"),
    _aws("c6i.2xlarge", 8, 16, "0.34"),
    _aws("c6i.4xlarge", 16, 32, "0.68"),
    _aws("m6i.large", 2, 8, "0.096"),
    _aws("m6i.xlarge", 4, 16, "0.192"),
    _aws("m6i.2xlarge", 8, 32, "0.384"),
    _aws("m6i.4xlarge", 16, 64, "0.768"),
    _aws("r6i.large", 2, 16, "0.126"),
    _aws("r6i.xlarge", 4, 32, "0.252"),
    _aws("r6i.2xlarge", 8, 64, "0.504"),
    _aws("g5.xlarge", 4, 16, "1.006", gpus=1, model="a10g", as_of="2026-06"),
)

#: Block storage: AWS EBS gp3, USD per GiB-month, us-east-1 (https://aws.amazon.com/ebs/pricing/).
REFERENCE_STORAGE = ReferenceInstance(
    name="aws ebs gp3 (per GiB-month)",
    vcpu=0,
    memory_gib=0,
    usd_per_hour=Decimal("0.08") / _HOURS_PER_MONTH,
    source="https://aws.amazon.com/ebs/pricing/ (us-east-1, gp3 $0.08 per GB-month)",
    as_of=_AWS_AS_OF,
)


class ResourceNeed(_Frozen):
    """What one resource unit of a placement group asks for, per replica, and how many replicas."""

    cpu_millis: int
    memory_bytes: int
    storage_bytes: int = 0
    gpu_units: int = 0
    gpu_model: str = ""
    count: int = 1


class CostReport(_Frozen):
    """The cost of a set of leases and what the same resources cost on a public cloud.

    Attributes:
        uact_per_block: Sum of the lease prices per block (in their denomination).
        denom: The denomination of the prices.
        block_time: Seconds per block used.
        usd_per_hour: Dollars per hour (``None`` when the token's price is unknown).
        usd_per_month: Dollars per month (30.437 days).
        reference_usd_per_month: The cloud reference for the same resources, if one fits.
        savings_pct: ``(reference - akash) / reference * 100``, if both are known.
        reference: Names of the reference items used.
        sources: Where the figures come from.
    """

    uact_per_block: Decimal
    denom: str
    block_time: float
    usd_per_hour: Decimal | None
    usd_per_month: Decimal | None
    reference_usd_per_month: Decimal | None
    savings_pct: Decimal | None
    reference: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """The ``cost`` object of the deploy result (floats rounded for people)."""
        return {
            "usd_per_month": _round(self.usd_per_month),
            "reference_usd_per_month": _round(self.reference_usd_per_month),
            "savings_pct": _round(self.savings_pct, "0.1"),
            "sources": list(self.sources),
        }


def _round(value: Decimal | None, quantum: str = "0.01") -> float | None:
    return None if value is None else float(value.quantize(Decimal(quantum), ROUND_HALF_UP))


def total_cost(reports: Sequence[CostReport]) -> CostReport:
    """What several deployments cost together (a redundant service's replicas, one each).

    Prices, dollars and the cloud reference add up (each replica runs the whole workload, so
    the reference counts it once per replica); a figure unknown for any of them is unknown for
    the total, and the savings follow from the totals.

    Raises:
        ValidationError: no reports, or reports in more than one denomination.
    """
    if not reports:
        raise ValidationError([FieldIssue("/reports", "at least one cost report expected")])
    denoms = {report.denom for report in reports}
    if len(denoms) > 1:
        raise ValidationError(
            [FieldIssue("/reports", f"one denomination expected, got {sorted(denoms)}")],
            subject="cost report",
        )
    if len(reports) == 1:
        return reports[0]
    monthly = _sum_known([report.usd_per_month for report in reports])
    reference = _sum_known([report.reference_usd_per_month for report in reports])
    savings = None
    if monthly is not None and reference:
        savings = (reference - monthly) / reference * 100
    return CostReport(
        uact_per_block=sum((report.uact_per_block for report in reports), Decimal(0)),
        denom=reports[0].denom,
        block_time=reports[0].block_time,
        usd_per_hour=_sum_known([report.usd_per_hour for report in reports]),
        usd_per_month=monthly,
        reference_usd_per_month=reference,
        savings_pct=savings,
        reference=tuple(dict.fromkeys(n for report in reports for n in report.reference)),
        sources=tuple(dict.fromkeys(s for report in reports for s in report.sources)),
    )


def _sum_known(values: Sequence[Decimal | None]) -> Decimal | None:
    known = [value for value in values if value is not None]
    return sum(known, Decimal(0)) if len(known) == len(values) else None


def blocks_per_month(block_time: float | None = None) -> Decimal:
    """Blocks in an average month (30.437 days) at ``block_time`` seconds per block."""
    seconds = Decimal(str(block_time or DEFAULT_BLOCK_TIME))
    return DAYS_PER_MONTH * 86400 / seconds


def usd_per_block(
    price: Price, *, token_usd: Mapping[str, Decimal] | None = None
) -> Decimal | None:
    """Dollars per block for ``price``; ``None`` when the denomination's USD price is unknown."""
    rates = {"uact": Decimal(1), **(token_usd or {})}
    rate = rates.get(price.denom)
    if rate is None:
        return None
    return price.amount / _MICRO * rate


def usd_per_month(
    price: Price, *, block_time: float | None = None, token_usd: Mapping[str, Decimal] | None = None
) -> Decimal | None:
    """Dollars per month for a per-block ``price``."""
    per_block = usd_per_block(price, token_usd=token_usd)
    return None if per_block is None else per_block * blocks_per_month(block_time)


def usd_per_hour(
    price: Price, *, block_time: float | None = None, token_usd: Mapping[str, Decimal] | None = None
) -> Decimal | None:
    """Dollars per hour for a per-block ``price``."""
    monthly = usd_per_month(price, block_time=block_time, token_usd=token_usd)
    return None if monthly is None else monthly / _HOURS_PER_MONTH


def _cheapest_fit(need: ResourceNeed) -> ReferenceInstance | None:
    vcpu = Decimal(need.cpu_millis) / 1000
    mem_gib = Decimal(need.memory_bytes) / _GIB
    fits = [
        inst
        for inst in REFERENCE_INSTANCES
        if inst.vcpu >= vcpu
        and inst.memory_gib >= mem_gib
        and inst.gpu_units >= need.gpu_units
        and (need.gpu_units == 0 or not need.gpu_model or inst.gpu_model == need.gpu_model)
        and (need.gpu_units > 0 or inst.gpu_units == 0)
    ]
    return min(fits, key=lambda inst: inst.usd_per_hour, default=None)


def reference_usd_per_month(
    needs: Sequence[ResourceNeed],
) -> tuple[Decimal, tuple[str, ...], tuple[str, ...]] | None:
    """The reference monthly price for ``needs``, the items used and their sources.

    ``None`` when some need has no fitting reference (e.g. a GPU model absent from the table):
    a partial figure would understate the reference and overstate the savings.
    """
    total = Decimal(0)
    used: list[str] = []
    sources: set[str] = set()
    for need in needs:
        inst = _cheapest_fit(need)
        if inst is None:
            return None
        total += inst.usd_per_hour * _HOURS_PER_MONTH * need.count
        used.append(f"{need.count}x {inst.name}")
        sources.add(f"{inst.source}, as of {inst.as_of}")
        if need.storage_bytes:
            gib = Decimal(need.storage_bytes) / _GIB
            total += REFERENCE_STORAGE.usd_per_hour * _HOURS_PER_MONTH * gib * need.count
            used.append(
                f"{need.count}x {gib.quantize(Decimal('0.1'))} GiB {REFERENCE_STORAGE.name}"
            )
            sources.add(f"{REFERENCE_STORAGE.source}, as of {REFERENCE_STORAGE.as_of}")
    return total, tuple(used), tuple(sorted(sources))


def cost_report(
    prices: Sequence[Price],
    needs: Sequence[ResourceNeed] = (),
    *,
    block_time: float | None = None,
    token_usd: Mapping[str, Decimal] | None = None,
) -> CostReport:
    """Cost of leases at ``prices`` (per block), compared with the cloud reference for ``needs``.

    Raises:
        ValidationError: prices in more than one denomination (a deployment has one).
    """
    denoms = {p.denom for p in prices}
    if len(denoms) > 1:
        raise ValidationError(
            [FieldIssue("/prices", f"one denomination expected, got {sorted(denoms)}")],
            subject="cost report",
        )
    denom = denoms.pop() if denoms else "uact"
    total = Price(denom=denom, amount=sum((p.amount for p in prices), Decimal(0)))
    monthly = usd_per_month(total, block_time=block_time, token_usd=token_usd)
    hourly = None if monthly is None else monthly / _HOURS_PER_MONTH
    reference = reference_usd_per_month(needs) if needs else None
    ref_total, used, ref_sources = reference if reference else (None, (), ())
    savings = None
    if monthly is not None and ref_total:
        savings = (ref_total - monthly) / ref_total * 100
    block_source = (
        "measured block time" if block_time else f"{DEFAULT_BLOCK_TIME} s/block (Akash Console)"
    )
    return CostReport(
        uact_per_block=total.amount,
        denom=denom,
        block_time=block_time or DEFAULT_BLOCK_TIME,
        usd_per_hour=hourly,
        usd_per_month=monthly,
        reference_usd_per_month=ref_total,
        savings_pct=savings,
        reference=used,
        sources=(block_source, "1 ACT = 1,000,000 uact ~ 1 USD", *ref_sources),
    )


def _val(obj: Mapping[str, Any] | None, *keys: str) -> int:
    for key in keys:
        inner = (obj or {}).get(key)
        if isinstance(inner, Mapping) and "val" in inner:
            return int(str(inner["val"]))
    return 0


def needs_from_group_specs(group_specs: Sequence[Mapping[str, Any]]) -> list[ResourceNeed]:
    """Resource needs from GroupSpecs in Go JSON (``resources[].resource`` with ``val`` strings)."""
    needs: list[ResourceNeed] = []
    for spec in group_specs:
        for item in spec.get("resources") or []:
            res = item.get("resource") or {}
            gpu = res.get("gpu") or {}
            model = ""
            for attr in gpu.get("attributes") or []:
                parts = str(attr.get("key", "")).split("/")
                if "model" in parts and parts.index("model") + 1 < len(parts):
                    model = parts[parts.index("model") + 1]
            needs.append(
                ResourceNeed(
                    cpu_millis=_val(res.get("cpu"), "units"),
                    memory_bytes=_val(res.get("memory"), "size", "quantity"),
                    storage_bytes=sum(
                        _val(s, "size", "quantity") for s in res.get("storage") or []
                    ),
                    gpu_units=_val(gpu, "units"),
                    gpu_model=model,
                    count=int(item.get("count") or 1),
                )
            )
    return needs
