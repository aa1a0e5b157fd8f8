from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError as PydanticValidationError

from minds371_akash.bidding import BidPolicy, rank_bids, select_bids, waiting_is_over
from minds371_akash.market import Bid, LeaseId, Price, Provider


def bid(provider: str, price: int, gseq: int = 1, state: str = "open") -> Bid:
    return Bid(
        id=LeaseId(owner="akash1owner", dseq=5, gseq=gseq, oseq=1, provider=provider),
        state=state,
        price=Price(denom="uact", amount=Decimal(price)),
    )


PROVIDERS = {
    "akash1cheap": Provider(
        address="akash1cheap", audited=False, uptime_7d=0.80, attributes={"region": "eu"}
    ),
    "akash1mid": Provider(
        address="akash1mid", audited=True, uptime_7d=0.999, attributes={"region": "us-west"}
    ),
    "akash1dear": Provider(
        address="akash1dear", audited=True, uptime_7d=0.99, attributes={"region": "us-west"}
    ),
}


def test_lowest_price_first_with_reasons():
    (group,) = rank_bids(
        [bid("akash1dear", 30), bid("akash1cheap", 10), bid("akash1mid", 20)],
        PROVIDERS,
        BidPolicy(),
    )
    assert [r.bid.provider for r in group.eligible] == ["akash1cheap", "akash1mid", "akash1dear"]
    assert group.eligible[0].reason.startswith("#1 of 3: akash1cheap: 10 uact/block")


def test_filters_explain_rejections():
    policy = BidPolicy(
        max_price=Decimal(25), audited_only=True, required_attributes={"region": "us-west"}
    )
    (group,) = rank_bids(
        [bid("akash1dear", 30), bid("akash1cheap", 10), bid("akash1mid", 20)], PROVIDERS, policy
    )
    assert [r.bid.provider for r in group.eligible] == ["akash1mid"]
    rejected = {r.bid.provider: r.reason for r in group.ranked if not r.eligible}
    assert "price 30 > max 25" in rejected["akash1dear"]
    assert "not audited" in rejected["akash1cheap"] and "region=eu" in rejected["akash1cheap"]


def test_uptime_weight_can_outrank_a_lower_price():
    policy = BidPolicy(uptime_weight=5.0)
    (group,) = rank_bids([bid("akash1cheap", 10), bid("akash1mid", 11)], PROVIDERS, policy)
    # cheap: 10 * (1 + 5 * 0.2) = 20 ; mid: 11 * (1 + 5 * 0.001) = 11.055
    assert group.best is not None and group.best.bid.provider == "akash1mid"


def test_closed_bids_and_deny_list_are_ignored():
    policy = BidPolicy(deny_providers=("akash1cheap",))
    (group,) = rank_bids(
        [bid("akash1cheap", 1), bid("akash1mid", 20), bid("akash1dear", 2, state="closed")],
        PROVIDERS,
        policy,
    )
    assert group.best is not None and group.best.bid.provider == "akash1mid"
    assert len(group.ranked) == 2


def test_distinct_providers_across_groups():
    bids = [bid("akash1cheap", 10, 1), bid("akash1mid", 20, 1), bid("akash1cheap", 10, 2)]
    chosen = select_bids(rank_bids(bids, PROVIDERS, BidPolicy()), BidPolicy())
    # group 2 has only one option, so it gets akash1cheap and group 1 falls back to akash1mid.
    assert {g: r.bid.provider for g, r in chosen.items()} == {1: "akash1mid", 2: "akash1cheap"}


def test_same_provider_allowed_when_policy_says_so():
    policy = BidPolicy(distinct_providers=False)
    bids = [bid("akash1cheap", 10, 1), bid("akash1mid", 20, 1), bid("akash1cheap", 10, 2)]
    chosen = select_bids(rank_bids(bids, PROVIDERS, policy), policy)
    assert {g: r.bid.provider for g, r in chosen.items()} == {1: "akash1cheap", 2: "akash1cheap"}


def test_avoid_providers_for_a_relaunch():
    bids = [bid("akash1cheap", 10, 2), bid("akash1mid", 20, 2)]
    chosen = select_bids(
        rank_bids(bids, PROVIDERS, BidPolicy()), BidPolicy(), avoid_providers=["akash1cheap"]
    )
    assert chosen[2].bid.provider == "akash1mid"


def test_waiting_rule():
    policy = BidPolicy(enough_bids=2, bid_window_blocks=5)
    one = rank_bids([bid("akash1mid", 20)], PROVIDERS, policy)
    assert not waiting_is_over(one, [1], policy, first_bid_at={1: 100.0}, now=101.0, block_time=1.0)
    assert waiting_is_over(one, [1], policy, first_bid_at={1: 100.0}, now=105.0, block_time=1.0)
    assert waiting_is_over(
        one, [1], policy, first_bid_at={1: 100.0}, now=101.0, block_time=1.0, candidates=1
    )
    two = rank_bids([bid("akash1mid", 20), bid("akash1dear", 30)], PROVIDERS, policy)
    assert waiting_is_over(two, [1], policy, first_bid_at={1: 100.0}, now=100.0, block_time=1.0)
    assert not waiting_is_over(
        two, [1, 2], policy, first_bid_at={1: 100.0}, now=200.0, block_time=1.0
    )
    assert not waiting_is_over([], [1], policy, first_bid_at={}, now=1e9, block_time=1.0)


def test_policy_refuses_bad_values():
    with pytest.raises(PydanticValidationError):
        BidPolicy(max_price=Decimal(-1))
    with pytest.raises(PydanticValidationError):
        BidPolicy.model_validate({"audited": True})
