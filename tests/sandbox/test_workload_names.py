"""Pod, namespace and ingress names are the same hashes with the digest cache as without it."""

from __future__ import annotations

import base64
import hashlib

from minds371_sandbox._workloads import _slug


def _plain_slug(*parts: object, length: int) -> str:
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return base64.b32encode(digest).decode().lower()[:length]


def test_cached_slugs_are_the_plain_hash_every_time() -> None:
    cases: list[tuple[tuple[object, ...], int]] = [
        (("akash1owner", 12, 1, 1, "akash1provider"), 45),
        ((12, 1, 1, "web", 0), 10),
        ((12, 1, 1, "web", 1), 10),  # another generation: another pod name
        ((12, "web", 22, "TCP"), 3),
        ((12, "web", None, "TCP"), 3),
        ((True,), 5),  # spelled as str() spells it, never confused with 1
        ((1,), 5),
    ]
    for _ in range(2):  # cold, then from the cache
        for parts, length in cases:
            assert _slug(*parts, length=length) == _plain_slug(*parts, length=length)
    assert _slug(True, length=8) != _slug(1, length=8)
