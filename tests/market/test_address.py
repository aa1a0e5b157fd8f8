"""Akash addresses are checked like the chain checks them: bech32, prefix, checksum, length."""

from __future__ import annotations

import pytest

from minds371_akash._address import akash_address_problem, is_akash_address
from minds371_sandbox._identity import bech32_encode

ACCOUNT = bech32_encode("akash", bytes(range(20)))
MODULE = bech32_encode("akash", bytes(range(32)))


def test_account_and_module_addresses_are_accepted() -> None:
    assert is_akash_address(ACCOUNT) and is_akash_address(MODULE)
    assert is_akash_address("akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        (ACCOUNT[:-1] + ("q" if ACCOUNT[-1] != "q" else "p"), "checksum"),
        (ACCOUNT.upper(), "lowercase"),
        (bech32_encode("cosmos", bytes(20)), "akash1"),
        (bech32_encode("akash", bytes(21)), "length"),
        ("akash1provider", "characters"),
        ("akash1" + "q" * 100, "bech32"),
        ("", "empty"),
    ],
)
def test_other_text_is_refused_with_the_reason(address: str, reason: str) -> None:
    problem = akash_address_problem(address)
    assert problem is not None and reason in problem
