from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError as PydanticValidationError

from minds371_akash.bidding import BidPolicy, admit_bids, rank_bids, select_bids, waiting_is_over
from minds371_akash.market import Bid, LeaseId, Price, Provider
from minds371_sandbox._identity import bech32_encode


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


# -- every filter says exactly why -----------------------------------------------------------------

LONG = "akash1" + "q" * 32 + "wxyz"  # a real address's length: shortened in reasons


def reasons(bids: list[Bid], providers: dict[str, Provider], policy: BidPolicy) -> dict[str, str]:
    (group,) = rank_bids(bids, providers, policy, include_all=True)
    return {r.bid.provider: r.reason for r in group.ranked if not r.eligible}


def test_each_rejection_is_explained_exactly():
    providers = {
        "akash1off": Provider(address="akash1off", online=False, audited=True),
        "akash1plain": Provider(address="akash1plain", attributes={"tier": "2"}),
        "akash1gpu": Provider(
            address="akash1gpu", audited=True, attributes={"region": "eu"}, uptime_7d=0.5,
            gpu_models=("nvidia/a100",),
        ),
    }  # fmt: skip
    policy = BidPolicy(
        audited_only=True,
        required_attributes={"region": "eu"},
        gpu_model="H100",
        deny_providers=("akash1plain",),
    )
    got = reasons(
        [bid("akash1off", 5), bid("akash1plain", 6), bid("akash1gpu", 7), bid(LONG, 8)],
        providers,
        policy,
    )
    assert got == {
        "akash1off": "akash1off: 5 uact/block, audited: rejected (provider offline; region=∅ "
        "(want eu); no GPU model H100)",
        "akash1plain": "akash1plain: 6 uact/block, not audited: rejected (in the deny list; "
        "not audited; region=∅ (want eu); no GPU model H100)",
        "akash1gpu": "akash1gpu: 7 uact/block, audited, uptime 50.0%, region eu: rejected "
        "(no GPU model H100)",
        LONG: "akash1qqqq…wxyz: 8 uact/block: rejected (provider unknown to the marketplace)",
    }


def test_the_allow_list_admits_only_its_providers():
    policy = BidPolicy(allow_providers=("akash1mid",))
    got = reasons([bid("akash1mid", 20), bid("akash1cheap", 10)], PROVIDERS, policy)
    assert got == {
        "akash1cheap": "akash1cheap: 10 uact/block, not audited, uptime 80.0%, region eu: "
        "rejected (not in the allow list)"
    }


@pytest.mark.parametrize(
    "policy",
    [
        BidPolicy(audited_only=True),
        BidPolicy(required_attributes={"a": "b"}),
        BidPolicy(gpu_model="x"),
    ],
    ids=["audited_only", "required_attributes", "gpu_model"],
)
def test_an_unknown_provider_is_refused_by_any_filter_that_needs_its_facts(policy: BidPolicy):
    assert verdicts([bid("akash1ghost", 1)], {}, policy) == {"akash1ghost": False}


def test_an_unknown_provider_passes_filters_that_need_no_facts():
    policy = BidPolicy(max_price=Decimal(5), min_uptime=0.9, deny_providers=("akash1x",))
    assert verdicts([bid("akash1ghost", 1)], {}, policy) == {"akash1ghost": True}


def test_gpu_model_matches_the_model_name_case_insensitively():
    providers = {
        "akash1h100": provider_with_gpus("akash1h100", "nvidia/h100"),
        "akash1both": provider_with_gpus("akash1both", "nvidia/a100", "nvidia/h100"),
        "akash1a100": provider_with_gpus("akash1a100", "nvidia/a100"),
        "akash1none": provider_with_gpus("akash1none"),
    }
    bids = [bid(name, 10) for name in providers]
    assert verdicts(bids, providers, BidPolicy(gpu_model="H100")) == {
        "akash1h100": True,
        "akash1both": True,
        "akash1a100": False,
        "akash1none": False,
    }


def provider_with_gpus(address: str, *models: str) -> Provider:
    return Provider(address=address, gpu_models=models)


def test_bids_no_longer_open_are_listed_only_on_request_and_never_stop_the_ranking():
    bids = [bid("akash1dear", 2, state="closed"), bid("akash1cheap", 10), bid("akash1mid", 20)]
    (group,) = rank_bids(bids, PROVIDERS, BidPolicy())
    assert [r.bid.provider for r in group.ranked] == ["akash1cheap", "akash1mid"]
    (shown,) = rank_bids(bids, PROVIDERS, BidPolicy(), include_all=True)
    assert [(r.bid.provider, r.eligible, r.score) for r in shown.ranked] == [
        ("akash1cheap", True, Decimal(10)),
        ("akash1mid", True, Decimal(20)),
        ("akash1dear", False, None),
    ]
    assert shown.ranked[-1].reason == (
        "akash1dear: 2 uact/block, audited, uptime 99.0%, region us-west: closed"
    )


def test_a_group_without_bids_is_not_done_even_when_one_bid_would_be_enough():
    policy = BidPolicy(enough_bids=1)
    one = rank_bids([bid("akash1mid", 20, gseq=1)], PROVIDERS, policy)
    assert waiting_is_over(one, [1], policy, first_bid_at={1: 0.0}, now=0.0, block_time=6.0)
    assert not waiting_is_over(one, [1, 2], policy, first_bid_at={1: 0.0}, now=1e9, block_time=6.0)


def test_the_bid_window_is_counted_in_blocks_of_the_networks_block_time():
    policy = BidPolicy(enough_bids=5, bid_window_blocks=5)
    one = rank_bids([bid("akash1mid", 20)], PROVIDERS, policy)
    started = {1: 100.0}
    # 29 s is less than 5 blocks of 6 s
    assert not waiting_is_over(one, [1], policy, first_bid_at=started, now=129.0, block_time=6.0)
    assert waiting_is_over(one, [1], policy, first_bid_at=started, now=130.0, block_time=6.0)


def test_eligible_bids_are_explained_with_their_rank_facts_and_score():
    (group,) = rank_bids([bid("akash1mid", 20), bid("akash1cheap", 10)], PROVIDERS, BidPolicy())
    assert [r.reason for r in group.eligible] == [
        "#1 of 2: akash1cheap: 10 uact/block, not audited, uptime 80.0%, region eu (score 10)",
        "#2 of 2: akash1mid: 20 uact/block, audited, uptime 99.9%, region us-west (score 20)",
    ]


def test_addresses_longer_than_sixteen_characters_are_shortened_in_reasons():
    sixteen, seventeen = "akash1" + "a" * 10, "akash1" + "b" * 11
    (group,) = rank_bids([bid(sixteen, 1), bid(seventeen, 2)], {}, BidPolicy())
    assert [r.reason.split(": ")[1] for r in group.eligible] == [sixteen, "akash1bbbb…bbbb"]


def test_a_gpu_model_listed_without_its_vendor_matches_too():
    providers = {"akash1bare": provider_with_gpus("akash1bare", "h100")}
    assert verdicts([bid("akash1bare", 1)], providers, BidPolicy(gpu_model="h100")) == {
        "akash1bare": True
    }


def test_a_group_with_several_orders_gets_one_bid_and_later_groups_are_still_served():
    def order_bid(provider: str, gseq: int, oseq: int) -> Bid:
        return Bid(
            id=LeaseId(owner="akash1owner", dseq=5, gseq=gseq, oseq=oseq, provider=provider),
            state="open",
            price=Price(denom="uact", amount=Decimal(10)),
        )

    bids = [
        order_bid("akash1cheap", 1, 1),
        order_bid("akash1mid", 1, 2),
        order_bid("akash1dear", 2, 1),
        order_bid("akash1cheap", 2, 1),
    ]
    chosen = select_bids(rank_bids(bids, PROVIDERS, BidPolicy()), BidPolicy())
    assert {g: r.bid.provider for g, r in chosen.items()} == {1: "akash1cheap", 2: "akash1dear"}


# -- provider data is checked on arrival -----------------------------------------------------------

VALID = bech32_encode("akash", bytes([2]) * 20)


@pytest.mark.parametrize(
    "address",
    [
        "akash1cheap",  # not bech32 characters
        VALID[:-1] + ("q" if VALID[-1] != "q" else "p"),  # wrong checksum
        VALID.upper(),
        "cosmos1" + VALID[6:],
        bech32_encode("akash", bytes(21)),  # not an account length
        "akash1../../providers",
        "",
    ],
)
def test_a_bid_from_a_malformed_provider_address_is_ignored_with_the_reason(address: str) -> None:
    admitted, ignored = admit_bids([bid(address, 1), bid(VALID, 20)])
    assert [b.provider for b in admitted] == [VALID]
    (reason,) = ignored
    assert "bid ignored, provider address" in reason


def test_required_attribute_values_no_provider_has_are_refused() -> None:
    for value in ("us-west\n", "$(id)", "a`b`", "x\x00"):
        with pytest.raises(PydanticValidationError):
            BidPolicy(required_attributes={"region": value})
