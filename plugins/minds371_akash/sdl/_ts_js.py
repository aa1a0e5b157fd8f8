"""JavaScript semantics that Console's SDL code relies on, for the Console rule set.

Console (``console:apps/api/src/deployment/services/sdl/sdl.service.ts``) builds manifests with
chain-sdk's TypeScript (``chain-sdk:ts/src/sdl``), which orders names with
``String.prototype.localeCompare``, stringifies attribute values with ``String(value)``, reads
sizes with ``parseFloat`` and walks objects in JavaScript's own key order. These helpers give
the same answers in Python for the values a YAML document can hold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "js_keys",
    "js_number_text",
    "js_parse_float",
    "js_parse_int",
    "js_string",
    "js_truthy",
    "locale_key",
]

# The root collation order of printable ASCII (CLDR/DUCET, what Node's ICU uses for
# `localeCompare` without a locale): white space and punctuation, symbols, currency, digits,
# then letters with lowercase before uppercase at the tertiary level.
_PUNCTUATION = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789"
_PRIMARY = {char: index for index, char in enumerate(_PUNCTUATION)}
_LETTER_BASE = len(_PUNCTUATION)
_ARRAY_INDEX = re.compile(r"(0|[1-9][0-9]*)\Z")
_FLOAT_PREFIX = re.compile(r"[+-]?(\d+\.?\d*(e[+-]?\d+)?|\.\d+(e[+-]?\d+)?)", re.IGNORECASE)
_INT_PREFIX = re.compile(r"\s*([+-]?\d+)")


def locale_key(text: str) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    """A sort key ordering strings as ``a.localeCompare(b)`` does for ASCII text.

    Letters compare case-insensitively first, then lowercase before uppercase; characters
    outside ASCII fall back to their code point after every ASCII character.
    """
    primary: list[int] = []
    tertiary: list[int] = []
    for char in text:
        lower = char.lower()
        if char in _PRIMARY:
            primary.append(_PRIMARY[char])
        elif "a" <= lower <= "z":
            primary.append(_LETTER_BASE + ord(lower) - ord("a"))
        else:
            primary.append(_LETTER_BASE + 26 + ord(char))
        tertiary.append(1 if char != lower else 0)
    return tuple(primary), tuple(tertiary), text


def js_keys(obj: Mapping[str, Any]) -> list[str]:
    """An object's keys in JavaScript order: array-index keys ascending, then insertion order."""
    keys = [str(k) for k in obj]
    indices = sorted((k for k in keys if _ARRAY_INDEX.match(k) and int(k) < 2**32 - 1), key=int)
    taken = set(indices)
    return indices + [k for k in keys if k not in taken]


def js_number_text(value: float) -> str:
    """``Number.prototype.toString`` for the numbers a manifest can hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa.removesuffix('.0')}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text


def js_string(value: Any) -> str:
    """``String(value)`` for YAML values (``true`` → ``"true"``, ``1.0`` → ``"1"``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return js_number_text(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, Iterable):
        return ",".join("" if v is None else js_string(v) for v in value)
    return str(value)


def js_truthy(value: Any) -> bool:
    """JavaScript truthiness (``""``, ``0``, ``NaN``, ``null`` are false; ``[]``, ``{}`` true)."""
    if value is None or value is False:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def js_parse_float(text: str) -> float:
    """``parseFloat(text)``: the longest leading decimal number, or NaN."""
    match = _FLOAT_PREFIX.match(text.lstrip())
    if match is None:
        return math.nan
    return float(match.group(0))


def js_parse_int(text: str) -> float:
    """``parseInt(text, 10)``: the leading whole number, or NaN."""
    match = _INT_PREFIX.match(text)
    return float(int(match.group(1))) if match else math.nan
