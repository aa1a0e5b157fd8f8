"""Checks an SDL must pass before money is spent on it, beyond what the chain validates.

The chain accepts a deployment whose images, environment or placement can never work: a provider
finds out when it pulls the image or starts the container (after the lease is paid), and a
placement that matches no provider keeps the deposit locked for the whole bid wait. These checks
refuse such SDLs before the first transaction. They are the client's, not the network's, so the
sandbox's chain does not apply them (a deployment it is sent still fails as the real one would).
"""

from __future__ import annotations

from minds371.errors import FieldIssue
from minds371_akash.sdl._checks import (
    PERSISTENT_CLASSES,
    attribute_value_problem,
    nul_problem,
    persistent_flag,
)
from minds371_akash.sdl._image import image_reference_problem
from minds371_akash.sdl._models import Sdl, Service
from minds371_akash.sdl._units import scalar_text

__all__ = ["runnable_issues"]


def _service_issues(name: str, service: Service) -> list[FieldIssue]:
    base = f"/services/{name}"
    issues = []
    problem = image_reference_problem(service.image)
    if problem is not None:
        issues.append(FieldIssue(f"{base}/image", f"invalid image reference: {problem}"))
    for field in ("command", "args", "env"):
        for index, item in enumerate(getattr(service, field) or ()):
            problem = nul_problem(item)
            if problem is not None:
                issues.append(FieldIssue(f"{base}/{field}/{index}", problem))
    return issues


def runnable_issues(sdl: Sdl) -> list[FieldIssue]:
    """Problems of a chain-valid SDL that no provider could run or bid on, each with its path.

    - an image reference the kubelet cannot parse (``InvalidImageName``);
    - a NUL character in ``command``, ``args`` or ``env`` (no process can receive it);
    - a persistent volume without a storage class: the Go parser turns it into ``default``,
      which a provider serves only if it marks a class as its default, while chain-sdk's SDL
      input schema (``go/sdl/sdl-input.schema.yaml``) requires ``class`` with ``persistent``;
    - a placement attribute value with control characters or shell syntax (it matches no
      provider, so no bid would ever come).
    """
    issues: list[FieldIssue] = []
    for name, service in sdl.services.items():
        issues += _service_issues(name, service)
    for profile, compute in sdl.profiles.compute.items():
        for index, volume in enumerate(compute.resources.storage):
            attrs = volume.attributes
            if attrs is None or not persistent_flag(attrs.persistent) or attrs.class_ is not None:
                continue
            issues.append(
                FieldIssue(
                    f"/profiles/compute/{profile}/resources/storage/{index}/attributes/class",
                    "a persistent volume needs a storage class: "
                    + ", ".join(PERSISTENT_CLASSES)
                    + " (the classes providers offer)",
                )
            )
    for placement_name, placement in sdl.profiles.placement.items():
        for key, value in (placement.attributes or {}).items():
            text = scalar_text(value)
            problem = attribute_value_problem(text) if text else None  # "" is reported already
            if problem is not None:
                issues.append(
                    FieldIssue(f"/profiles/placement/{placement_name}/attributes/{key}", problem)
                )
    return issues
