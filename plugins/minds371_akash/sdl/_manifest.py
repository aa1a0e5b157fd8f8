"""Manifest groups and on-chain group specs, built by the Go SDL parser's rules.

The output is plain JSON-ready data shaped exactly like Go's ``json.Marshal`` of the manifest
(``manifest/v2beta3``) and of the ``GroupSpec`` list (``deployment/v1beta4``): the same keys,
``null`` where Go writes ``null`` and keys left out where Go's ``omitempty`` drops them.

Ordering follows Go: groups by placement name; services by name; a service's exposes by
(service, port, protocol, global first); storage volumes by size, then persistence, then name;
attributes by key. Resource units get 1-based ids in the order services are visited (sorted
names). In SDL 2.1, services of one placement that share a compute profile share one resource
unit: counts add up and endpoints are appended and re-sorted by sequence number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from minds371_akash.sdl._canonical import encode_trusted, manifest_version_bytes
from minds371_akash.sdl._gosort import go_sort
from minds371_akash.sdl._models import Expose, Sdl, Service
from minds371_akash.sdl._parse import ensure_valid
from minds371_akash.sdl._resources import attribute, resources_of
from minds371_akash.sdl._units import (
    format_dec,
    parse_price,
    scalar_text,
)

__all__ = ["Manifest", "build_manifest"]

_SHARED_HTTP = 0
_RANDOM_PORT = 1
_LEASED_IP = 2
_DEFAULT_NEXT_CASES = ("error", "timeout")


@dataclass(frozen=True, slots=True)
class Manifest:
    """A deployment's manifest, its version hash and its on-chain group specs.

    A frozen dataclass rather than a pydantic model: its ``json`` field (part of the contract)
    would shadow ``BaseModel.json``. Treat the lists and dicts it holds as read-only.

    Attributes:
        groups: The manifest groups, exactly as Go's JSON.
        json: The canonical JSON of ``groups``: the string that is hashed and must be sent to
            providers verbatim.
        version: The sha256 hex digest of ``json`` (the deployment version).
        version_bytes: The same digest as 32 raw bytes (``MsgCreateDeployment.hash``).
        group_specs: The ``GroupSpec`` list for ``MsgCreateDeployment``, as Go's JSON
            (prices as 18-decimal ``DecCoin`` strings).
    """

    groups: list[dict[str, Any]]
    json: str
    version: str
    version_bytes: bytes
    group_specs: list[dict[str, Any]]


def _http_options(expose: Expose) -> dict[str, Any]:
    opts = expose.http_options
    result: dict[str, Any] = {
        "maxBodySize": (opts and opts.max_body_size) or 1_048_576,
        "readTimeout": (opts and opts.read_timeout) or 60_000,
        "sendTimeout": (opts and opts.send_timeout) or 60_000,
        "nextTries": (opts and opts.next_tries) or 3,
        "nextTimeout": (opts and opts.next_timeout) or 0,
        "nextCases": list((opts and opts.next_cases) or _DEFAULT_NEXT_CASES),
    }
    if opts is not None and opts.proxy_buffer_size:
        result["proxyBufferSize"] = opts.proxy_buffer_size
    return result


def _expose_less(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if a["service"] != b["service"]:
        return bool(a["service"] < b["service"])
    if a["port"] != b["port"]:
        return bool(a["port"] < b["port"])
    if a["proto"] != b["proto"]:
        return bool(a["proto"] < b["proto"])
    if a["global"] != b["global"]:
        return bool(a["global"])
    return False


def _exposes(service: Service, seqs: dict[str, int]) -> list[dict[str, Any]]:
    result = []
    for expose in service.expose or ():
        proto = (expose.proto or "TCP").upper()
        base = {
            "port": expose.port,
            "externalPort": expose.as_ or 0,
            "proto": proto,
            "hosts": list(expose.accept) if expose.accept is not None else None,
            "httpOptions": _http_options(expose),
        }
        for to in expose.to or (None,):
            is_global = bool(to is not None and to.global_)
            ip = (to.ip or "") if to is not None else ""
            result.append(
                {
                    "port": base["port"],
                    "externalPort": base["externalPort"],
                    "proto": proto,
                    "service": (to.service or "") if to is not None else "",
                    "global": is_global,
                    "hosts": base["hosts"],
                    "httpOptions": base["httpOptions"],
                    "ip": ip,
                    "endpointSequenceNumber": seqs.get(ip, 0) if is_global and ip else 0,
                }
            )
    go_sort(result, _expose_less)
    return result


def _endpoint(kind: int, sequence: int) -> dict[str, int]:
    # Go's `kind` carries omitempty: SHARED_HTTP (0) is left out.
    return {"kind": kind, "sequence_number": sequence} if kind else {"sequence_number": sequence}


def _endpoints(exposes: Sequence[dict[str, Any]]) -> list[dict[str, int]]:
    result: list[dict[str, int]] = []
    for expose in exposes:
        if not expose["global"]:
            continue
        external = expose["externalPort"] or expose["port"]
        ingress = expose["proto"] == "TCP" and external == 80
        kind = _endpoint(_SHARED_HTTP if ingress else _RANDOM_PORT, 0)
        # Go appends the leased IP first, then sorts the pair by sequence number.
        pair = (
            [_endpoint(_LEASED_IP, expose["endpointSequenceNumber"]), kind]
            if expose["ip"]
            else [kind]
        )
        go_sort(pair, _seq_less)
        result.extend(pair)
    return result


def _seq_less(a: dict[str, int], b: dict[str, int]) -> bool:
    return a["sequence_number"] < b["sequence_number"]


def _sequence_numbers(sdl: Sdl) -> dict[str, int]:
    """Number leased-IP endpoint names as Go does (sorted, from 1, repeats take the last)."""
    names = []
    for svc in sorted(sdl.deployment):
        service = sdl.services[svc]
        for expose in service.expose or ():
            for to in expose.to or ():
                if to.global_ and not to.ip:
                    continue
                # Go also counts an empty name for every non-global target; keep its numbering.
                names.append(to.ip or "")
    return {name: index for index, name in enumerate(sorted(names), start=1)}


def _params(service: Service) -> dict[str, Any] | None:
    params = service.params
    if params is None:
        return None
    result: dict[str, Any] = {"storage": None}
    if params.storage:
        result["storage"] = [
            {
                "name": name,
                "mount": params.storage[name].mount or "",
                "readOnly": bool(params.storage[name].read_only),
            }
            for name in sorted(params.storage)
        ]
    if params.permissions is not None:
        result["permissions"] = (
            {"read": list(params.permissions.read)} if params.permissions.read else {}
        )
    if params.tee is not None:
        result["tee"] = {"type": params.tee, "attestation": True}
    return result


def _credentials(service: Service, version: str) -> dict[str, str] | None:
    creds = service.credentials
    if creds is None:
        return None
    if version == "2.0":
        # The 2.0 builder copies neither the email nor trims.
        return {
            "host": creds.host,
            "email": "",
            "username": creds.username,
            "password": creds.password,
        }
    return {
        "host": creds.host.strip(),
        "email": (creds.email or "").strip(),
        "username": creds.username.strip(),
        "password": creds.password.strip(),
    }


class _Group:
    __slots__ = ("bound", "name", "requirements", "services", "units")

    def __init__(self, name: str, sdl: Sdl) -> None:
        placement = sdl.profiles.placement[name]
        self.name = name
        attrs = placement.attributes or {}
        signed = placement.signed_by
        self.requirements: dict[str, Any] = {
            "signed_by": {
                "all_of": list(signed.all_of) if signed and signed.all_of is not None else None,
                "any_of": list(signed.any_of) if signed and signed.any_of is not None else None,
            },
            "attributes": [attribute(k, scalar_text(attrs[k])) for k in sorted(attrs)] or None,
        }
        self.units: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.bound: dict[str, int] = {}

    def add_tee(self, tee: str) -> None:
        attrs = self.requirements["attributes"] or []
        if not any(a["key"] == "tee/type" for a in attrs):
            attrs = sorted([*attrs, attribute("tee/type", tee)], key=lambda a: a["key"])
        self.requirements["attributes"] = attrs


def build_manifest(sdl: Sdl) -> Manifest:
    """Build the manifest, its canonical JSON and version hash, and the group specs.

    Args:
        sdl: A document returned by ``parse_sdl``. An ``Sdl`` built another way (for example
            with ``Sdl.model_validate``) is checked against every rule first.

    Returns:
        The :class:`Manifest`.

    Raises:
        ValidationError: ``sdl`` was not validated and breaks a rule.
    """
    ensure_valid(sdl)
    seqs = _sequence_numbers(sdl)
    groups: dict[str, _Group] = {}
    merge = sdl.version == "2.1"
    for svc in sorted(sdl.deployment):
        service = sdl.services[svc]
        entries = sdl.deployment[svc]
        for placement_name in sorted(entries):
            entry = entries[placement_name]
            group = groups.get(placement_name)
            if group is None:
                group = groups[placement_name] = _Group(placement_name, sdl)
            if service.params is not None and service.params.tee is not None:
                group.add_tee(service.params.tee)
            compute = sdl.profiles.compute[entry.profile].resources
            exposes = _exposes(service, seqs)
            endpoints = _endpoints(exposes)
            resources = {"id": 0, **resources_of(compute), "endpoints": endpoints}
            location = group.bound.get(entry.profile) if merge else None
            if location is None:
                resources["id"] = len(group.units) + 1
                price = sdl.profiles.placement[placement_name].pricing[entry.profile]
                group.units.append(
                    {
                        "resource": {**resources, "endpoints": list(endpoints)},
                        "count": entry.count,
                        "price": {
                            "denom": price.denom,
                            "amount": format_dec(_amount(price.amount)),
                        },
                    }
                )
                group.bound[entry.profile] = len(group.units) - 1
            else:
                unit = group.units[location]
                resources["id"] = unit["resource"]["id"]
                unit["count"] += entry.count
                merged = unit["resource"]["endpoints"] + endpoints
                go_sort(merged, _seq_less)
                unit["resource"]["endpoints"] = merged
            service_doc: dict[str, Any] = {
                "name": svc,
                "image": service.image,
                "command": list(service.command) if service.command is not None else None,
                "args": list(service.args) if service.args is not None else None,
                "env": list(service.env) if service.env is not None else None,
                "resources": resources,
                "count": entry.count,
                "expose": exposes,
            }
            params = _params(service)
            if params is not None:
                service_doc["params"] = params
            service_doc["credentials"] = _credentials(service, sdl.version)
            group.services.append(service_doc)

    manifest_groups = []
    specs = []
    for name in sorted(groups):
        group = groups[name]
        group.services.sort(key=lambda s: s["name"])
        manifest_groups.append({"name": name, "services": group.services})
        specs.append({"name": name, "requirements": group.requirements, "resources": group.units})
    text = encode_trusted(manifest_groups)
    digest = manifest_version_bytes(text)
    return Manifest(
        groups=manifest_groups,
        json=text,
        version=digest.hex(),
        version_bytes=digest,
        group_specs=specs,
    )


def _amount(value: object) -> Decimal:
    return parse_price(value)
