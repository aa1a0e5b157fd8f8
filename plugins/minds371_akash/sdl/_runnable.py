"""Checks an SDL must pass before money is spent on it, beyond what its network validates.

The chain and Console accept deployments whose images, environment or placement can never work:
a provider finds out when it checks the manifest, pulls the image or starts the container (after
the lease is paid), and a placement that matches no provider keeps the deposit locked for the
whole bid wait. These checks refuse such SDLs before the first transaction, whichever rules (Go's
or Console's) the network applies to the rest, so they read the document's data defensively
rather than a model one rule set built. The sandbox's chain does not apply them: a deployment it
is sent still fails as the real one would.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from minds371.errors import FieldIssue, ValidationError
from minds371_akash.sdl._checks import (
    ATTRIBUTE_KEY,
    PERSISTENT_CLASSES,
    attribute_value_problem,
    is_hostname,
    nul_problem,
    persistent_flag,
)
from minds371_akash.sdl._image import image_reference_problem
from minds371_akash.sdl._models import Sdl
from minds371_akash.sdl._units import scalar_text
from minds371_akash.sdl._yaml import load_yaml

__all__ = ["runnable_issues"]

# Kubernetes refuses a pod whose environment has another name (apimachinery validation
# IsEnvVarName); the provider builds one pod per service (provider cluster/kube/builder).
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*\Z")
# The classes a volume may ask for (chain-sdk go/sdl/storage.go allowedStorageClasses).
_STORAGE_CLASSES = ("default", *PERSISTENT_CLASSES, "ram")


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> Iterator[tuple[int, Any]]:
    return enumerate(value) if isinstance(value, list | tuple) else iter(())


def _service_issues(name: str, service: dict[str, Any]) -> Iterator[FieldIssue]:
    base = f"/services/{name}"
    image = service.get("image")
    if isinstance(image, str) and image:  # a missing or empty image is the schema's to report
        problem = image_reference_problem(image)
        if problem is not None:
            yield FieldIssue(f"{base}/image", f"invalid image reference: {problem}")
    for field in ("command", "args", "env"):
        for index, item in _items(service.get(field)):
            problem = nul_problem(item) if isinstance(item, str) else None
            if problem is not None:
                yield FieldIssue(f"{base}/{field}/{index}", problem)
            elif field == "env" and isinstance(item, str):
                name = item.split("=", 1)[0]
                if not _ENV_NAME.match(name):
                    yield FieldIssue(
                        f"{base}/env/{index}",
                        f"invalid variable name {name[:60]!r}: letters, digits, '_', '-', '.', "
                        "not starting with a digit (Kubernetes refuses the pod otherwise)",
                    )
    for index, expose in _items(service.get("expose")):
        for host_index, host in _items(_mapping(expose).get("accept")):
            # The provider validates the manifest it receives: hosts are DNS-1123 subdomains
            # (chain-sdk go/manifest/v2beta3 serviceexpose.go, helpers.go isValidHostname).
            if isinstance(host, str) and not is_hostname(host):
                yield FieldIssue(
                    f"{base}/expose/{index}/accept/{host_index}",
                    f"{host[:80]!r} is not a hostname a provider accepts "
                    "(lowercase letters, digits, '-' and '.')",
                )


def _storage_issues(profile: str, storage: Any) -> Iterator[FieldIssue]:
    volumes = [(0, storage)] if isinstance(storage, dict) else list(_items(storage))
    for index, volume in volumes:
        attrs = _mapping(_mapping(volume).get("attributes"))
        path = f"/profiles/compute/{profile}/resources/storage/{index}/attributes/class"
        storage_class = attrs.get("class")
        if isinstance(storage_class, str) and storage_class not in _STORAGE_CLASSES:
            yield FieldIssue(
                path,
                f"unknown storage class {storage_class[:40]!r}; providers offer "
                + ", ".join(_STORAGE_CLASSES),
            )
        persistent = attrs.get("persistent", False)
        if not isinstance(persistent, bool | str) or not persistent_flag(persistent):
            continue
        if storage_class is None:
            yield FieldIssue(
                path,
                "a persistent volume needs a storage class: "
                + ", ".join(PERSISTENT_CLASSES)
                + " (the classes providers offer)",
            )


def _placement_issues(name: str, placement: dict[str, Any]) -> Iterator[FieldIssue]:
    for key, value in _mapping(placement.get("attributes")).items():
        path = f"/profiles/placement/{name}/attributes/{key}"
        if not ATTRIBUTE_KEY.match(key):
            # The chain refuses the group (chain-sdk attributes/v1 attribute.go).
            yield FieldIssue(
                path,
                "attribute keys are 2-128 ASCII characters: a letter, then letters, digits, "
                "_ / . - (a trailing * is a wildcard)",
            )
            continue
        if isinstance(value, dict | list) or value is None:
            continue  # the schema reports the type
        text = scalar_text(value)
        problem = attribute_value_problem(text) if text else None  # "" is the schema's to report
        if problem is not None:
            yield FieldIssue(path, problem)


def _global_issues(document: dict[str, Any]) -> Iterator[FieldIssue]:
    """A manifest with no global service is refused by every provider.

    The provider validates each manifest it receives (``provider:manifest/manager.go``
    ``validateRequest`` calls ``Manifest.Validate``), and ``chain-sdk:go/manifest/v2beta3/
    groups.go`` refuses one whose exposes include no ``global`` one: "invalid manifest: zero
    global services", answered 422 (``provider:manifest/gateway.go``). Neither SDL parser checks
    it, so the chain and Console take the deposit and the lease first.
    """
    services = _mapping(document.get("services"))
    deployed = [name for name in _mapping(document.get("deployment")) if name in services]
    if not deployed:
        return  # the schema reports a deployment with no service
    for name in deployed:
        for _, expose in _items(_mapping(services[name]).get("expose")):
            if any(
                _mapping(to).get("global") is True for _, to in _items(_mapping(expose).get("to"))
            ):
                return
    yield FieldIssue(
        "/services",
        "no deployed service exposes a port with `to: [{global: true}]`: providers refuse a "
        "manifest without one ('zero global services'), after the deposit and the lease are "
        "paid; expose at least one port globally",
    )


def runnable_issues(sdl: Sdl | str | bytes | dict[str, Any]) -> list[FieldIssue]:
    """Problems of an SDL that no provider could run or bid on, each with its path.

    - an image reference the kubelet cannot parse (``InvalidImageName``);
    - a NUL character in ``command``, ``args`` or ``env`` (no process can receive it), or an
      environment variable name Kubernetes refuses;
    - a storage class no provider offers;
    - an ``accept`` host the provider's manifest check refuses;
    - a persistent volume without a storage class: the Go parser turns it into ``default``,
      which a provider serves only if it marks a class as its default, while chain-sdk's SDL
      input schema (``go/sdl/sdl-input.schema.yaml``) requires ``class`` with ``persistent``;
    - a placement attribute key the chain refuses, or a value with control characters or shell
      syntax (it matches no provider, so no bid would ever come);
    - no deployed service exposed globally (every provider refuses such a manifest).

    Args:
        sdl: A parsed :class:`Sdl`, SDL text (read with the bounded loader; text that does
            not load is left to the network's own rules to report), or the data that loader
            read from SDL text (it is not changed).
    """
    if isinstance(sdl, Sdl):
        data: Any = sdl.model_dump(by_alias=True, exclude_none=True)
    elif isinstance(sdl, dict):
        data = sdl
    else:
        try:
            data = load_yaml(sdl)
        except ValidationError:
            return []
    document = _mapping(data)
    issues: list[FieldIssue] = []
    for name, service in _mapping(document.get("services")).items():
        issues += _service_issues(name, _mapping(service))
    profiles = _mapping(document.get("profiles"))
    for name, compute in _mapping(profiles.get("compute")).items():
        storage = _mapping(_mapping(compute).get("resources")).get("storage")
        issues += _storage_issues(name, storage)
    for name, placement in _mapping(profiles.get("placement")).items():
        issues += _placement_issues(name, _mapping(placement))
    issues += _global_issues(document)
    return issues
