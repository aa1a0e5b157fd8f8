"""Safe, bounded YAML loading for SDL documents.

``yaml.safe_load`` alone is not enough for untrusted input: an alias bomb ("billion laughs")
expands to an exponential number of nodes as soon as anything walks the result, deep nesting
can exhaust the stack, and a huge file is read whole. This loader builds Python objects
straight from the parser's event stream and enforces, while it goes:

- a size limit on the input (checked before parsing),
- a nesting depth limit,
- a limit on the number of nodes *after* alias expansion (an alias costs as much as the
  subtree it names), so an alias bomb is refused after a few thousand events.

Scalars follow YAML 1.2's core schema, as the Go SDL parser does: only ``true``/``false`` are
booleans (``yes``, ``on``, ``off`` stay strings), no sexagesimal numbers, no timestamps.
Integers and floats keep their source text (:class:`YamlInt`, :class:`YamlFloat`), because the
Go parser reads string fields from the raw scalar text (``attributes: {tier: 1.50}`` is
``"1.50"``). Duplicate mapping keys are refused, as in Go; ``<<`` merge keys are supported.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from minds371.errors import FieldIssue, ValidationError

__all__ = [
    "MAX_DEPTH",
    "DocumentError",
    "MAX_INPUT_BYTES",
    "MAX_NODES",
    "YamlFloat",
    "YamlInt",
    "load_yaml",
]

MAX_INPUT_BYTES = 1_048_576
"""Largest SDL accepted, in bytes (real SDLs are a few kilobytes)."""

MAX_DEPTH = 64
"""Deepest nesting of collections accepted (the SDL schema needs about 12)."""

MAX_NODES = 100_000
"""Most nodes accepted after alias expansion."""

_SUBJECT = "SDL"

_INT_RE = re.compile(r"[-+]?[0-9]+\Z")
_OCT_RE = re.compile(r"0o[0-7]+\Z")
_HEX_RE = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT_RE = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\Z")
_INF_RE = re.compile(r"[-+]?\.(inf|Inf|INF)\Z")
_NAN_RE = re.compile(r"\.(nan|NaN|NAN)\Z")
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_TRUES = frozenset(("true", "True", "TRUE"))
_FALSES = frozenset(("false", "False", "FALSE"))

_TAG_PREFIX = "tag:yaml.org,2002:"
_MERGE_KEY = "<<"


class DocumentError(ValidationError):
    """The document as a whole was refused (too large, not YAML, hostile, ...)."""


class YamlInt(int):
    """An integer read from YAML that remembers its source text (``0x1F``, ``+5``)."""

    text: str


class YamlFloat(float):
    """A float read from YAML that remembers its source text (``1.50``, ``1e3``)."""

    text: str


def _int(text: str, value: int) -> YamlInt:
    result = YamlInt(value)
    result.text = text
    return result


def _float(text: str, value: float) -> YamlFloat:
    result = YamlFloat(value)
    result.text = text
    return result


def _resolve_plain(text: str) -> Any:
    """Resolve a plain (unquoted, untagged) scalar by the YAML 1.2 core schema."""
    if text in _NULLS:
        return None
    first = text[0]
    # Only a few leading characters can start a non-string; skip the regexes otherwise.
    if first not in "0123456789+-.tTfFnN~":
        return text
    if text in _TRUES:
        return True
    if text in _FALSES:
        return False
    if _INT_RE.match(text):
        return _int(text, int(text, 10))
    if _OCT_RE.match(text):
        return _int(text, int(text[2:], 8))
    if _HEX_RE.match(text):
        return _int(text, int(text[2:], 16))
    if _FLOAT_RE.match(text):
        return _float(text, float(text))
    if _INF_RE.match(text):
        return _float(text, float("-inf") if text.startswith("-") else float("inf"))
    if _NAN_RE.match(text):
        return _float(text, float("nan"))
    return text


def _resolve_tagged(tag: str, text: str, path: str) -> Any:
    """Resolve a scalar carrying an explicit core tag (``!!str 80``, ``!!int "80"``)."""
    if tag in ("!", _TAG_PREFIX + "str"):
        return text
    name = tag.removeprefix(_TAG_PREFIX)
    value = _resolve_plain(text) if text else None
    expected: dict[str, tuple[type, ...]] = {
        "int": (YamlInt,),
        "float": (YamlFloat, YamlInt),
        "bool": (bool,),
        "null": (type(None),),
    }
    kinds = expected.get(name)
    if kinds is None or tag == name:
        raise _error(path, f"unsupported YAML tag {tag!r}; remove the tag")
    if not isinstance(value, kinds):
        raise _error(path, f"value {text!r} is not a valid {name}")
    if name == "float" and isinstance(value, YamlInt):
        return _float(text, float(value))
    return value


def _error(path: str, message: str) -> DocumentError:
    return DocumentError([FieldIssue(path or "/", message)], subject=_SUBJECT)


def _decode(data: str | bytes, max_bytes: int) -> str:
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise _error("/", f"document is {len(data)} bytes; the limit is {max_bytes} bytes")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise _error("/", f"document is not valid UTF-8 (byte {exc.start})") from exc
    else:
        # Cheap bound first: a str never encodes to fewer bytes than it has characters.
        if len(data) > max_bytes or len(data.encode("utf-8", "surrogatepass")) > max_bytes:
            raise _error("/", f"document is larger than the limit of {max_bytes} bytes")
        text = data
    if not text.strip():
        raise _error("/", "document is empty")
    return text


class _Frame:
    """One open collection while building from events."""

    __slots__ = ("anchor", "key", "merges", "path", "seen", "size", "value")

    def __init__(self, value: dict[str, Any] | list[Any], anchor: str | None, path: str) -> None:
        self.value = value
        self.anchor = anchor
        self.path = path
        self.key: str | None = None
        self.size = 1
        self.merges: list[dict[str, Any]] = []
        self.seen: set[str] = set()


def load_yaml(
    data: str | bytes,
    *,
    max_bytes: int = MAX_INPUT_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Any:
    """Parse one YAML document safely and return plain Python data.

    Args:
        data: The document, as text or UTF-8 bytes.
        max_bytes: Refuse larger input before parsing it.
        max_depth: Refuse deeper nesting of mappings and sequences.
        max_nodes: Refuse documents with more nodes after alias expansion.

    Returns:
        Mappings as ``dict`` (string keys), sequences as ``list``, scalars as ``str``,
        :class:`YamlInt`, :class:`YamlFloat`, ``bool`` or ``None``.

    Raises:
        ValidationError: The input is empty, too large, too deep, an alias bomb, not YAML, or
            holds several documents, duplicate keys, unsupported tags or complex keys.
    """
    text = _decode(data, max_bytes)
    try:
        return _build(text, max_depth, max_nodes)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or "invalid YAML"
        raise _error("/", f"not valid YAML: {problem}{where}") from exc
    except yaml.YAMLError as exc:
        raise _error("/", f"not valid YAML: {exc}") from exc


def _build(text: str, max_depth: int, max_nodes: int) -> Any:  # noqa: C901
    anchors: dict[str, tuple[Any, int]] = {}
    stack: list[_Frame] = []
    total = 0
    documents = 0
    root: Any = None

    def count(nodes: int) -> None:
        nonlocal total
        total += nodes
        if total > max_nodes:
            where = stack[-1].path if stack else "/"
            raise _error(
                where,
                f"document expands to more than {max_nodes} nodes "
                "(too many aliases or a very large document)",
            )

    def add(value: Any, size: int, anchor: str | None) -> None:
        nonlocal root
        if anchor is not None:
            anchors[anchor] = (value, size)
        if not stack:
            root = value
            return
        frame = stack[-1]
        frame.size += size
        container = frame.value
        if isinstance(container, list):
            container.append(value)
            return
        if frame.key is None:
            if not isinstance(value, str):
                raise _error(frame.path, "mapping keys must be plain strings")
            if value in frame.seen:
                raise _error(f"{frame.path}/{value}", "duplicate key; each key may appear once")
            frame.seen.add(value)
            frame.key = value
            return
        key, frame.key = frame.key, None
        if key == _MERGE_KEY:
            frame.seen.discard(_MERGE_KEY)
            merged = value if isinstance(value, list) else [value]
            if not all(isinstance(item, dict) for item in merged):
                raise _error(frame.path, "a '<<' merge key must name a mapping or a list of them")
            frame.merges.extend(merged)
            return
        container[key] = value

    def child_path() -> str:
        if not stack:
            return ""
        frame = stack[-1]
        if isinstance(frame.value, list):
            return f"{frame.path}/{len(frame.value)}"
        return f"{frame.path}/{frame.key}"

    event: Any
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        kind = type(event)
        if kind is yaml.ScalarEvent:
            is_key = bool(stack) and isinstance(stack[-1].value, dict) and stack[-1].key is None
            if is_key:
                # Keys are names: keep the raw text, as Go does for map[string]... keys.
                if event.tag not in (None, "!", _TAG_PREFIX + "str"):
                    raise _error(stack[-1].path, "mapping keys must be plain strings")
                value: Any = event.value
            elif event.tag is not None:
                value = _resolve_tagged(event.tag, event.value, child_path())
            elif not event.style:
                # libyaml reports a plain scalar's style as "" (the pure-Python parser: None).
                value = _resolve_plain(event.value)
            else:
                value = event.value
            count(1)
            add(value, 1, event.anchor)
        elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            path = child_path()
            if len(stack) >= max_depth:
                raise _error(path, f"nesting is deeper than {max_depth} levels")
            is_map = kind is yaml.MappingStartEvent
            if stack and isinstance(stack[-1].value, dict) and stack[-1].key is None:
                raise _error(stack[-1].path, "mapping keys must be plain strings")
            tag = event.tag
            if tag is not None and tag not in ("!", _TAG_PREFIX + ("map" if is_map else "seq")):
                raise _error(path, f"unsupported YAML tag {tag!r}; remove the tag")
            count(1)
            stack.append(_Frame({} if is_map else [], event.anchor, path))
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            frame = stack.pop()
            if frame.merges and isinstance(frame.value, dict):
                # Explicit keys win over merged ones; earlier merge sources win over later ones.
                for source in frame.merges:
                    for key, item in source.items():
                        frame.value.setdefault(key, item)
            add(frame.value, frame.size, frame.anchor)
        elif kind is yaml.AliasEvent:
            target = anchors.get(event.anchor)
            if target is None:
                raise _error(child_path(), f"unknown alias *{event.anchor}")
            count(target[1])
            add(target[0], target[1], None)
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _error("/", "the file holds several YAML documents; an SDL is one document")
    return root
