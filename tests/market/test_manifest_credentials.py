"""A journaled manifest gets its redacted registry password back, byte for byte, before a resend.

The journal stores the manifest the network returned with the password scrubbed (it is a
registered secret). Resume, re-lease and the watcher resend that manifest: with ``***`` in it, the
provider's re-hash would not match the on-chain version and the pull would fail.
"""

from __future__ import annotations

import json

import pytest

from minds371.errors import ConfigurationError
from minds371.logging import register_secret, scrub
from minds371_akash._manifest_credentials import restore_credentials
from minds371_akash._prepare import prepare_sdl

# Quotes, a backslash and Go's HTML-escaped characters: every way JSON can change its bytes.
PASSWORDS = ("plain-registry-pass", 'qu"o\\te<&>-pass')


def sdl_with_login(password: str, *, second: str | None = None) -> str:
    def service(name: str, secret: str) -> dict[str, object]:
        return {
            "image": f"registry.example.com/acme/{name}:1.0",
            "env": ['NOTE="password":"***"'],  # an env value that mentions one is not one
            "credentials": {
                "host": "registry.example.com",
                "username": "deployer",
                "password": secret,
            },
            "expose": [{"port": 80, "to": [{"global": True}]}],
        }

    services = {"web": service("web", password)}
    if second is not None:
        services["api"] = service("api", second)
    profile = {"resources": {"cpu": {"units": 0.5}, "memory": {"size": "512Mi"}}}
    profile["resources"]["storage"] = {"size": "1Gi"}
    document = {
        "version": "2.0",
        "services": services,
        "profiles": {
            "compute": {"p": profile},
            "placement": {"dc": {"pricing": {"p": {"denom": "uact", "amount": 1000}}}},
        },
        "deployment": {name: {"dc": {"profile": "p", "count": 1}} for name in services},
    }
    return json.dumps(document)


def journaled(manifest: str) -> str:
    """The manifest as the journal stores it: scrubbed inside a step's data."""
    return str(scrub({"manifest": manifest})["manifest"])


@pytest.mark.parametrize("rules", ["go", "console"])
@pytest.mark.parametrize("password", PASSWORDS)
def test_a_redacted_password_is_restored_to_the_exact_manifest(rules: str, password: str) -> None:
    register_secret(password)
    original = prepare_sdl(sdl_with_login(password), rules=rules).manifest  # type: ignore[arg-type]
    stored = journaled(original)
    assert password not in stored and '"password":"***"' in stored.replace(" ", "")
    assert restore_credentials(stored, original) == original


def test_each_service_gets_its_own_password_back() -> None:
    first, second = "first-registry-pass", "second-registry-pass"
    register_secret(first)
    register_secret(second)
    original = prepare_sdl(sdl_with_login(first, second=second)).manifest
    restored = restore_credentials(journaled(original), original)
    assert restored == original
    assert restored.index(second) < restored.index(first)  # api sorts before web in the manifest


def test_a_manifest_without_a_redacted_password_is_returned_as_it_is() -> None:
    original = prepare_sdl(sdl_with_login("not-registered-pass")).manifest
    other = prepare_sdl(sdl_with_login("another-password")).manifest
    assert restore_credentials(original, other) is original


def test_a_login_no_longer_configured_is_an_error_naming_the_service() -> None:
    password = "gone-registry-pass"
    register_secret(password)
    original = prepare_sdl(sdl_with_login(password)).manifest
    without_login = journaled(original)  # what an SDL rebuilt with the login scrubbed gives
    with pytest.raises(ConfigurationError, match="service 'web'"):
        restore_credentials(journaled(original), without_login)
