"""Shared pieces of SDL validation: the issue collector, the chain's limits, small predicates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from minds371.errors import FieldIssue
from minds371_akash.sdl._models import Sdl
from minds371_akash.sdl._units import UnitError, parse_gpu_units

__all__ = [
    "ATTRIBUTE_KEY",
    "LIMITS",
    "PERSISTENT_CLASSES",
    "Checker",
    "Limits",
    "attribute_value_problem",
    "fmt_bytes",
    "is_hostname",
    "nul_problem",
    "persistent_flag",
    "safe_gpu_units",
]

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")

ATTRIBUTE_KEY = re.compile(r"[a-zA-Z][\w/.\-]{1,126}[\w*]?\Z", re.ASCII)
r"""A placement attribute key, as the chain validates a group's requirements.

chain-sdk ``go/node/types/attributes/v1/attribute.go`` (``AttributeNameRegexpStringWildcard``):
a letter, then 1-126 of ``[A-Za-z0-9_/.-]``, then optionally one word character or ``*`` (a
glob). Go's ``\w`` is ASCII only, hence ``re.ASCII``.
"""

PERSISTENT_CLASSES = ("beta1", "beta2", "beta3")
"""The storage classes providers offer for persistent volumes (chain-sdk ``go/sdl/storage.go``
also allows ``default``, the provider's own default class, and ``ram`` for memory volumes)."""

MAX_ATTRIBUTE_VALUE = 255
# Characters an attribute value written for a shell would carry; no provider publishes them.
_SHELL_SYNTAX = frozenset("$`\\")


@dataclass(frozen=True, slots=True)
class Limits:
    """The chain's hard limits on one deployment (``validation_config.go``)."""

    cpu_min: int = 10
    cpu_max: int = 384_000
    gpu_max: int = 24
    memory_min: int = 1024**2
    memory_max: int = 2 * 1024**4
    storage_min: int = 5 * 1024**2
    storage_max: int = 32 * 1024**4
    count_max: int = 50
    price_max: Decimal = Decimal(10_000_000)
    groups_max: int = 20
    units_per_group_max: int = 20


LIMITS = Limits()
"""The limits in force."""


class Checker:
    """Collects errors and warnings about one SDL, each with its path."""

    def __init__(self, sdl: Sdl) -> None:
        self.sdl = sdl
        self.errors: list[FieldIssue] = []
        self.warnings: list[FieldIssue] = []
        # compute profile -> per-replica [CPU millis, memory, storage, GPUs], as parsed
        self.amounts: dict[str, list[int]] = {}

    def error(self, path: str, message: str) -> None:
        """Record a problem that makes the SDL invalid."""
        self.errors.append(FieldIssue(path, message))

    def warn(self, path: str, message: str) -> None:
        """Record a problem that does not stop a deployment."""
        self.warnings.append(FieldIssue(path, message))


def fmt_bytes(value: int) -> str:
    """A byte count in the largest binary unit that divides it (``"512Mi"``)."""
    for suffix, size in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2)):
        if value % size == 0:
            return f"{value // size}{suffix}"
    return f"{value} bytes"


def is_hostname(host: str) -> bool:
    """Whether ``host`` is a lowercase DNS name the provider's ingress accepts."""
    if not host or len(host) > 253:
        return False
    return all(len(label) <= 63 and _DNS_LABEL.match(label) for label in host.split("."))


def nul_problem(value: str) -> str | None:
    """Why ``value`` cannot reach a container's environment or command line, or ``None``.

    A process receives its arguments and environment as NUL-terminated C strings (``execve``),
    so a value holding NUL cannot be passed: the container would fail to start.
    """
    if "\x00" in value:
        return "contains a NUL character, which no process can receive; remove it"
    return None


def attribute_value_problem(value: str) -> str | None:
    """Why a placement attribute value (``region``, ``tier`` …) can match no provider, or ``None``.

    Providers publish plain values (``us-west``, ``community``) that the bid engine compares
    exactly. The chain stores any text, but a value with control characters (newlines, NUL),
    surrounding spaces or shell syntax matches no provider: the deployment would wait for bids
    with its deposit locked, so it is refused before anything is spent.
    """
    if not value:
        return "must not be empty"
    if len(value) > MAX_ATTRIBUTE_VALUE:
        return f"is longer than {MAX_ATTRIBUTE_VALUE} characters"
    bad = next((c for c in value if not c.isprintable() or c in _SHELL_SYNTAX), None)
    if bad is not None:
        return (
            f"contains {bad!r}; attribute values are plain printable text, without control "
            "characters or shell syntax ($, backquote, backslash)"
        )
    if value != value.strip():
        return "must not start or end with spaces"
    return None


def persistent_flag(value: bool | str) -> bool | None:
    """A storage ``persistent`` attribute as a bool; None when it is not one."""
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(value.strip().lower())


def safe_gpu_units(value: object) -> int:
    """GPU units, or 0 when they do not parse (their own error is reported elsewhere)."""
    try:
        return parse_gpu_units(value)
    except UnitError:
        return 0
