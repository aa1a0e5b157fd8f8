"""SDL and manifest handling shared by the Console routes, the gateway and the chain routes.

The SDL engine (:mod:`minds371_akash.sdl`) does the real work; here it is adapted to what the
sandbox needs: GroupSpec JSON for the chain, the canonical manifest string, and a provider's
re-hash of a received manifest (``normalize_manifest`` → ``canonical_json`` → ``manifest_version``,
as a Go provider decodes and re-marshals it).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minds371.errors import ValidationError
from minds371_sandbox._hub import Hub
from minds371_sandbox._identity import AUDITOR
from minds371_sandbox._ts_manifest import console_build
from minds371_sandbox._world import WorldError

__all__ = [
    "BuiltSdl",
    "ProviderUnavailable",
    "build_from_sdl",
    "deliver_manifest",
    "rehash",
]


class ProviderUnavailable(Exception):
    """The provider does not answer (offline)."""


@dataclass(frozen=True, slots=True)
class BuiltSdl:
    """What the chain and providers need from an SDL."""

    group_specs: list[dict[str, Any]]
    manifest_json: str
    version: bytes


def _jsonable(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", by_alias=True)
    return json.loads(json.dumps(value))


def build_from_sdl(text: str, *, console: bool) -> BuiltSdl:
    """Parse and build an SDL.

    Args:
        text: The SDL YAML.
        console: Build as Console does (:mod:`._ts_manifest`): its rewrites (every price denom
            becomes ``uact``, the auditor joins each placement's ``signedBy.anyOf``), then
            chain-sdk TypeScript's validation and manifest rules. Otherwise Go's (the CLI).

    Raises:
        ValidationError: From the SDL engine, naming every issue.
    """
    if console:
        specs_json, manifest_json, version = console_build(text, AUDITOR)
    else:
        specs_json, manifest_json, version = _built(text)
    # Every caller gets its own copy of the specs: the world keeps them.
    return BuiltSdl(json.loads(specs_json), manifest_json, version)


@functools.lru_cache(maxsize=256)  # many deployments of one SDL (load tests) parse it once
def _built(text: str) -> tuple[str, str, bytes]:
    from minds371_akash.sdl import build_manifest, parse_sdl

    built = build_manifest(parse_sdl(text))
    specs = [_jsonable(spec) for spec in built.group_specs]
    return json.dumps(specs), built.json, bytes(built.version_bytes)


def rehash(groups: Any) -> bytes:
    """The version hash a Go provider computes for a received manifest (decoded JSON)."""
    return _version_of(_normalized(groups))


def _normalized(groups: Any) -> list[dict[str, Any]]:
    from minds371_akash.sdl import normalize_manifest

    return normalize_manifest(groups)


def _version_of(normalized: list[dict[str, Any]]) -> bytes:
    from minds371_akash.sdl import canonical_json, manifest_version

    version = manifest_version(canonical_json(normalized))
    return bytes.fromhex(version) if isinstance(version, str) else bytes(version)


def _decode(body: str | bytes) -> list[Mapping[str, Any]]:
    try:
        groups = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WorldError("invalid", f"invalid manifest: {exc}") from exc
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise WorldError("invalid", "invalid manifest: expected an array of groups")
    return groups


def deliver_manifest(hub: Hub, provider: str, owner: str, dseq: int, body: str | bytes) -> None:
    """A provider receives ``PUT /deployment/{dseq}/manifest`` from ``owner``.

    Raises:
        ProviderUnavailable: The provider is offline.
        WorldError: ``not_found`` "no lease for deployment" (404) or ``invalid`` (422).
    """
    if not hub.world.online.get(provider, False):
        raise ProviderUnavailable(provider)
    if not hub.world.sees_lease(provider, owner, dseq):
        raise WorldError("not_found", "no lease for deployment")
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    groups_json, version = _received(text)
    hub.world.receive_manifest(provider, owner, dseq, json.loads(groups_json), version)


@functools.lru_cache(maxsize=256)  # retries and many leases of one manifest hash it once
def _received(text: str) -> tuple[str, bytes]:
    """The manifest as the provider's Go structs hold it (JSON) and its version hash."""
    groups = _decode(text)
    try:
        normalized = _normalized(groups)
        version = _version_of(normalized)
    except (ValidationError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise WorldError("invalid", f"invalid manifest: {exc}") from exc
    return json.dumps(normalized), version
