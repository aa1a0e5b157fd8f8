"""The rules a provider checks every received manifest against, before its version.

As ``chain-sdk:go/manifest/v2beta3`` ``Manifest.Validate`` (``manifest.go``, ``groups.go``,
``group.go``, ``service.go``, ``serviceexpose.go``, ``helpers.go``), which
``provider:manifest/manager.go`` ``validateRequest`` runs first; the gateway answers its errors
with 422 (``provider:manifest/gateway.go`` ``ManifestSubmitErrorToHTTP``). The messages are Go's.
Resource units are checked against the group specs afterwards (:mod:`._intake`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["manifest_problem"]

_SERVICE_NAME = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z")
# k8s.io/apimachinery validation IsEnvVarName.
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*\Z")
# k8s.io/apimachinery validation IsDNS1123Subdomain: at most 253 characters of dot-separated
# labels of lowercase letters, digits and '-', each starting and ending alphanumeric. Not the
# client's minds371_akash.sdl is_hostname on purpose: that one also limits a label to 63
# characters (stricter than this check, so the client never sends what it refuses).
_DNS1123_SUBDOMAIN = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\Z"
)
_INVALID = "invalid manifest"


def manifest_problem(groups: Sequence[Mapping[str, Any]]) -> str:
    """What ``Manifest.Validate`` says of these groups (Go JSON), or ``""`` if nothing."""
    if not groups:
        return f"{_INVALID}: manifest is empty"
    seen: _Seen = _Seen()
    names: set[str] = set()
    for group in groups:
        name = str(group.get("name") or "")
        problem = _group_problem(name, group.get("services") or [], seen)
        if problem:
            return problem
        if name in names:
            return f'{_INVALID}: duplicate group "{name}"'
        names.add(name)
    if seen.global_services == 0:
        return f"{_INVALID}: zero global services"
    return ""


class _Seen:
    """What Validate counts across the whole manifest: global exposes and hostnames."""

    def __init__(self) -> None:
        self.global_services = 0
        self.hostnames: set[str] = set()


def _group_problem(name: str, services: Sequence[Mapping[str, Any]], seen: _Seen) -> str:
    if not services:
        return f'{_INVALID}: group "{name}" contains no services'
    service_names = [str(s.get("name") or "") for s in services]
    if not _is_sorted(service_names):
        return f'{_INVALID}: group "{name}" services is not sorted'
    for service in services:
        problem = _service_problem(service, seen)
        if problem:
            return problem
    return ""


def _service_problem(service: Mapping[str, Any], seen: _Seen) -> str:
    name = str(service.get("name") or "")
    if not name:
        return f"{_INVALID}: service name is empty"
    if not _SERVICE_NAME.match(name):
        return f'{_INVALID}: service "{name}" name is invalid'
    if not service.get("image"):
        return f'{_INVALID}: service "{name}" has empty image name'
    for variable in service.get("env") or []:
        key = str(variable).split("=", 1)[0]
        if not _ENV_NAME.match(key):
            return f'{_INVALID}: service "{name}" defines an env. var. with an invalid name "{key}"'
    exposes = list(service.get("expose") or [])
    if not _is_sorted([_expose_key(e) for e in exposes]):
        return f'{_INVALID}: service "{name}": expose is not sorted'
    for expose in exposes:
        problem = _expose_problem(expose, seen)
        if problem:
            return f'{_INVALID}: service "{name}": {problem}'
    return ""


def _expose_key(expose: Mapping[str, Any]) -> tuple[str, int, str, bool]:
    # ServiceExposes.Less: by service, port, proto; a global one before a local one.
    return (
        str(expose.get("service") or ""),
        int(expose.get("port") or 0),
        str(expose.get("proto") or ""),
        not bool(expose.get("global")),
    )


def _expose_problem(expose: Mapping[str, Any], seen: _Seen) -> str:
    port = int(expose.get("port") or 0)
    if port == 0 or port > 65535:
        return "port value must be 0 < value <= 65535 "
    proto = str(expose.get("proto") or "")
    if proto not in ("TCP", "UDP"):
        return f'protocol "{proto}" unknown'
    if expose.get("global"):
        seen.global_services += 1
    for host in expose.get("hosts") or []:
        text = str(host)
        if len(text) > 253 or not _DNS1123_SUBDOMAIN.match(text):
            return f'has invalid hostname "{text}"'
        if text in seen.hostnames:
            return f'hostname "{text}" is duplicated, this is not allowed'
        seen.hostnames.add(text)
    return ""


def _is_sorted(keys: Sequence[Any]) -> bool:
    """As Go's ``sort.IsSorted``: no element less than the one before it."""
    return all(not keys[i] < keys[i - 1] for i in range(1, len(keys)))
