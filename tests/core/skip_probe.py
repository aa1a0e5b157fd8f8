"""Run only by test_suite_guards.py (not collected on its own): one test that always skips."""

import pytest


def test_needs_a_peer_that_is_missing() -> None:
    pytest.skip("peer-server not installed")


@pytest.mark.network
def test_a_live_network_test() -> None:
    raise AssertionError("never run without MINDS371_LIVE=1")
