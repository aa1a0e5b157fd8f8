"""Reading a request file: bounded, regular files only, and no YAML 1.1 surprises.

A request file is untrusted and decides what is paid for, so its reader is as strict as the SDL
engine's: the same bounded loader (size, nesting depth, node count after aliases, one document),
YAML 1.2's core schema (``yes``/``on`` and ``1:20`` stay strings, so they fail where a flag or a
number is expected instead of turning into ``True`` or ``80``), no tags beyond the core ones
(``!!binary`` is refused) and no duplicate keys (a second ``budget:`` would silently replace the
first). JSON files get the same rules: duplicate keys, ``NaN`` and ``Infinity`` are refused and
nesting is bounded.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from pathlib import Path
from typing import Any

from minds371.errors import FieldIssue, ValidationError
from minds371_akash.sdl._files import InputFileError, read_bounded
from minds371_akash.sdl._yaml import MAX_DEPTH, load_yaml

__all__ = ["MAX_REQUEST_BYTES", "read_request_file"]

#: Request files larger than this are refused before parsing.
MAX_REQUEST_BYTES = 1_000_000

_SUBJECT = "deployment request"


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


class _Duplicate(ValueError):
    pass


def _file_error(file: Path, reason: str) -> ValidationError:
    return ValidationError([FieldIssue("/", f"{file} {reason}")], subject=_SUBJECT)


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _Duplicate(key)
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a request may hold")


def _depth_issue(data: Any) -> str | None:
    """A path nested deeper than :data:`MAX_DEPTH`, or ``None`` (walked without recursion)."""
    stack: list[tuple[Any, int, str]] = [(data, 0, "")]
    while stack:
        node, depth, path = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if depth >= MAX_DEPTH:
            return path or "/"
        items = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((value, depth + 1, f"{path}/{key}") for key, value in items)
    return None


def _json_depth(text: str) -> int:
    """How deeply the brackets of a JSON text nest (strings left out), without parsing it.

    Measured before parsing because the JSON parser recurses on the C stack: with a raised
    recursion limit a deeply nested document crashes the process instead of raising.
    """
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(1 if char in "[{" else -1 for char in brackets), default=0)


def _load_json(file: Path, data: bytes) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_error(file, f"is not valid UTF-8 (byte {exc.start})") from None
    if _json_depth(text) > MAX_DEPTH:
        raise _file_error(file, f"is nested deeper than {MAX_DEPTH} levels")
    try:
        document = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except _Duplicate as exc:
        # The hook sees one object, not where it is: name the key in words.
        key = str(exc.args[0])[:80]
        raise _file_error(
            file, f"has the key {key!r} twice in one object; each key may appear once"
        ) from None
    except RecursionError:
        raise _file_error(file, f"is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError, constants, over-long integers
        raise _file_error(file, f"is not valid JSON: {_one_line(str(exc))}") from None
    deep = _depth_issue(document)
    if deep is not None:
        raise ValidationError(
            [FieldIssue(deep[:200], f"nesting is deeper than {MAX_DEPTH} levels")],
            subject=_SUBJECT,
        )
    return document


def read_request_file(path: str | Path) -> Any:
    """The data of a request file (``.json`` is JSON, anything else YAML), not yet validated.

    Raises:
        ValidationError: the file is missing, not a regular file, too large, empty, not
            YAML/JSON, hostile (deep nesting, alias bombs, several documents), or holds
            duplicate keys or tags.
    """
    file = Path(path)
    try:
        data = read_bounded(file, MAX_REQUEST_BYTES)
    except InputFileError as exc:
        raise ValidationError([FieldIssue("/", str(exc))], subject=_SUBJECT) from None
    if not data.strip():
        raise _file_error(file, "is empty")
    if file.suffix.lower() == ".json":
        return _load_json(file, data)
    return load_yaml(data, max_bytes=MAX_REQUEST_BYTES, subject=_SUBJECT)
