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


# -- each documented option, at its boundary -------------------------------------------------------


def provider(address: str, *, audited: bool = False, uptime: float | None = None) -> Provider:
    return Provider(address=address, audited=audited, uptime_7d=uptime)


def verdicts(bids: list[Bid], providers: dict[str, Provider], policy: BidPolicy) -> dict[str, bool]:
    (group,) = rank_bids(bids, providers, policy)
    return {r.bid.provider: r.eligible for r in group.ranked}


def test_max_price_accepts_a_bid_at_the_cap_and_refuses_one_above():
    policy = BidPolicy(max_price=Decimal(20))
    assert verdicts([bid("akash1at", 20), bid("akash1over", 21)], {}, policy) == {
        "akash1at": True,
        "akash1over": False,
    }
    fractional = BidPolicy(max_price=Decimal("20.5"))
    cents = [
        Bid(
            id=LeaseId(owner="akash1owner", dseq=5, gseq=1, oseq=1, provider=name),
            state="open",
            price=Price(denom="uact", amount=Decimal(amount)),
        )
        for name, amount in (("akash1at", "20.5"), ("akash1over", "20.500001"))
    ]
    assert verdicts(cents, {}, fractional) == {"akash1at": True, "akash1over": False}


def test_min_uptime_keeps_providers_at_or_above_it_and_those_without_data():
    providers = {
        "akash1above": provider("akash1above", uptime=0.99),
        "akash1at": provider("akash1at", uptime=0.95),
        "akash1below": provider("akash1below", uptime=0.94),
        "akash1unknown": provider("akash1unknown"),
    }
    bids = [bid(name, 10) for name in providers]
    assert verdicts(bids, providers, BidPolicy(min_uptime=0.95)) == {
        "akash1above": True,
        "akash1at": True,
        "akash1below": False,
        "akash1unknown": True,
    }
    (group,) = rank_bids(bids, providers, BidPolicy(min_uptime=0.95))
    (below,) = [r for r in group.ranked if r.bid.provider == "akash1below"]
    assert "uptime 94.0% < 95.0%" in below.reason
    # without the option, low uptime is no reason to refuse
    assert all(verdicts(bids, providers, BidPolicy()).values())


def test_audit_weight_lowers_the_score_of_audited_providers_only():
    providers = {
        "akash1audited": provider("akash1audited", audited=True),
        "akash1plain": provider("akash1plain"),
    }
    bids = [bid("akash1plain", 10), bid("akash1audited", 12)]
    (plain,) = rank_bids(bids, providers, BidPolicy())
    assert [(r.bid.provider, r.score) for r in plain.eligible] == [
        ("akash1plain", Decimal(10)),
        ("akash1audited", Decimal(12)),
    ]
    (weighted,) = rank_bids(bids, providers, BidPolicy(audit_weight=0.25))
    # audited: 12 * (1 - 0.25) = 9 beats the unaudited 10
    assert [(r.bid.provider, r.score) for r in weighted.eligible] == [
        ("akash1audited", Decimal(9)),
        ("akash1plain", Decimal(10)),
    ]
    assert weighted.eligible[0].reason.endswith("(score 9)")


def test_uptime_weight_scores_exactly_as_documented():
    providers = {"akash1p": provider("akash1p", uptime=0.9), "akash1q": provider("akash1q")}
    (group,) = rank_bids(
        [bid("akash1p", 100), bid("akash1q", 100)], providers, BidPolicy(uptime_weight=2)
    )
    # 100 * (1 + 2 * (1 - 0.9)) = 120; a provider without uptime data counts as 100 % up
    assert {r.bid.provider: r.score for r in group.eligible} == {
        "akash1q": Decimal(100),
        "akash1p": Decimal("120.0"),
    }
