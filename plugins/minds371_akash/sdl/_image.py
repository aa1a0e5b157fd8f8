"""Container image references, checked by the grammar a provider's kubelet applies.

The chain stores any non-empty image; the provider's Kubernetes node parses it when the pod starts
and fails the container with ``InvalidImageName`` when it does not parse, long after the deposit
and the lease are paid. So references are checked here, before anything is spent, by the rules of
``distribution/reference`` (``regexp.go``, ``reference.go`` ``Parse``, ``normalize.go``
``ParseNormalizedNamed``) and of ``opencontainers/go-digest`` (``algorithm.go``):

- ``name[:tag][@digest]``; ``name`` is ``[domain/]path``, the domain is a host name, an IPv4
  address or a bracketed IPv6 address with an optional ``:port``;
- path components are lowercase letters and digits, joined by one ``.``, one or two ``_``, or any
  number of ``-``; the repository path is at most 255 characters;
- a tag is a word character then up to 127 of ``[A-Za-z0-9_.-]`` (ASCII only, as in Go);
- a digest is ``sha256:`` with 64, ``sha384:`` with 96 or ``sha512:`` with 128 lowercase hex
  digits; a bare 64-hex-digit name is refused (it looks like an image id).
"""

from __future__ import annotations

import re

__all__ = ["MAX_IMAGE_LENGTH", "image_reference_problem", "registry_name_problem"]

MAX_IMAGE_LENGTH = 1024
"""Longest reference considered at all (a name of 255 plus tag and a sha512 digest is ~530)."""

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

_REFERENCE = re.compile(
    rf"(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_PATH})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?",
    re.ASCII,
)
_NAME = re.compile(rf"(?:{_DOMAIN}/)?{_PATH}", re.ASCII)
_IDENTIFIER = re.compile(r"[a-f0-9]{64}", re.ASCII)
_DIGEST_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}
_HEX_LOWER = re.compile(r"[a-f0-9]+", re.ASCII)
_MAX_PATH = 255
# Every character any part of a reference may hold ("[" and "]" around an IPv6 registry).
_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@[]")


def _plain_text_problem(value: str) -> str | None:
    if not value:
        return "must not be empty"
    if len(value) > MAX_IMAGE_LENGTH:
        return f"is longer than {MAX_IMAGE_LENGTH} characters"
    bad = next((c for c in value if c not in _ALLOWED), None)
    if bad == " " and value != value.strip():
        return "must not start or end with spaces"
    if bad is not None:
        return (
            f"contains {bad!r}; image references use only letters, digits and . _ - / : @ "
            "(no spaces, quotes, control characters or shell syntax)"
        )
    return None


def _split_domain(value: str) -> tuple[str, str]:
    """``(domain, rest)`` as ``ParseNormalizedNamed`` splits them ("" when Docker Hub's)."""
    first, slash, rest = value.partition("/")
    if slash and (first == "localhost" or "." in first or ":" in first or first != first.lower()):
        return first, rest
    return "", value


def image_reference_problem(image: str) -> str | None:
    """What is wrong with a container image reference, in words; ``None`` when it is valid.

    Args:
        image: A reference as a service names it (``nginx``, ``nginx:1.27``,
            ``ghcr.io/org/app@sha256:…``, ``localhost:5000/app:dev``).
    """
    problem = _plain_text_problem(image)
    if problem is not None:
        return problem
    if _IDENTIFIER.fullmatch(image):
        return "is a 64-digit hexadecimal image id, not a repository name"
    domain, remainder = _split_domain(image)
    repository = remainder.split("@", 1)[0].split(":", 1)[0]
    if repository != repository.lower():
        return f"repository name {repository!r} must be lowercase"
    match = _REFERENCE.fullmatch(f"{domain}/{remainder}" if domain else remainder)
    if match is None:
        return _explain(image, domain, remainder)
    if len(match["path"]) > _MAX_PATH:
        return f"repository name is longer than {_MAX_PATH} characters"
    digest = match["digest"]
    if digest is not None:
        algorithm, _, encoded = digest.partition(":")
        length = _DIGEST_LENGTHS.get(algorithm)
        if length is None:
            return f"digest algorithm {algorithm!r} is not supported; use sha256"
        if len(encoded) != length or not _HEX_LOWER.fullmatch(encoded):
            return f"a {algorithm} digest is {length} lowercase hexadecimal digits"
    return None


def _explain(image: str, domain: str, remainder: str) -> str:
    """The most specific reason a reference that does not parse fails."""
    name_part, at, digest = remainder.partition("@")
    if at and not re.fullmatch(_DIGEST, digest, re.ASCII):
        return "the digest after '@' must look like sha256:<64 hexadecimal digits>"
    path, colon, tag = name_part.partition(":")
    if domain and not re.fullmatch(_DOMAIN, domain, re.ASCII):
        return f"registry {domain!r} is not a host name or address with an optional :port"
    if colon and not re.fullmatch(_TAG, tag, re.ASCII):
        if not tag:
            return "the tag after ':' is empty"
        return (
            f"tag {tag[:40]!r} is invalid: a tag is 1-128 letters, digits, '_', '.' or '-' "
            "and does not start with '.' or '-'"
        )
    if not path:
        return "the repository name is empty"
    return (
        f"repository name {path[:80]!r} is invalid: use lowercase path components of letters "
        "and digits separated by '/', joined inside by '.', '_', '__' or '-'"
    )


def registry_name_problem(name: str) -> str | None:
    """What is wrong with a registry location to push to (``ghcr.io/org``), or ``None``.

    The same grammar as an image reference's name, without a tag or digest.
    """
    problem = _plain_text_problem(name)
    if problem is not None:
        return problem
    domain, remainder = _split_domain(name)
    if remainder != remainder.lower():
        return f"repository path {remainder!r} must be lowercase"
    if not _NAME.fullmatch(f"{domain}/{remainder}" if domain else remainder):
        return "must be a registry location like ghcr.io/org or registry.example.com:5000/team"
    return None
