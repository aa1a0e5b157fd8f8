"""Quantities as chain-sdk TypeScript reads them, for Console's rule set.

Sizes as ``chain-sdk:ts/src/sdl/sizes.ts`` converts them; CPU and GPU units as
``chain-sdk:ts/src/sdl/manifest/manifestUtils.ts`` parses them.
"""

from __future__ import annotations

import math
import re
from typing import Any

from minds371_akash.sdl._ts_js import js_parse_float, js_parse_int

__all__ = ["TsValueError", "ts_cpu_millis", "ts_gpu_units", "ts_size"]

_SIZE = re.compile(r"([\d.]+)([a-z])([a-z]*)\Z")
_CPU_UNITS = re.compile(r"([\d.]+)([a-z]*)\Z")
_PREFIXES = "kmgtpe"


class TsValueError(ValueError):
    """chain-sdk cannot turn a value into a resource quantity (it throws, Console answers 500)."""


def ts_size(text: str) -> int:
    """Bytes as chain-sdk's ``convertResourceString`` reads them (``sizes.ts``).

    The text is lowercased; a number, one prefix letter and optional letters: ``i`` after the
    prefix means 1024-based, anything else 1000-based; the result is rounded up.

    Raises:
        TsValueError: no unit letter, or no number chain-sdk can use.
    """
    match = _SIZE.match(text.lower())
    if match is None:
        raise TsValueError(f"invalid size string {text!r} (chain-sdk needs a number and a unit)")
    value = js_parse_float(match.group(1))
    power = _PREFIXES.find(match.group(2))
    base = 1024 if match.group(3) == "i" else 1000
    result = value * base ** (power + 1) if power != -1 else value
    if not math.isfinite(result):
        raise TsValueError(f"invalid size string {text!r}")
    return math.ceil(result)


def ts_cpu_millis(value: Any) -> float:
    """Millicores as chain-sdk's ``parseCpuUnits`` reads them (may be fractional)."""
    if isinstance(value, str):
        match = _CPU_UNITS.match(value.lower())
        if match is None:
            raise TsValueError(f"invalid CPU units {value!r}")
        number = js_parse_float(match.group(1))
        return number if match.group(2) == "m" else number * 1000
    return float(value) * 1000


def ts_gpu_units(value: Any) -> float:
    """GPU units as chain-sdk's ``parseGpuUnits`` reads them (``parseInt`` of a string)."""
    if value is None:
        return 0
    if isinstance(value, str):
        return js_parse_int(value)
    return float(value)
