"""The canonical JSON form of a manifest and its version hash.

A provider decodes the manifest it receives into Go structs, marshals it with ``json.Marshal``,
re-sorts it with cosmos ``sdk.SortJSON`` and compares the sha256 of those bytes with the hash
stored on chain. This module reproduces that byte form: object keys sorted, no whitespace,
HTML-sensitive characters (``<``, ``>``, ``&``) and the JavaScript line terminators U+2028 and
U+2029 escaped as Go escapes them, control characters escaped as Go does.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "encode_trusted", "manifest_version", "manifest_version_bytes"]

_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    sort_keys=True,
    separators=(",", ":"),
    allow_nan=False,
    check_circular=True,
)
# Data built by this package has no cycles: skip the encoder's cycle bookkeeping.
_TRUSTED_ENCODER = json.JSONEncoder(
    ensure_ascii=False,
    sort_keys=True,
    separators=(",", ":"),
    allow_nan=False,
    check_circular=False,
)

# Go's encoder escapes these on top of what Python's escapes (Python already writes \b, \f,
# \n, \r, \t and \u00XX for other control characters, as Go >= 1.22 does).
_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def canonical_json(obj: Any) -> str:
    """Serialize ``obj`` exactly as Go's ``json.Marshal`` followed by ``sdk.SortJSON`` would.

    Args:
        obj: JSON-compatible data (dicts with string keys, lists, str, int, bool, None).
            Floats are refused: manifests carry none, and Go would format them differently.

    Returns:
        The canonical text. It is what gets hashed and what must be sent to providers.

    Raises:
        TypeError: ``obj`` holds a float or a type JSON cannot represent.
    """
    _refuse_floats(obj)
    return _escape(_ENCODER.encode(obj))


def encode_trusted(obj: Any) -> str:
    """:func:`canonical_json` for data known to hold no floats (built by this package)."""
    # The characters Go escapes can only appear inside JSON strings, so replacing them in the
    # whole text is the same as escaping them string by string.
    return _escape(_TRUSTED_ENCODER.encode(obj))


def _escape(text: str) -> str:
    for char, escape in _GO_ESCAPES:
        # Most manifests hold none of these; `in` is a fast scan, replace() copies the text.
        if char in text:
            text = text.replace(char, escape)
    return text


def _refuse_floats(obj: Any) -> None:
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, float):
            raise TypeError("canonical manifest JSON holds no floats")
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def manifest_version_bytes(canonical: str) -> bytes:
    """Return the raw 32-byte sha256 of a canonical manifest string (what goes on chain)."""
    # Lone surrogates cannot be produced by Go; encode them as Go would decode them (U+FFFD).
    return hashlib.sha256(canonical.encode("utf-8", "replace")).digest()


def manifest_version(canonical: str) -> str:
    """Return the manifest version: the sha256 hex digest of the canonical JSON's UTF-8 bytes.

    Args:
        canonical: A string produced by :func:`canonical_json`.

    Returns:
        64 lowercase hex characters.
    """
    return manifest_version_bytes(canonical).hex()
