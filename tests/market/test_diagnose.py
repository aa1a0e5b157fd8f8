from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx

from minds371.errors import NoBidsError
from minds371_akash.bidding import BidPolicy, rank_bids
from minds371_akash.diagnose import (
    GroupRequirements,
    attach,
    diagnose_no_bids,
    diagnose_not_ready,
    diagnosis_of,
    probe_endpoints,
    requirements_from_group_specs,
)
from minds371_akash.market import (
    Bid,
    Endpoint,
    KubeEvent,
    LeaseId,
    LeaseStatus,
    Price,
    Provider,
    ServiceStatus,
)

# A well-formed provider address: bids from anything else are ignored on arrival.
PROVIDER = "akash18qa2a2ltfyvkyj0ggj3hkvuj6twzyumuaru9s4"
# chain-sdk go/sdl testdata, vendored in the repository.
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/sdl/go/output-fixtures/v2.0"
GROUP = GroupRequirements(name="dc", gseq=1, attributes={"region": "us-west"}, max_price=Decimal(1))


def test_no_bids_price_too_low_when_providers_match():
    providers = [Provider(address="akash1a", attributes={"region": "us-west"})]
    d = diagnose_no_bids([GROUP], providers, waited=3)
    assert d.kind == "no_bids"
    assert "1 of 1 providers match" in d.evidence[1]
    assert any("below their asking price" in a for a in d.actions)


def test_no_bids_because_nobody_matches_attributes():
    providers = [Provider(address=f"akash1{i}", attributes={"region": "eu"}) for i in range(3)]
    d = diagnose_no_bids([GROUP], providers)
    assert "0 of 3 providers" in d.evidence[1]
    assert any("3 providers: region=eu (wants us-west)" in e for e in d.evidence)
    assert any("loosen its placement attributes" in a for a in d.actions)


def test_no_bids_because_policy_rejected_them():
    b = Bid(
        id=LeaseId(owner="o", dseq=1, gseq=1, oseq=1, provider=PROVIDER),
        state="open",
        price=Price(denom="uact", amount=Decimal(50)),
    )
    rankings = rank_bids([b], {}, BidPolicy(max_price=Decimal(10)))
    d = diagnose_no_bids([GROUP], [], rankings)
    assert any("price 50 > max 10" in e for e in d.evidence)
    assert any("bid policy rejected" in a for a in d.actions)


def test_diagnosis_travels_on_the_error_as_json():
    diagnosis = diagnose_no_bids([GROUP], [], waited=3)
    err = attach(NoBidsError("no bids"), diagnosis)
    assert diagnosis_of(err) == diagnosis
    # what another agent receives: the error's dict through JSON text
    wire = json.loads(json.dumps(err.to_dict()))
    assert wire["type"] == "NoBidsError" and wire["message"] == "no bids"
    assert wire["details"]["diagnosis"] == {
        "kind": "no_bids",
        "summary": diagnosis.summary,
        "evidence": list(diagnosis.evidence),
        "actions": list(diagnosis.actions),
    }
    assert diagnosis.evidence and diagnosis.actions
    # and the receiver reads back the same diagnosis
    received = NoBidsError(wire["message"], details=wire["details"])
    assert diagnosis_of(received) == diagnosis


def _status(available: int) -> LeaseStatus:
    return LeaseStatus(services={"web": ServiceStatus(name="web", available=available, total=1)})


def test_image_pull_failure_is_classified():
    events = [
        KubeEvent(type="Warning", reason="ErrImagePull", note="failed to pull image nginx:nope")
    ]
    d = diagnose_not_ready({1: _status(0)}, events, timeout=30)
    assert d.kind == "image_pull_failed"
    assert any("web 0/1 ready" in e for e in d.evidence)


def test_crash_loop_is_classified():
    events = [
        KubeEvent(type="Warning", reason="BackOff", note="Back-off restarting failed container web")
    ]
    assert diagnose_not_ready({1: _status(0)}, events, timeout=30).kind == "crash_loop"


def test_slow_is_not_ready():
    d = diagnose_not_ready({1: None}, [], timeout=30)
    assert d.kind == "not_ready" and "no status" in d.evidence[0]


async def test_probe_reports_only_unreachable_http_endpoints():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "down.example":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(404)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    endpoints = [
        Endpoint(service="web", url="http://up.example", kind="http"),
        Endpoint(service="web", url="http://down.example", kind="http"),
        Endpoint(service="db", url="tcp://down.example:5432", kind="port"),
    ]
    problems = await probe_endpoints(endpoints, client=client)
    await client.aclose()
    assert list(problems) == ["http://down.example"]


def test_requirements_from_upstream_group_specs():
    specs = json.loads((FIXTURES / "simple" / "group-specs.json").read_text())
    (req,) = requirements_from_group_specs(specs)
    assert req.attributes == {"region": "us-west"}
    assert req.max_price == Decimal(100)  # 50 per replica, count 2
    assert set(req.signed_by) == {"1", "2", "3", "4"}
