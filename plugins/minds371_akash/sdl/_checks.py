"""Shared pieces of SDL validation: the issue collector, the chain's limits, small predicates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from minds371.errors import FieldIssue
from minds371_akash.sdl._models import Sdl
from minds371_akash.sdl._units import UnitError, parse_gpu_units

__all__ = [
    "LIMITS",
    "Checker",
    "Limits",
    "fmt_bytes",
    "is_hostname",
    "persistent_flag",
    "safe_gpu_units",
]

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")


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
