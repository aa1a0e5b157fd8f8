"""Waiting for bids: poll each block until the policy says the best choice is in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import anyio

from minds371.errors import NoBidsError, ProviderError
from minds371_akash._deploy_types import PreparedDeployment
from minds371_akash._provider_base import NETWORK_BLOCK_TIME, ProviderBase
from minds371_akash.bidding import (
    BidPolicy,
    GroupRanking,
    RankedBid,
    admit_bids,
    rank_bids,
    select_bids,
    waiting_is_over,
)
from minds371_akash.diagnose import GroupRequirements, attach, diagnose_no_bids, provider_fits
from minds371_akash.market import Provider

__all__ = ["wait_for_bids"]


async def wait_for_bids(
    akash: ProviderBase,
    dseq: int,
    prepared: PreparedDeployment,
    *,
    gseqs: Sequence[int] | None = None,
    avoid_providers: Iterable[str] = (),
    just_created: bool = False,
) -> tuple[list[GroupRanking], dict[int, RankedBid]]:
    """Poll bids until the policy's best choice is in for every group; choose them.

    ``just_created``: the deployment's create has just returned, so its orders opened in the
    latest block. A provider answers an order with a bid transaction of its own, which lands in
    a later block at the earliest (``provider:bidengine/order.go`` bids on the order-created
    event), so the first poll waits one block instead of asking for bids that cannot exist yet.

    Returns:
        The rankings (with every bid's reason) and the chosen bid per gseq.

    Raises:
        NoBidsError: no acceptable choice within ``bid_timeout``, with a diagnosis.
    """
    wanted = tuple(gseqs or prepared.gseqs)
    avoid = frozenset(avoid_providers)
    providers = await akash._providers()
    groups = [g for g in prepared.groups if g.gseq in wanted]
    audited_only = bool(getattr(akash.backend, "lists_audited_bids_only", False))
    candidates = _candidates(providers.values(), groups, akash.policy, avoid, audited_only)
    block = await akash.backend.block_time() or NETWORK_BLOCK_TIME
    first_bid_at: dict[int, float] = {}
    seen = -1
    start = anyio.current_time()
    rankings: list[GroupRanking] = []
    with akash.waiting():
        if just_created:
            await anyio.sleep(min(block, akash.bid_timeout))
        while True:
            now = anyio.current_time()
            try:
                bids = [b for b in await akash.backend.list_bids(dseq) if b.id.gseq in wanted]
            except ProviderError as exc:
                if not exc.retryable:
                    raise
                bids = None
            if bids is not None:
                bids, ignored = admit_bids(bids)
                for address in {b.provider for b in bids} - providers.keys():
                    try:
                        providers[address] = await akash.backend.get_provider(address)
                    except ProviderError:
                        pass
                rankings = rank_bids(bids, providers, akash.policy)
                for ranking in rankings:
                    if ranking.eligible and ranking.gseq not in first_bid_at:
                        first_bid_at[ranking.gseq] = now
                if len(bids) != seen:
                    seen = len(bids)
                    await akash.emit(
                        "bids.received",
                        f"{seen} bid(s) on deployment {dseq}",
                        dseq=dseq,
                        count=seen,
                        bids=[r.reason for g in rankings for r in g.ranked] + ignored,
                    )
                over = waiting_is_over(
                    rankings,
                    wanted,
                    akash.policy,
                    first_bid_at=first_bid_at,
                    now=now,
                    block_time=block,
                    candidates=candidates,
                )
                if over:
                    chosen = select_bids(rankings, akash.policy, avoid_providers=avoid)
                    if all(g in chosen for g in wanted):
                        await akash.emit(
                            "bids.selected",
                            "chose "
                            + ", ".join(f"gseq {g}: {r.reason}" for g, r in chosen.items()),
                            dseq=dseq,
                            chosen={g: r.bid.provider for g, r in chosen.items()},
                        )
                        return rankings, chosen
            if now - start >= akash.bid_timeout:
                break
            poll = await akash.poll_interval()
            await anyio.sleep(min(poll, max(0.0, akash.bid_timeout - (now - start)) + 0.001))
    chosen = select_bids(rankings, akash.policy, avoid_providers=avoid)
    missing = [g for g in groups if g.gseq not in chosen]
    diagnosis = diagnose_no_bids(
        missing, list(providers.values()), rankings, waited=anyio.current_time() - start
    )
    raise attach(
        NoBidsError(
            f"no acceptable bid for {', '.join(repr(g.name) for g in missing)} of deployment "
            f"{dseq} within {akash.bid_timeout:.0f} s",
            details={"dseq": dseq},
        ),
        diagnosis,
    )


def _candidates(
    providers: Iterable[Provider],
    groups: Sequence[GroupRequirements],
    policy: BidPolicy,
    avoid: frozenset[str],
    audited_only: bool = False,
) -> int | None:
    """How many known providers could bid at all; ``None`` when the backend lists none.

    ``audited_only``: the backend shows only audited providers' bids (Console), so the others
    are no candidates: waiting for them would always run the whole bid window.
    """
    listed = [p for p in providers if p.address not in avoid and (p.audited or not audited_only)]
    if not listed:
        return None
    return sum(1 for p in listed if all(provider_fits(g, p, policy) for g in groups))
