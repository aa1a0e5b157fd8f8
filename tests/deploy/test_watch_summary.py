"""How one watcher pass is said in words: what changed, what could not be checked, what was
only reported."""

from __future__ import annotations

import io

from rich.console import Console

from minds371_deploy._cli import _say_pass
from minds371_deploy.watcher import WatchAction


def _said(checked: int, actions: list[WatchAction]) -> str:
    out = io.StringIO()
    _say_pass(Console(file=out, width=200, highlight=False), checked, actions)
    return out.getvalue()


def test_an_unanswered_idle_probe_is_reported_but_not_counted_as_a_change() -> None:
    text = _said(
        2,
        [
            WatchAction("t1", 11, "idle_probe_failed", "GET /metrics: connection refused"),
            WatchAction("t2", 12, "relet", "group 1 re-leased"),
        ],
    )
    assert "idle_probe_failed deployment 11: GET /metrics: connection refused" in text
    assert text.splitlines()[-1] == (
        "checked 2 deployments: 1 changed, 0 could not be checked, 1 idle probe(s) unanswered"
    )


def test_a_pass_with_an_error_says_it_could_not_check_that_deployment() -> None:
    text = _said(1, [WatchAction("t1", 11, "error", "the network did not answer")])
    assert "could not check deployment 11: the network did not answer" in text
    assert text.splitlines()[-1] == "checked 1 deployment: 0 changed, 1 could not be checked"
