"""Resource quantities, parsed by the Go SDL parser's rules.

- CPU: a number of CPUs (``0.5``, ``2``, ``"1.5"``) is multiplied by 1000 and truncated to
  millicores; a string ending in ``m`` (``"500m"``) is an integer number of millicores.
- Sizes (memory, storage): a number with an optional suffix ``k``, ``Ki``, ``M``, ``Mi``, ``G``,
  ``Gi``, ``T``, ``Ti``, ``P``, ``Pi``, ``E``, ``Ei``; decimal suffixes are powers of 1000,
  ``i`` suffixes powers of 1024; no suffix means bytes. ``512M`` is 512,000,000 bytes and
  ``512Mi`` is 536,870,912. Go multiplies as float64 and truncates; so do we (Python floats
  are the same IEEE doubles), so fractional sizes give Go's bytes exactly.
- GPU memory (``ram``) takes only the binary suffixes and is written back in whole ``Gi``.
- Prices are decimals with at most 18 fractional digits (a cosmos ``LegacyDec``).
"""

from __future__ import annotations

import math
import re
from decimal import Context, Decimal, InvalidOperation

from minds371_akash.sdl._yaml import YamlFloat, YamlInt

__all__ = [
    "BYTE_SUFFIXES",
    "UnitError",
    "format_dec",
    "parse_cpu_millis",
    "parse_gpu_ram",
    "parse_gpu_units",
    "parse_price",
    "parse_size",
    "scalar_text",
]

BYTE_SUFFIXES: dict[str, int] = {
    "": 1,
    "k": 1000,
    "Ki": 1024,
    "M": 1000**2,
    "Mi": 1024**2,
    "G": 1000**3,
    "Gi": 1024**3,
    "T": 1000**4,
    "Ti": 1024**4,
    "P": 1000**5,
    "Pi": 1024**5,
    "E": 1000**6,
    "Ei": 1024**6,
}
_BINARY_SUFFIXES = {k: v for k, v in BYTE_SUFFIXES.items() if k.endswith("i")}

_SIZE_RE = re.compile(r"([0-9]+(?:\.[0-9]+)?|\.[0-9]+)(k|[KMGTPE]i|[MGTPE])?\Z")
_CPU_MILLI_RE = re.compile(r"([0-9]+)m\Z")
_CPU_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?\Z")
_PRICE_RE = re.compile(r"[0-9]+(?:\.[0-9]+)?\Z")
_UINT64_MAX = 2**64 - 1
_UINT32_MAX = 2**32 - 1
_DEC_PLACES = 18
_DEC_QUANTUM = Decimal(1).scaleb(-_DEC_PLACES)
_DEC_CONTEXT = Context(prec=80)


class UnitError(ValueError):
    """A quantity could not be parsed; the message says what a valid one looks like."""


def scalar_text(value: object) -> str:
    """The source text of a YAML scalar, as the Go parser sees it."""
    if isinstance(value, YamlInt | YamlFloat):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def parse_cpu_millis(value: object) -> int:
    """Return CPU millicores from ``0.5``, ``2``, ``"1.5"`` or ``"500m"``.

    Raises:
        UnitError: The value is not a CPU quantity.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UnitError('must be a number of CPUs (0.5, 2) or millicores as a string ("500m")')
    text = scalar_text(value).strip()
    milli = _CPU_MILLI_RE.match(text)
    if milli:
        millis = int(milli.group(1))
    elif isinstance(value, int | float) and not isinstance(value, str):
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise UnitError("must be a positive number of CPUs")
        millis = int(number * 1000)
    elif _CPU_RE.match(text):
        millis = int(float(text) * 1000)
    else:
        raise UnitError(
            f'invalid CPU quantity {text!r}; use a number of CPUs (0.5, 2) or "500m" for millicores'
        )
    if millis > _UINT32_MAX:
        raise UnitError(f"CPU quantity {text!r} is too large")
    return millis


def parse_size(value: object, *, what: str = "size") -> int:
    """Return bytes from ``"512Mi"``, ``"1G"``, ``"1.5Gi"`` or ``"1024"``.

    Raises:
        UnitError: The value is not a size.
    """
    if not isinstance(value, str):
        raise UnitError(f'{what} must be a string such as "512Mi" or "1Gi"')
    text = value.strip()
    match = _SIZE_RE.match(text)
    if match is None:
        hint = ""
        if re.match(r"[0-9.]+[kmgtpe]i?\Z", text):
            hint = " (suffixes are case-sensitive: k, Ki, M, Mi, G, Gi, T, Ti, ...)"
        raise UnitError(f'invalid {what} {value!r}; use a number and a unit like "512Mi"{hint}')
    number, suffix = match.group(1), match.group(2) or ""
    multiplier = BYTE_SUFFIXES[suffix]
    result = int(number) * multiplier if "." not in number else int(float(number) * multiplier)
    if result > _UINT64_MAX:
        raise UnitError(f"{what} {value!r} is too large")
    return result


def parse_gpu_ram(value: object) -> str:
    """Return the GPU memory as the attribute text Go writes (whole ``Gi``: ``"80Gi"``).

    Raises:
        UnitError: The value is not a binary size (``80Gi``, ``40960Mi``).
    """
    if not isinstance(value, str):
        raise UnitError('GPU ram must be a string such as "80Gi"')
    text = value.strip()
    match = _SIZE_RE.match(text)
    if match is None or (match.group(2) or "") not in _BINARY_SUFFIXES:
        raise UnitError(f'invalid GPU ram {value!r}; use a binary size such as "80Gi" or "24Gi"')
    number, suffix = match.group(1), match.group(2)
    multiplier = _BINARY_SUFFIXES[suffix]
    size = int(number) * multiplier if "." not in number else int(float(number) * multiplier)
    return f"{size // _BINARY_SUFFIXES['Gi']}Gi"


def parse_gpu_units(value: object) -> int:
    """Return a whole number of GPUs from ``1`` or ``"1"``.

    Raises:
        UnitError: The value is not a non-negative integer.
    """
    if isinstance(value, bool):
        raise UnitError("GPU units must be a whole number")
    if isinstance(value, int):
        number = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    else:
        raise UnitError(f"GPU units must be a whole number, not {scalar_text(value)!r}")
    if number < 0 or number > _UINT64_MAX:
        raise UnitError("GPU units must be a whole number of at least 0")
    return number


def parse_price(value: object) -> Decimal:
    """Return a price amount as an exact decimal (``1000``, ``"0.5"``, ``12.75``).

    Raises:
        UnitError: The value is not a non-negative decimal with at most 18 decimal places.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise UnitError("amount must be a number such as 1000 or 0.5")
    text = scalar_text(value).strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if isinstance(value, str) and not _PRICE_RE.match(text):
        raise UnitError(f"invalid amount {value!r}; use digits with an optional decimal part")
    if not amount.is_finite() or amount < 0:
        raise UnitError(f"invalid amount {text!r}; use a non-negative number")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > _DEC_PLACES:
        raise UnitError(f"amount {text!r} has more than {_DEC_PLACES} decimal places")
    return amount


def format_dec(amount: Decimal) -> str:
    """Format a price as a cosmos ``LegacyDec`` string: always 18 decimal places."""
    # A context of our own (not a copy of the thread's, which costs more than the quantize):
    # 80 digits hold any amount the chain accepts at 18 places, so the result is exact.
    return f"{amount.quantize(_DEC_QUANTUM, context=_DEC_CONTEXT):f}"
