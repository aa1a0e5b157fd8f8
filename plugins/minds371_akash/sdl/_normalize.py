"""What a Go provider makes of a manifest it receives.

A provider decodes the manifest JSON into its Go structs (``manifest/v2beta3``) with
``encoding/json`` and hashes the re-marshalled structs. :func:`normalize_manifest` reproduces
that round trip on already-decoded JSON data:

- unknown keys are dropped; keys match struct fields exactly or, failing that, ignoring case
  (as ``encoding/json`` does), the last matching key winning;
- a missing field or a JSON ``null`` leaves the Go zero value: ``""``, ``0``, ``false``,
  ``null`` for slices and pointers, an empty struct for a struct;
- ``omitempty`` fields are dropped when empty (``kind`` 0, empty ``attributes``,
  ``nextCases``, ``params`` when absent, ...);
- integers must be whole numbers within their Go type; resource quantities (``{"val": ...}``)
  are decimal strings re-printed canonically;
- a value of the wrong JSON type is refused, as ``json.Unmarshal`` refuses it (the provider
  answers 422).

Hash the result with ``manifest_version(canonical_json(normalize_manifest(data)))``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from minds371.errors import FieldIssue, ValidationError

__all__ = ["normalize_manifest"]

_UINT32_MAX = 2**32 - 1
_INT32 = (-(2**31), 2**31 - 1)
_MAX_BITS = 256
_SURROGATES = re.compile("[\ud800-\udfff]")
_BIG_INT = re.compile(
    r"[+-]?(0[xX][0-9a-fA-F](_?[0-9a-fA-F])*|0[bB][01](_?[01])*|0[oO]?[0-7](_?[0-7])*"
    r"|[1-9](_?[0-9])*|0)\Z"
)


class _Refused(Exception):
    def __init__(self, path: str, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _string(value: Any, path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Refused(path, f"cannot unmarshal {_kind_of(value)} into a string")
    # Go decodes invalid UTF-16 escapes to U+FFFD.
    return _SURROGATES.sub("\ufffd", value)


def _bool(value: Any, path: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _Refused(path, f"cannot unmarshal {_kind_of(value)} into a bool")
    return value


def _integer(low: int, high: int, type_name: str) -> Callable[[Any, str], int]:
    def decode(value: Any, path: str) -> int:
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Refused(path, f"cannot unmarshal {_kind_of(value)} {value!r} into {type_name}")
        if not low <= value <= high:
            raise _Refused(path, f"number {value} overflows {type_name}")
        return int(value)

    return decode


_uint32 = _integer(0, _UINT32_MAX, "uint32")
_int32 = _integer(_INT32[0], _INT32[1], "int32")


def _big_int(value: Any, path: str) -> str:
    """A cosmos ``math.Int``: a JSON string read with Go's base prefixes, printed in base 10."""
    if value is None:
        raise _Refused(path, "cannot unmarshal null into a quantity")
    if not isinstance(value, str):
        raise _Refused(path, f"cannot unmarshal {_kind_of(value)} into a quantity string")
    if not _BIG_INT.match(value):
        raise _Refused(path, f"{value!r} is not an integer")
    sign = -1 if value.startswith("-") else 1
    digits = value.lstrip("+-").replace("_", "")
    lowered = digits.lower()
    if lowered.startswith("0x"):
        number = int(lowered[2:], 16)
    elif lowered.startswith("0b"):
        number = int(lowered[2:], 2)
    elif lowered.startswith("0o"):
        number = int(lowered[2:], 8)
    elif len(digits) > 1 and digits.startswith("0"):
        number = int(digits[1:], 8)
    else:
        number = int(digits, 10)
    if number.bit_length() > _MAX_BITS:
        raise _Refused(path, f"{value!r} is larger than {_MAX_BITS} bits")
    return str(sign * number)


def _strings(value: Any, path: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise _Refused(path, f"cannot unmarshal {_kind_of(value)} into a list of strings")
    return [_string(item, f"{path}/{index}") for index, item in enumerate(value)]


Decoder = Callable[[Any, str], Any]
# (json key, decoder, omitempty)
Fields = tuple[tuple[str, Decoder, bool], ...]


def _struct(fields: Fields) -> Callable[[Any, str], dict[str, Any]]:
    names = {name for name, _, _ in fields}
    lowered = {name.lower(): name for name in names}

    def decode(value: Any, path: str) -> dict[str, Any]:
        if value is not None and not isinstance(value, dict):
            raise _Refused(path, f"cannot unmarshal {_kind_of(value)} into an object")
        given: dict[str, Any] = {}
        for key, item in (value or {}).items():
            name = key if key in names else lowered.get(key.lower())
            if name is not None:
                given[name] = item
        result: dict[str, Any] = {}
        for name, field_decoder, omitempty in fields:
            decoded = field_decoder(given.get(name), f"{path}/{name}")
            if omitempty and _empty(decoded):
                continue
            result[name] = decoded
        return result

    return decode


def _empty(value: Any) -> bool:
    return value is None or value is False or value == 0 or value == "" or value == []


def _pointer(decoder: Callable[[Any, str], Any]) -> Decoder:
    def decode(value: Any, path: str) -> Any:
        return None if value is None else decoder(value, path)

    return decode


def _slice(decoder: Decoder) -> Decoder:
    def decode(value: Any, path: str) -> list[Any] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            raise _Refused(path, f"cannot unmarshal {_kind_of(value)} into a list")
        return [decoder(item, f"{path}/{index}") for index, item in enumerate(value)]

    return decode


_attribute = _struct((("key", _string, True), ("value", _string, True)))
_attributes = _slice(_attribute)


def _quantity(value: Any, path: str) -> dict[str, str]:
    if value is not None and not isinstance(value, dict):
        raise _Refused(path, f"cannot unmarshal {_kind_of(value)} into a quantity object")
    found = False
    raw: Any = None
    fields: dict[str, Any] = value or {}
    for key, item in fields.items():
        if key.lower() == "val":
            found, raw = True, item
    # A missing `val` leaves a nil Int, which Go marshals as "0"; an explicit null is refused.
    return {"val": _big_int(raw, f"{path}/val") if found else "0"}


_cpu = _struct((("units", _quantity, False), ("attributes", _attributes, True)))
_memory = _struct((("size", _quantity, False), ("attributes", _attributes, True)))
_volume = _struct(
    (("name", _string, False), ("size", _quantity, False), ("attributes", _attributes, True))
)
_gpu = _struct((("units", _quantity, False), ("attributes", _attributes, True)))
_endpoint = _struct((("kind", _int32, True), ("sequence_number", _uint32, False)))
_resources = _struct(
    (
        ("id", _uint32, False),
        ("cpu", _pointer(_cpu), True),
        ("memory", _pointer(_memory), True),
        ("storage", _slice(_volume), True),
        ("gpu", _pointer(_gpu), True),
        ("endpoints", _slice(_endpoint), False),
    )
)
_http_options = _struct(
    (
        ("maxBodySize", _uint32, False),
        ("readTimeout", _uint32, False),
        ("sendTimeout", _uint32, False),
        ("nextTries", _uint32, False),
        ("nextTimeout", _uint32, False),
        ("nextCases", _strings, True),
        ("proxyBufferSize", _uint32, True),
    )
)
_expose = _struct(
    (
        ("port", _uint32, False),
        ("externalPort", _uint32, False),
        ("proto", _string, False),
        ("service", _string, False),
        ("global", _bool, False),
        ("hosts", _strings, False),
        ("httpOptions", _http_options, False),
        ("ip", _string, False),
        ("endpointSequenceNumber", _uint32, False),
    )
)
_credentials = _struct(
    (
        ("host", _string, False),
        ("email", _string, False),
        ("username", _string, False),
        ("password", _string, False),
    )
)
_storage_params = _struct(
    (("name", _string, False), ("mount", _string, False), ("readOnly", _bool, False))
)
_permissions = _struct((("read", _strings, True),))
_tee = _struct((("type", _string, False), ("attestation", _bool, False)))
_params = _struct(
    (
        ("storage", _slice(_storage_params), False),
        ("credentials", _pointer(_credentials), True),
        ("permissions", _pointer(_permissions), True),
        ("tee", _pointer(_tee), True),
    )
)
_service = _struct(
    (
        ("name", _string, False),
        ("image", _string, False),
        ("command", _strings, False),
        ("args", _strings, False),
        ("env", _strings, False),
        ("resources", _resources, False),
        ("count", _uint32, False),
        ("expose", _slice(_expose), False),
        ("params", _pointer(_params), True),
        ("credentials", _pointer(_credentials), False),
    )
)
_group = _struct((("name", _string, False), ("services", _slice(_service), False)))


def normalize_manifest(data: Any) -> list[dict[str, Any]]:
    """Return what a Go provider re-marshals after decoding ``data`` into its manifest structs.

    Args:
        data: A decoded manifest (``json.loads`` of the body a provider received).

    Returns:
        The manifest groups as Go would marshal them; pass them to ``canonical_json`` and
        ``manifest_version`` to get the hash the provider compares with the chain.

    Raises:
        ValidationError: ``data`` has a shape Go's decoder refuses (wrong JSON types, numbers
            out of range, malformed quantities) or is not a non-empty list of groups.
    """
    if not isinstance(data, list):
        raise ValidationError(
            [FieldIssue("/", f"a manifest is a JSON array of groups, not {_kind_of(data)}")],
            subject="manifest",
        )
    if not data:
        raise ValidationError([FieldIssue("/", "the manifest is empty")], subject="manifest")
    try:
        return [_group(group, f"/{index}") for index, group in enumerate(data)]
    except _Refused as exc:
        raise ValidationError([FieldIssue(exc.path, exc.message)], subject="manifest") from None
