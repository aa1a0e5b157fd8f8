"""The sandbox's image rules: which images pull, which fail, which crash.

The sandbox runs no containers; it decides from the image reference alone, by these rules (also in
the README):

* The registry is the first path component when it contains ``.`` or ``:`` or is ``localhost``,
  otherwise Docker Hub. Known registries pull: Docker Hub, ghcr.io, quay.io, gcr.io and
  ``*.gcr.io``, registry.k8s.io, public.ecr.aws, mcr.microsoft.com, registry.gitlab.com,
  ``*.pkg.dev``, and local registries (``localhost``/``127.0.0.1`` on any port). Any other host
  fails with ``ErrImagePull`` ("no such host"), then ``ImagePullBackOff``.
* A reference by digest to a registry on a loopback host (``127.0.0.1:5000/app@sha256:…``), one
  this machine can ask, pulls only if that registry has the manifest
  (``HEAD /v2/<repository>/manifests/<digest>``, asked once per reference): a 404 fails with
  ``ErrImagePull`` ("manifest unknown"), a registry that does not answer with ``ErrImagePull``
  ("connection refused"), as a provider's pull would. A registry that wants a login (401/403)
  is not second-guessed: the provider would pull with the SDL's credentials.
* A tag beginning with ``nonexistent`` (``nginx:nonexistent``, ``app:nonexistent-1.2``) fails with
  ``ErrImagePull`` ("manifest unknown"), then ``ImagePullBackOff``: the catalogue does not have it.
* A malformed reference (upper case in the repository, empty name) fails with ``InvalidImageName``.
* A tag beginning with ``crashloop``, or ``SANDBOX_CRASH=1`` in the service's ``env``, pulls and
  starts, then exits with code 1 again and again: ``BackOff`` events, ``CrashLoopBackOff``.
* Everything else pulls after the world's ``pull_blocks`` and becomes ready.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import httpx

__all__ = ["ImageVerdict", "classify_image", "parse_image"]

_KNOWN_REGISTRIES = frozenset(
    {
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "ghcr.io",
        "quay.io",
        "gcr.io",
        "registry.k8s.io",
        "public.ecr.aws",
        "mcr.microsoft.com",
        "registry.gitlab.com",
    }
)
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_REPOSITORY = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")


@dataclass(frozen=True, slots=True)
class ImageVerdict:
    """What happens when a provider runs an image.

    Attributes:
        outcome: ``ok``, ``pull_error`` (never becomes ready), ``invalid`` or ``crash_loop``.
        registry: The registry host the image comes from.
        reason: The kubelet's message for a failure ("" when ``ok``).
    """

    outcome: Literal["ok", "pull_error", "invalid", "crash_loop"]
    registry: str
    reason: str = ""


def parse_image(image: str) -> tuple[str, str, str]:
    """Split an image reference into ``(registry, repository, tag-or-digest)``.

    Raises:
        ValueError: If the reference is malformed.
    """
    ref = image.strip()
    if not ref or ref != image:
        raise ValueError("empty or padded image reference")
    digest = ""
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    first, _, rest = ref.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", ref
    tag = "latest"
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not _TAG.match(tag):
            raise ValueError(f"invalid tag {tag!r}")
    if not _REPOSITORY.match(path):
        raise ValueError(f"invalid repository name {path!r}")
    return registry, path, digest or tag


def _is_loopback(registry: str) -> bool:
    host = registry if registry.startswith("[") else registry.rsplit(":", 1)[0]
    return host in _LOCAL_HOSTS or host.split("]")[0] + "]" == "[::1]"


def _known(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if not registry.startswith("[") else registry
    if host in _LOCAL_HOSTS or registry.split(":")[0] in _LOCAL_HOSTS:
        return True
    return registry in _KNOWN_REGISTRIES or registry.endswith(
        (".gcr.io", ".pkg.dev", ".amazonaws.com")
    )


#: Loopback registries' answers, by image reference: "" (it has the manifest) or why a pull fails.
#: Asked once per reference, so that a deployment's fate does not change from block to block.
_LOCAL_MANIFESTS: dict[str, str] = {}
_MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)


def _local_manifest_problem(image: str, registry: str, repository: str, digest: str) -> str:
    """Why a loopback registry cannot give ``digest`` of ``repository`` ("" when it can).

    The distribution API answers ``HEAD /v2/<name>/manifests/<digest>`` with 200 or 404
    (distribution/distribution ``registry/handlers/manifests.go``); containerd's resolver turns
    the 404 into ``<ref>: not found`` and a refused connection into ``dial tcp …: connect:
    connection refused`` (containerd ``remotes/docker/resolver.go``).
    """
    known = _LOCAL_MANIFESTS.get(image)
    if known is not None:
        return known
    url = f"http://{registry}/v2/{repository}/manifests/{digest}"
    try:
        status = httpx.head(url, headers={"accept": _MANIFEST_TYPES}, timeout=2.0).status_code
    except httpx.HTTPError:
        problem = (
            f'failed to pull and unpack image "{image}": failed to resolve reference '
            f'"{image}": failed to do request: Head "{url}": dial tcp {registry}: connect: '
            "connection refused"
        )
    else:
        problem = (
            ""
            if status in (200, 401, 403)
            else f'failed to pull and unpack image "{image}": failed to resolve reference '
            f'"{image}": {image}: not found (manifest unknown)'
        )
    _LOCAL_MANIFESTS[image] = problem
    return problem


def classify_image(image: str, env: Sequence[str] | None = None) -> ImageVerdict:
    """Apply the sandbox's image rules (module docstring) to one service's image and env."""
    try:
        registry, repository, tag = parse_image(image)
    except ValueError as exc:
        return ImageVerdict("invalid", "", f'couldn\'t parse image reference "{image}": {exc}')
    if tag.startswith("sha256:") and _is_loopback(registry):
        problem = _local_manifest_problem(image, registry, repository, tag)
        if problem:
            return ImageVerdict("pull_error", registry, problem)
    if not _known(registry):
        return ImageVerdict(
            "pull_error",
            registry,
            f'failed to pull and unpack image "{image}": failed to resolve reference: '
            f"dial tcp: lookup {registry.split(':')[0]}: no such host",
        )
    if tag.startswith("nonexistent"):
        return ImageVerdict(
            "pull_error",
            registry,
            f'failed to pull and unpack image "{image}": failed to resolve reference '
            f'"{registry}/{repository}:{tag}": {registry}/{repository}:{tag}: not found '
            "(manifest unknown)",
        )
    if tag.startswith("crashloop") or "SANDBOX_CRASH=1" in (env or ()):
        return ImageVerdict("crash_loop", registry, "Back-off restarting failed container")
    return ImageVerdict("ok", registry)
