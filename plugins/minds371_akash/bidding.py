"""Bid policies: which bids are acceptable, how they rank, and when to stop waiting for more.

A :class:`BidPolicy` is plain data (it comes from a deployment request). :func:`rank_bids` applies
its filters and ranking to the bids of a deployment and explains every decision in one line;
:func:`select_bids` picks one bid per placement group, from distinct providers when asked;
:func:`waiting_is_over` says whether the best possible choice is already in.

Ranking: the lower the **score** the better. ``score = price x (1 + uptime_weight x (1 - uptime))
x (1 - audit_weight if audited)``: with both weights at zero (the default) it is the plain price.

Waiting: per group, stop once ``enough_bids`` eligible bids are in, or once every provider that
could bid (online, passing the filters) has bid, or ``bid_window_blocks`` blocks after the group's
first eligible bid. A deployment is done when every group is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from minds371_akash._address import akash_address_problem
from minds371_akash.market import Bid, Provider
from minds371_akash.sdl import attribute_value_problem

__all__ = [
    "BidPolicy",
    "GroupRanking",
    "RankedBid",
    "admit_bids",
    "rank_bids",
    "select_bids",
    "waiting_is_over",
]


def _fmt(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros (``10``, ``0.5``)."""
    text = format(value.normalize(), "f")
    return text


class BidPolicy(BaseModel):
    """Filters, ranking weights and the waiting rule for choosing bids.

    Attributes:
        max_price: Highest acceptable price per block (uact), per group.
        audited_only: Accept only providers an auditor has signed.
        allow_providers: If non-empty, only these provider addresses.
        deny_providers: Never these provider addresses.
        required_attributes: Provider attributes that must match exactly (``region: us-west``).
        min_uptime: Lowest acceptable 7-day uptime (0 to 1); providers without data pass.
        gpu_model: Require providers that list this GPU model (``h100``).
        uptime_weight: How much low uptime worsens the score (0 = ignore).
        audit_weight: How much being audited improves the score (0 to 1; 0 = ignore).
        enough_bids: Stop waiting for a group once this many eligible bids are in.
        bid_window_blocks: Blocks to keep waiting for better bids after a group's first
            eligible bid (converted to seconds with the network's block time).
        distinct_providers: Lease different groups from different providers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_price: Decimal | None = Field(default=None, gt=0)
    # Flags and counts are strict: a YAML "yes" is not a flag, `true` is not a count.
    audited_only: bool = Field(default=False, strict=True)
    allow_providers: tuple[str, ...] = ()
    deny_providers: tuple[str, ...] = ()
    required_attributes: Mapping[str, str] = Field(default_factory=dict)
    min_uptime: float | None = Field(default=None, ge=0, le=1)
    gpu_model: str | None = None
    uptime_weight: float = Field(default=0.0, ge=0, le=10)
    audit_weight: float = Field(default=0.0, ge=0, lt=1)
    enough_bids: int = Field(default=3, ge=1, le=100, strict=True)
    bid_window_blocks: float = Field(default=2.0, ge=0, le=600)
    distinct_providers: bool = Field(default=True, strict=True)

    @field_validator("required_attributes")
    @classmethod
    def _attributes(cls, value: Mapping[str, str]) -> Mapping[str, str]:
        # A value with control characters or shell syntax matches no provider: no bid would
        # ever be eligible while the deposit waits.
        for key, item in value.items():
            problem = attribute_value_problem(item)
            if problem is not None:
                raise ValueError(f"attribute {key!r} {problem}")
        return value


class RankedBid(BaseModel):
    """A bid with the policy's verdict on it.

    Attributes:
        bid: The bid.
        eligible: Whether it passed every filter.
        score: Lower is better (see module docs); ``None`` when not eligible.
        reason: One line explaining the verdict.
    """

    model_config = ConfigDict(frozen=True)

    bid: Bid
    eligible: bool
    score: Decimal | None
    reason: str


class GroupRanking(BaseModel):
    """The bids of one placement group (one order), best first, ineligible ones after."""

    model_config = ConfigDict(frozen=True)

    gseq: int
    oseq: int
    ranked: tuple[RankedBid, ...]

    @property
    def eligible(self) -> tuple[RankedBid, ...]:
        """Eligible bids, best first."""
        return tuple(r for r in self.ranked if r.eligible)

    @property
    def best(self) -> RankedBid | None:
        """The best eligible bid, if any."""
        return next(iter(self.eligible), None)


def _short(address: str) -> str:
    return address if len(address) <= 16 else f"{address[:10]}…{address[-4:]}"


def _rejections(bid: Bid, provider: Provider | None, policy: BidPolicy) -> list[str]:
    why: list[str] = []
    if policy.max_price is not None and bid.price.amount > policy.max_price:
        why.append(f"price {_fmt(bid.price.amount)} > max {_fmt(policy.max_price)}")
    if policy.allow_providers and bid.provider not in policy.allow_providers:
        why.append("not in the allow list")
    if bid.provider in policy.deny_providers:
        why.append("in the deny list")
    if provider is None:
        if policy.audited_only or policy.required_attributes or policy.gpu_model:
            why.append("provider unknown to the marketplace")
        return why
    if not provider.online:
        why.append("provider offline")
    if policy.audited_only and not provider.audited:
        why.append("not audited")
    for key, value in policy.required_attributes.items():
        if provider.attributes.get(key) != value:
            why.append(f"{key}={provider.attributes.get(key, '∅')} (want {value})")
    uptime = provider.uptime_7d
    if policy.min_uptime is not None and uptime is not None and uptime < policy.min_uptime:
        why.append(f"uptime {uptime:.1%} < {policy.min_uptime:.1%}")
    if policy.gpu_model and not any(
        m.split("/")[-1] == policy.gpu_model.lower() for m in provider.gpu_models
    ):
        why.append(f"no GPU model {policy.gpu_model}")
    return why


def _score(bid: Bid, provider: Provider | None, policy: BidPolicy) -> Decimal:
    score = bid.price.amount
    if provider is not None:
        uptime = provider.uptime_7d if provider.uptime_7d is not None else 1.0
        score *= Decimal(str(1 + policy.uptime_weight * (1 - uptime)))
        if provider.audited:
            score *= Decimal(str(1 - policy.audit_weight))
    return score


def _describe(bid: Bid, provider: Provider | None) -> str:
    parts = [f"{_short(bid.provider)}: {_fmt(bid.price.amount)} {bid.price.denom}/block"]
    if provider is not None:
        parts.append("audited" if provider.audited else "not audited")
        if provider.uptime_7d is not None:
            parts.append(f"uptime {provider.uptime_7d:.1%}")
        if provider.region:
            parts.append(f"region {provider.region}")
    return ", ".join(parts)


def admit_bids(bids: Iterable[Bid]) -> tuple[list[Bid], list[str]]:
    """Provider data checked on arrival: the bids whose provider is an ``akash1…`` account.

    A bid carries its provider's address as the provider sent it; one that is not a valid
    bech32 account address (checksum included) is not a provider the chain could lease from.
    Such a bid is never looked up, ranked, leased or recorded.

    Returns:
        ``(admitted bids, one reason per ignored bid)``.
    """
    admitted: list[Bid] = []
    ignored: list[str] = []
    for bid in bids:
        problem = akash_address_problem(bid.provider)
        if problem is None:
            admitted.append(bid)
        else:
            ignored.append(
                f"{bid.provider[:24]!r} (group {bid.id.gseq}): bid ignored, provider address "
                f"{problem}"
            )
    return admitted, ignored


def rank_bids(
    bids: Iterable[Bid],
    providers: Mapping[str, Provider],
    policy: BidPolicy,
    *,
    include_all: bool = False,
) -> list[GroupRanking]:
    """Filter and rank open bids per order (``gseq``/``oseq``), explaining each verdict.

    Args:
        bids: Bids of one deployment (non-open ones are ignored).
        providers: What the marketplace says about each bidding provider, by address.
        policy: The filters and weights.
        include_all: Also list bids that are no longer open (leased, lost, closed), as
            ineligible, for display.
    """
    groups: dict[tuple[int, int], list[RankedBid]] = {}
    for bid in bids:
        provider = providers.get(bid.provider)
        if bid.state != "open":
            if include_all:
                reason = f"{_describe(bid, provider)}: {bid.state}"
                ranked = RankedBid(bid=bid, eligible=False, score=None, reason=reason)
                groups.setdefault(bid.id.group, []).append(ranked)
            continue
        why = _rejections(bid, provider, policy)
        if why:
            ranked = RankedBid(
                bid=bid,
                eligible=False,
                score=None,
                reason=f"{_describe(bid, provider)}: rejected ({'; '.join(why)})",
            )
        else:
            score = _score(bid, provider, policy)
            ranked = RankedBid(bid=bid, eligible=True, score=score, reason=_describe(bid, provider))
        groups.setdefault(bid.id.group, []).append(ranked)
    result: list[GroupRanking] = []
    for (gseq, oseq), items in sorted(groups.items()):
        eligible = sorted(
            (r for r in items if r.eligible),
            key=lambda r: (r.score, r.bid.created_at, r.bid.provider),
        )
        rejected = [r for r in items if not r.eligible]
        total = len(eligible)
        numbered = [
            r.model_copy(update={"reason": f"#{i} of {total}: {r.reason} (score {_fmt(r.score)})"})
            for i, r in enumerate(eligible, 1)
            if r.score is not None
        ]
        result.append(GroupRanking(gseq=gseq, oseq=oseq, ranked=(*numbered, *rejected)))
    return result


def select_bids(
    rankings: Sequence[GroupRanking],
    policy: BidPolicy,
    *,
    avoid_providers: Iterable[str] = (),
) -> dict[int, RankedBid]:
    """Choose one bid per group (by ``gseq``), from distinct providers if the policy says so.

    Groups with the fewest eligible bids choose first, so that a provider that is the only
    option of one group is not taken by another group that had alternatives. A group that cannot
    be served is absent from the result.

    Args:
        rankings: Output of :func:`rank_bids`.
        policy: Its ``distinct_providers`` decides whether providers may repeat.
        avoid_providers: Providers that must not be chosen (e.g. those already serving other
            groups when one group is re-leased).
    """
    taken = set(avoid_providers) if policy.distinct_providers else set()
    chosen: dict[int, RankedBid] = {}
    for ranking in sorted(rankings, key=lambda g: (len(g.eligible), g.gseq)):
        if ranking.gseq in chosen:
            continue
        for candidate in ranking.eligible:
            if candidate.bid.provider in taken:
                continue
            chosen[ranking.gseq] = candidate
            if policy.distinct_providers:
                taken.add(candidate.bid.provider)
            break
    return dict(sorted(chosen.items()))


def waiting_is_over(
    rankings: Sequence[GroupRanking],
    gseqs: Iterable[int],
    policy: BidPolicy,
    *,
    first_bid_at: Mapping[int, float],
    now: float,
    block_time: float,
    candidates: int | None = None,
) -> bool:
    """Whether the best choice available for every group is already in.

    Args:
        rankings: Current rankings.
        gseqs: The groups that need a lease.
        policy: Its ``enough_bids`` and ``bid_window_blocks``.
        first_bid_at: When (monotonic seconds) each group first had an eligible bid.
        now: The current monotonic time.
        block_time: Seconds per block.
        candidates: How many providers could bid at all (online and passing the filters), when
            known: once that many have bid on a group, no better bid can come.
    """
    by_group = {r.gseq: r for r in rankings}
    for gseq in gseqs:
        ranking = by_group.get(gseq)
        count = len(ranking.eligible) if ranking else 0
        if count == 0:
            return False
        if count >= policy.enough_bids or (candidates is not None and count >= candidates):
            continue
        started = first_bid_at.get(gseq)
        if started is None or now - started < policy.bid_window_blocks * block_time:
            return False
    return True
