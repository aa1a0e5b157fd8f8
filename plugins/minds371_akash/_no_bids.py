"""Why no acceptable bid came: placement requirements against what providers offer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from minds371_akash._diagnosis import Diagnosis
from minds371_akash.bidding import BidPolicy, GroupRanking
from minds371_akash.market import Provider

__all__ = [
    "GroupRequirements",
    "diagnose_no_bids",
    "provider_fits",
    "requirements_from_group_specs",
]


def _fmt(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``10``, ``0.5``)."""
    text = format(value.normalize(), "f")
    return text


class GroupRequirements(BaseModel):
    """What one placement group asks of providers (from its GroupSpec)."""

    model_config = ConfigDict(frozen=True)

    name: str
    gseq: int
    attributes: Mapping[str, str] = {}
    signed_by: tuple[str, ...] = ()
    max_price: Decimal = Decimal(0)
    denom: str = "uact"
    gpu_models: tuple[str, ...] = ()


def requirements_from_group_specs(
    group_specs: Sequence[Mapping[str, Any]],
) -> list[GroupRequirements]:
    """Read placement requirements and prices from GroupSpecs (Go JSON), ``gseq`` = 1-based."""
    found: list[GroupRequirements] = []
    for gseq, spec in enumerate(group_specs, 1):
        req = spec.get("requirements") or {}
        signed = req.get("signed_by") or {}
        price = Decimal(0)
        denom = "uact"
        models: list[str] = []
        for item in spec.get("resources") or []:
            p = item.get("price") or {}
            # An order's price is the sum of each resource unit's price times its count.
            price += Decimal(str(p.get("amount") or 0)) * int(item.get("count") or 1)
            denom = str(p.get("denom") or denom)
            for attr in (item.get("resource") or {}).get("gpu", {}).get("attributes") or []:
                parts = str(attr.get("key", "")).split("/")
                if "model" in parts and parts.index("model") + 1 < len(parts):
                    models.append(parts[parts.index("model") + 1])
        found.append(
            GroupRequirements(
                name=str(spec.get("name", "")),
                gseq=gseq,
                attributes={str(a["key"]): str(a["value"]) for a in req.get("attributes") or []},
                signed_by=tuple((signed.get("all_of") or []) + (signed.get("any_of") or [])),
                max_price=price,
                denom=denom,
                gpu_models=tuple(models),
            )
        )
    return found


def _misfits(group: GroupRequirements, provider: Provider) -> list[str]:
    why: list[str] = []
    if not provider.online:
        why.append("offline")
    for key, value in group.attributes.items():
        if provider.attributes.get(key) != value:
            why.append(f"{key}={provider.attributes.get(key, '∅')} (wants {value})")
    if group.signed_by and not provider.audited:
        why.append("not audited (signedBy)")
    if group.gpu_models and not any(
        m.split("/")[-1] in group.gpu_models for m in provider.gpu_models
    ):
        why.append(f"no GPU {'/'.join(group.gpu_models)}")
    return why


def provider_fits(
    group: GroupRequirements, provider: Provider, policy: BidPolicy | None = None
) -> bool:
    """Whether ``provider`` could serve ``group`` at all (attributes, audit, GPU, policy)."""
    if _misfits(group, provider):
        return False
    if policy is None:
        return True
    if policy.audited_only and not provider.audited:
        return False
    if policy.allow_providers and provider.address not in policy.allow_providers:
        return False
    if provider.address in policy.deny_providers:
        return False
    if any(provider.attributes.get(k) != v for k, v in policy.required_attributes.items()):
        return False
    uptime = provider.uptime_7d
    return policy.min_uptime is None or uptime is None or uptime >= policy.min_uptime


def diagnose_no_bids(
    groups: Sequence[GroupRequirements],
    providers: Sequence[Provider],
    rankings: Sequence[GroupRanking] = (),
    *,
    waited: float = 0.0,
) -> Diagnosis:
    """Explain why groups got no acceptable bid, from what the marketplace shows.

    Args:
        groups: The groups still without an acceptable bid.
        providers: Every provider the backend can see.
        rankings: Bids that did arrive (and why the policy rejected them).
        waited: Seconds spent waiting.
    """
    evidence: list[str] = [f"waited {waited:.1f} s for bids"]
    actions: list[str] = []
    by_group = {r.gseq: r for r in rankings}
    for group in groups:
        rejected = list(by_group[group.gseq].ranked) if group.gseq in by_group else []
        fits = [p for p in providers if not _misfits(group, p)]
        evidence.append(
            f"group {group.name!r} (gseq {group.gseq}): offers up to "
            f"{_fmt(group.max_price)} {group.denom}/block; {len(fits)} of "
            f"{len(providers)} providers match its attributes, audit and GPU requirements"
        )
        if rejected:
            evidence.extend(f"  bid {r.reason}" for r in rejected[:5])
            actions.append(
                "Bids arrived but your bid policy rejected them: relax max_price, audited_only, "
                "the allow/deny lists or min_uptime (see the reasons above)."
            )
        elif not fits:
            misfit_counts: dict[str, int] = {}
            for provider in providers:
                for why in _misfits(group, provider):
                    misfit_counts[why] = misfit_counts.get(why, 0) + 1
            common = sorted(misfit_counts.items(), key=lambda kv: -kv[1])[:4]
            evidence.extend(f"  {count} providers: {why}" for why, count in common)
            actions.append(
                f"No provider can serve group {group.name!r}: loosen its placement attributes "
                "(region, host, tier), signedBy, or GPU model."
            )
        else:
            actions.append(
                f"Providers match group {group.name!r} but none bid: its price "
                f"({_fmt(group.max_price)} {group.denom}/block) is most likely below their "
                "asking price, or they lack free capacity. Raise placement pricing in the SDL, "
                "or request fewer resources."
            )
    actions.append("The deployment was closed so its escrow deposit is refunded.")
    return Diagnosis(
        kind="no_bids",
        summary="No acceptable bid arrived for " + ", ".join(repr(g.name) for g in groups),
        evidence=tuple(evidence),
        actions=tuple(dict.fromkeys(actions)),
    )
