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
_TYPED_START = frozenset("0123456789+-.tTfFnN~")
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_TRUES = frozenset(("true", "True", "TRUE"))
_FALSES = frozenset(("false", "False", "FALSE"))

_TAG_PREFIX = "tag:yaml.org,2002:"
_STR_TAG = _TAG_PREFIX + "str"
_MAP_TAG = _TAG_PREFIX + "map"
_SEQ_TAG = _TAG_PREFIX + "seq"
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
    # Only a few leading characters can start a non-string; skip the regexes otherwise.
    if text[0] not in _TYPED_START:
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
        if len(data) > max_bytes:
            raise _error("/", f"document is larger than the limit of {max_bytes} bytes")
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise _error("/", f"text holds an unpaired surrogate (character {exc.start})") from exc
        if size > max_bytes:
            raise _error("/", f"document is larger than the limit of {max_bytes} bytes")
        text = data
    if not text.strip():
        raise _error("/", "document is empty")
    return text


class _Frame:
    """One open collection while building from events."""

    __slots__ = ("anchor", "is_map", "key", "merges", "name", "size", "value")

    def __init__(self, value: Any, is_map: bool, anchor: str | None, name: str) -> None:
        self.value = value
        self.is_map = is_map
        self.anchor = anchor
        self.name = name  # the key or index under which this collection sits in its parent
        self.key: str | None = None  # a mapping's key whose value is being read
        self.size = 1
        self.merges: list[dict[str, Any]] | None = None


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


def _path(stack: list[_Frame], child: str | None = None) -> str:
    """The path of the innermost open collection (or of ``child`` inside it)."""
    parts = [frame.name for frame in stack[1:]]
    if child is not None:
        parts.append(child)
    return "/" + "/".join(parts) if parts else "/"


def _child_name(top: _Frame | None) -> str:
    if top is None:
        return ""
    if top.is_map:
        return top.key or ""
    return str(len(top.value))


def _build(text: str, max_depth: int, max_nodes: int) -> Any:  # noqa: C901
    # The hot loop is written out by hand (no helper calls per event): it runs once per node.
    anchors: dict[str, tuple[Any, int]] = {}
    stack: list[_Frame] = []
    top: _Frame | None = None
    total = 0
    documents = 0
    root: Any = None
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    map_start, seq_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    map_end, seq_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    doc_start, stream_end = yaml.DocumentStartEvent, yaml.StreamEndEvent
    loader = yaml.CSafeLoader(text)
    get_event = loader.get_event
    try:
        while True:
            event: Any = get_event()
            kind = event.__class__
            size = 1
            anchor = None
            if kind is scalar_event:
                total += 1
                anchor = event.anchor
                if top is not None and top.is_map and top.key is None:
                    # A key: keep the raw text, as Go does for map[string]... keys.
                    if event.tag not in (None, "!", _STR_TAG):
                        raise _error(_path(stack), "mapping keys must be plain strings")
                    key = event.value
                    if key in top.value:
                        raise _error(_path(stack, key), "duplicate key; each key may appear once")
                    top.key = key
                    top.size += 1
                    if anchor is not None:
                        anchors[anchor] = (key, 1)
                    continue
                if event.tag is not None:
                    value: Any = _resolve_tagged(
                        event.tag, event.value, _path(stack, _child_name(top))
                    )
                elif not event.style:
                    # libyaml reports a plain scalar's style as "" (the pure-Python parser: None).
                    # Most plain scalars are names: resolve only what could be a non-string.
                    value = event.value
                    if not value or value[0] in _TYPED_START:
                        value = _resolve_plain(value)
                else:
                    value = event.value
            elif kind is map_start or kind is seq_start:
                is_map = kind is map_start
                name = _child_name(top)
                if top is not None and top.is_map and top.key is None:
                    raise _error(_path(stack), "mapping keys must be plain strings")
                if len(stack) >= max_depth:
                    raise _error(_path(stack, name), f"nesting is deeper than {max_depth} levels")
                tag = event.tag
                if tag is not None and tag not in ("!", _MAP_TAG if is_map else _SEQ_TAG):
                    raise _error(
                        _path(stack, name), f"unsupported YAML tag {tag!r}; remove the tag"
                    )
                total += 1
                if total > max_nodes:
                    raise _error(_path(stack, name), _too_many(max_nodes))
                top = _Frame({} if is_map else [], is_map, event.anchor, name)
                stack.append(top)
                continue
            elif kind is map_end or kind is seq_end:
                frame = stack.pop()
                top = stack[-1] if stack else None
                value = frame.value
                if frame.merges:
                    # Explicit keys win over merged ones; earlier merge sources over later ones.
                    for source in frame.merges:
                        for key, item in source.items():
                            value.setdefault(key, item)
                size = frame.size
                anchor = frame.anchor
            elif kind is alias_event:
                target = anchors.get(event.anchor)
                if target is None:
                    raise _error(_path(stack, _child_name(top)), f"unknown alias *{event.anchor}")
                value, size = target
                total += size
                if top is not None and top.is_map and top.key is None:
                    # An alias in key position names a key; only a string can be one.
                    if not isinstance(value, str):
                        raise _error(_path(stack), "mapping keys must be plain strings")
                    if value in top.value:
                        raise _error(_path(stack, value), "duplicate key; each key may appear once")
                    top.key = value
                    top.size += 1
                    continue
            elif kind is doc_start:
                documents += 1
                if documents > 1:
                    raise _error(
                        "/", "the file holds several YAML documents; an SDL is one document"
                    )
                continue
            elif kind is stream_end:
                return root
            else:
                continue
            if total > max_nodes:
                raise _error(_path(stack), _too_many(max_nodes))
            if anchor is not None:
                anchors[anchor] = (value, size)
            if top is None:
                root = value
                continue
            top.size += size
            if not top.is_map:
                top.value.append(value)
                continue
            key, top.key = top.key, None
            if key == _MERGE_KEY:
                merged = value if isinstance(value, list) else [value]
                if not all(isinstance(item, dict) for item in merged):
                    raise _error(
                        _path(stack), "a '<<' merge key must name a mapping or a list of them"
                    )
                top.merges = (top.merges or []) + merged
                continue
            top.value[key] = value
    finally:
        loader.dispose()


def _too_many(max_nodes: int) -> str:
    return (
        f"document expands to more than {max_nodes} nodes "
        "(too many aliases or a very large document)"
    )
