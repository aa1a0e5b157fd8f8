"""Akash account addresses, checked as the chain checks them, for data that comes from providers.

An address is bech32 (BIP-173) with the human-readable part ``akash``: ``akash1`` then the data
characters of ``qpzry9x8gf2tvdw0s3jn54khce6mua7l`` ending in a six-character checksum
(cosmos-sdk ``types/bech32``, ``types/address.go`` ``AccAddressFromBech32``). Accounts derived
from a key are 20 bytes, module-derived accounts 32; only these lengths are accepted. A bid carries
its provider's address as the provider sends it; one that does not decode is not a provider the
chain could lease from, so such a bid is ignored when it arrives, never leased and never recorded.
"""

from __future__ import annotations

import functools

__all__ = ["AKASH_PREFIX", "akash_address_problem", "is_akash_address"]

AKASH_PREFIX = "akash"
"""The bech32 human-readable part of Akash account addresses."""

_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_VALUES = {char: index for index, char in enumerate(_CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_PAYLOAD_BYTES = (20, 32)
_MAX_LENGTH = 90  # BIP-173's limit on a whole bech32 string


def _checksum_ok(hrp: str, data: list[int]) -> bool:
    check = 1
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + data
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for bit, generator in enumerate(_GENERATOR):
            if (top >> bit) & 1:
                check ^= generator
    return check == 1  # bech32, not bech32m


def _payload_length(data: list[int]) -> int | None:
    """Bytes in the 5-bit groups ``data``, or ``None`` when the padding is not zero bits."""
    bits = len(data) * 5
    length, spare = divmod(bits, 8)
    if spare >= 5 or (data and data[-1] & ((1 << spare) - 1)):
        return None
    return length


def akash_address_problem(address: object) -> str | None:
    """Why ``address`` is not an Akash account address, in words; ``None`` when it is one."""
    if not isinstance(address, str) or not address:
        return "is empty or not text"
    if len(address) > _MAX_LENGTH or not address.isascii():
        return "is not a bech32 address"
    return _text_problem(address)


# The same few provider and owner addresses come back in every bid, lease and status: each is
# checked once (a checksum is a hundred rounds of pure Python).
@functools.lru_cache(maxsize=4096)
def _text_problem(address: str) -> str | None:
    if address != address.lower():
        return "must be lowercase"
    hrp, separator, rest = address.rpartition("1")
    if not separator or hrp != AKASH_PREFIX:
        return f"does not start with {AKASH_PREFIX}1"
    if len(rest) < 6 or any(char not in _VALUES for char in rest):
        return "holds characters bech32 does not use"
    data = [_VALUES[char] for char in rest]
    if not _checksum_ok(hrp, data):
        return "has a wrong checksum"
    if _payload_length(data[:-6]) not in _PAYLOAD_BYTES:
        return "is not the length of an account address"
    return None


def is_akash_address(address: object) -> bool:
    """Whether ``address`` is a well-formed ``akash1…`` account address (checksum included)."""
    return akash_address_problem(address) is None
