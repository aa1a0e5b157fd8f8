"""The lifetime policy (ttl and idle, one engine) and the idle probe's reading of a count."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from minds371.state import SagaStep
from minds371_deploy._idle_probe import IdleProbe, ProbeFailed
from minds371_deploy.lifetime import IDLE_SEEN, IdleState, LifetimePolicy
from minds371_deploy.request import parse_request

START = datetime(2026, 1, 1, tzinfo=UTC)
T0 = START.timestamp()


def test_the_ttl_closes_once_past_and_not_at_its_last_second() -> None:
    policy = LifetimePolicy(ttl=600)
    assert policy.decide(T0 + 600, START) is None
    close = policy.decide(T0 + 601, START)
    assert close is not None and (close.reason, close.kind) == ("ttl", "expired")
    assert policy.ttl_left(T0 + 100, START) == 500
    assert LifetimePolicy().ttl_left(T0, START) is None


def test_idle_closes_after_its_time_without_a_change_in_the_counts() -> None:
    policy = LifetimePolicy(idle_after=300)
    timer = IdleState(T0, {"http://a": 5.0})
    assert policy.decide(T0 + 299, START, timer.observe(T0 + 299, {"http://a": 5.0})) is None
    close = policy.decide(T0 + 300, START, timer.observe(T0 + 300, {"http://a": 5.0}))
    assert close is not None and (close.reason, close.kind) == ("idle", "idle")
    assert policy.decide(T0 + 10_000, START, None) is None  # nothing read: nothing judged


@pytest.mark.parametrize(
    "counts",
    [{"http://a": 6.0}, {"http://a": 0.0}, {"http://a": 5.0, "http://b": 0.0}, {"http://b": 5.0}],
    ids=["grew", "went back (a restart)", "an endpoint more", "another endpoint"],
)
def test_any_change_in_the_counts_restarts_the_timer(counts: dict[str, float]) -> None:
    timer = IdleState(T0, {"http://a": 5.0}).observe(T0 + 250, counts)
    assert timer == IdleState(T0 + 250, counts)
    assert LifetimePolicy(idle_after=300).decide(T0 + 500, START, timer) is None


def test_the_ttl_and_idle_are_decided_by_the_same_engine() -> None:
    request = parse_request(
        {"name": "w", "image": "nginx:1.27", "ttl": 3600, "idle": {"probe": "/m", "after": "5m"}}
    )
    policy = LifetimePolicy.of(request)
    assert (policy.ttl, policy.idle_after) == (3600, 300)
    busy = IdleState(T0 + 3500, {"http://a": 9.0})
    close = policy.decide(T0 + 3601, START, busy)  # busy, but past its ttl
    assert close is not None and close.reason == "ttl"


def test_the_journal_is_written_at_first_and_then_at_most_every_quarter_of_the_idle_time() -> None:
    policy = LifetimePolicy(idle_after=400)
    first = IdleState(T0, {"http://a": 1.0})
    assert policy.journal_due(None, first, T0)
    assert not policy.journal_due(first, first, T0 + 5000)  # nothing new
    busy = IdleState(T0 + 60, {"http://a": 2.0})
    assert not policy.journal_due(first, busy, T0 + 60)
    later = IdleState(T0 + 100, {"http://a": 3.0})
    assert policy.journal_due(first, later, T0 + 100)


@pytest.mark.parametrize(
    ("body", "count"), [("42", 42.0), ("42\n", 42.0), (" 0 ", 0.0), ("7\r\n", 7.0)]
)
def test_a_path_probe_reads_a_whole_number(body: str, count: float) -> None:
    assert IdleProbe.parse("/requests").count(body) == count


@pytest.mark.parametrize(
    "body", ["", "-1", "4.5", "<h1>web</h1>", '{"requests": 4}', "1 2", "9" * 31]
)
def test_a_path_probe_refuses_anything_else(body: str) -> None:
    with pytest.raises(ProbeFailed, match="did not answer a request count"):
        IdleProbe.parse("/requests").count(body)


EXPOSITION = """\
# HELP http_requests_total Requests.
# TYPE http_requests_total counter
http_requests_total{code="200",path="/"} 1027 1395066363000
http_requests_total{code="500",path="/"} 3
http_requests_total_created 1.7e9
other_total 99
"""


def test_a_metric_probe_sums_every_sample_of_its_metric() -> None:
    probe = IdleProbe.parse("/metrics#http_requests_total")
    assert (probe.path, probe.metric) == ("/metrics", "http_requests_total")
    assert probe.count(EXPOSITION) == 1030


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("other_total 5\n", "has no http_requests_total sample"),
        ("http_requests_total abc\n", "not a number"),
        ("http_requests_total NaN\n", "not finite"),
        ("<html>not found</html>", "has no http_requests_total sample"),
    ],
)
def test_a_metric_probe_fails_without_a_readable_sample(body: str, why: str) -> None:
    with pytest.raises(ProbeFailed, match=why):
        IdleProbe.parse("/metrics#http_requests_total").count(body)


def test_a_request_without_idle_or_ttl_has_a_policy_that_never_closes() -> None:
    policy = LifetimePolicy.of(parse_request({"name": "w", "image": "nginx:1.27"}))
    assert policy == LifetimePolicy(ttl=None, idle_after=None)
    assert policy.decide(T0 + 10**9, START, IdleState(T0)) is None


def test_each_close_says_why() -> None:
    policy = LifetimePolicy(ttl=600, idle_after=300)
    expired = policy.decide(T0 + 601, START)
    assert expired is not None and expired.detail == "closed after ttl 600s"
    idle = policy.decide(T0 + 400, START, IdleState(T0 + 50))
    assert idle is not None
    assert idle.detail == "closed after 350s without activity (idle after 300s)"


def test_the_journal_waits_exactly_a_quarter_of_the_idle_time() -> None:
    policy = LifetimePolicy(idle_after=400)
    last = IdleState(T0, {"http://a": 1.0})
    assert not policy.journal_due(last, IdleState(T0 + 99, {"http://a": 2.0}), T0 + 99)
    assert policy.journal_due(last, IdleState(T0 + 100, {"http://a": 2.0}), T0 + 100)


def test_the_journaled_timer_is_read_back_for_its_own_deployment() -> None:
    timer = IdleState(T0 + 5, {"http://a": 3.0, "http://b": 0.0})
    steps = [
        SagaStep("t", 1, IDLE_SEEN, IdleState(T0, {"http://a": 1.0}).to_step(7)),
        SagaStep("t", 2, IDLE_SEEN, timer.to_step(7)),
        SagaStep("t", 3, IDLE_SEEN, IdleState(T0 + 9).to_step(8)),  # another deployment's
        SagaStep("t", 4, "deployment.closed", {"dseq": 7, "reason": "x"}),
    ]
    assert timer.to_step(7) == {"dseq": 7, "since": T0 + 5, "counts": dict(timer.counts)}
    assert IdleState.from_steps(steps, 7) == timer
    assert IdleState.from_steps(steps, 8) == IdleState(T0 + 9, {})
    assert IdleState.from_steps(steps, 9) is None
    assert IdleState.from_steps([], 7) is None
