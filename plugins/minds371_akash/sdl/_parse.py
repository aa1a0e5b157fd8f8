"""``parse_sdl``: safe YAML, schema models, semantic rules; every issue with its path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pydantic

from minds371.errors import FieldIssue, ValidationError, describe_pattern, pointer
from minds371_akash.sdl._models import Sdl
from minds371_akash.sdl._validate import validate_sdl
from minds371_akash.sdl._yaml import YamlFloat, YamlInt, load_yaml

__all__ = ["ensure_valid", "parse_sdl", "schema_issues"]

_SUBJECT = "SDL"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


_TEMPLATES = {
    "extra_forbidden": "unknown field; remove it or check its spelling",
    "missing": "required field is missing",
    "int_type": "must be a whole number{got}",
    "int_from_float": "must be a whole number{got}",
    "bool_type": "must be true or false{got}",
    "dict_type": "must be a mapping{got}",
    "model_type": "must be a mapping{got}",
    "model_attributes_type": "must be a mapping{got}",
    "tuple_type": "must be a list{got}",
    "list_type": "must be a list{got}",
    "greater_than": "must be greater than {gt}",
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "float_type": "must be a number{got}",
    "float_parsing": "must be a number{got}",
    "decimal_type": "must be a number{got}",
    "decimal_parsing": "must be a number{got}",
    "decimal_max_places": "must have at most {decimal_places} decimal places",
}


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = dict(error.get("ctx") or {})
    value = error.get("input")
    got = f", not {_describe(value)}"
    if kind in _TEMPLATES:
        try:
            return _TEMPLATES[kind].format(got=got, **ctx)
        except (KeyError, IndexError):
            return str(error.get("msg", "invalid value"))
    if kind in ("string_type", "str_type"):
        hint = " (quote it)" if isinstance(value, int | float | bool) else ""
        return f"must be a string{got}{hint}"
    if kind == "string_pattern_mismatch":
        return describe_pattern(str(ctx.get("pattern", "")))
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", '"')
        shown = repr(value) if isinstance(value, str) else _describe(value)
        return f"must be one of {expected}, not {shown}"
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"must be at least {minimum} characters"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


_MARKER = re.compile(r"function-(before|after|wrap|plain)\[")


def _location(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # Drop pydantic's validator markers from the path; user keys (even with "[") stay.
    return tuple(part for part in loc if not (isinstance(part, str) and _MARKER.match(part)))


def schema_issues(exc: pydantic.ValidationError, *, prefix: str = "") -> list[FieldIssue]:
    """Turn a pydantic error into one :class:`FieldIssue` per problem, with SDL paths."""
    issues = []
    for error in exc.errors(include_url=False):
        path = prefix + pointer(_location(tuple(error["loc"])))
        if error["type"] == "literal_error" and path == "/version":
            message = 'must be "2.0" or "2.1" (quoted, so YAML reads it as a string)'
        else:
            message = _message(error)
        issues.append(FieldIssue(path or "/", message))
    return issues


def parse_sdl(text: str | bytes) -> Sdl:
    """Parse and validate an SDL document.

    Args:
        text: The SDL YAML, as text or UTF-8 bytes.

    Returns:
        The validated :class:`Sdl`; non-blocking problems are in ``Sdl.warnings``.

    Raises:
        ValidationError: With ``subject="SDL"`` and every issue found, each with its path
            (``/services/web/expose/0/port``) and what to fix.
    """
    data = load_yaml(text)
    if not isinstance(data, dict):
        raise ValidationError(
            [FieldIssue("/", f"an SDL is a YAML mapping, not {_describe(data)}")],
            subject=_SUBJECT,
        )
    version = data.get("version")
    if isinstance(version, YamlFloat | YamlInt) and version.text in ("2.0", "2.1", "2"):
        raise ValidationError(
            [FieldIssue("/version", f'write version: "{version.text}" (quoted) so it is a string')],
            subject=_SUBJECT,
        )
    try:
        sdl = Sdl.model_validate(data)
    except pydantic.ValidationError as exc:
        raise ValidationError(schema_issues(exc), subject=_SUBJECT) from None
    return ensure_valid(sdl)


def ensure_valid(sdl: Sdl) -> Sdl:
    """Run the semantic rules on ``sdl`` unless ``parse_sdl`` already did; record warnings.

    Raises:
        ValidationError: With every issue found.
    """
    # Read the private state from pydantic's store: `sdl._warnings` would first fail the
    # normal attribute lookup, and that costs more than the rest of this function.
    private = sdl.__pydantic_private__
    if private is not None and private.get("_warnings") is not None:
        return sdl
    errors, warnings = validate_sdl(sdl)
    if errors:
        raise ValidationError(errors, subject=_SUBJECT)
    sdl._warnings = tuple(warnings)
    return sdl
