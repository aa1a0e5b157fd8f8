from __future__ import annotations

import time

import pytest

from minds371_sandbox._identity import (
    JwtError,
    bech32_decode,
    bech32_encode,
    identity_for_api_key,
    identity_for_key_name,
    issue_jwt,
    verify_jwt,
)
from minds371_sandbox._images import classify_image, parse_image


def test_addresses_are_deterministic_bech32() -> None:
    one = identity_for_api_key("key-1")
    assert one.address == identity_for_api_key("key-1").address
    assert one.address != identity_for_api_key("key-2").address
    assert one.address != identity_for_key_name("key-1").address
    hrp, payload = bech32_decode(one.address)
    assert (hrp, len(payload)) == ("akash", 20)
    assert bech32_encode("akash", payload) == one.address
    # a known real address decodes (checksum verified)
    assert bech32_decode("akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63")[0] == "akash"
    with pytest.raises(ValueError, match="checksum"):
        bech32_decode("akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx64")
    assert "key-1" not in repr(one)


def test_jwt_round_trip_and_rejections() -> None:
    who = identity_for_api_key("secret")
    keys = {who.address: who.public_key}
    token = issue_jwt(who, ttl=60, leases={"access": "full"})
    claims = verify_jwt(token, keys.get)
    assert claims["iss"] == who.address and claims["leases"] == {"access": "full"}
    with pytest.raises(JwtError, match="expired"):
        verify_jwt(token, keys.get, now=time.time() + 120)
    with pytest.raises(JwtError, match="invalid"):
        verify_jwt(token, lambda _: None)  # issuer without an on-chain key
    other = identity_for_api_key("other")
    forged = issue_jwt(other, ttl=60, leases={"access": "full"})
    head, payload, _ = token.split(".")
    with pytest.raises(JwtError, match="invalid"):
        verify_jwt(f"{head}.{payload}.{forged.split('.')[2]}", keys.get)
    with pytest.raises(JwtError):
        verify_jwt("not-a-jwt", keys.get)


@pytest.mark.parametrize(
    ("image", "outcome"),
    [
        ("nginx", "ok"),
        ("nginx:1.27", "ok"),
        ("library/redis:7@sha256:abc", "ok"),
        ("ghcr.io/acme/app:v1", "ok"),
        ("localhost:5000/app:dev", "ok"),
        ("us-docker.pkg.dev/p/r/app:1", "ok"),
        ("registry.invalid.example/app:1", "pull_error"),
        ("myregistry.local:5000/app", "pull_error"),
        ("nginx:nonexistent", "pull_error"),
        ("ghcr.io/acme/app:nonexistent-2", "pull_error"),
        ("Nginx:1", "invalid"),
        ("", "invalid"),
        ("busybox:crashloop", "crash_loop"),
    ],
)
def test_image_rules(image: str, outcome: str) -> None:
    assert classify_image(image).outcome == outcome


def test_crash_env_switch_and_parse() -> None:
    assert classify_image("nginx:1.27", ["A=1", "SANDBOX_CRASH=1"]).outcome == "crash_loop"
    assert parse_image("nginx") == ("docker.io", "nginx", "latest")
    assert parse_image("localhost:5000/a/b:c") == ("localhost:5000", "a/b", "c")
    assert "no such host" in classify_image("nope.example/app").reason
