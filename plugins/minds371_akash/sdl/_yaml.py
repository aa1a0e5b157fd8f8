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
from yaml._yaml import CParser

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
# The only non-strings that start with a letter (or are empty or "~").
_WORDS: dict[str, Any] = {
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys(("true", "True", "TRUE"), True),
    **dict.fromkeys(("false", "False", "FALSE"), False),
}
_LETTERS = frozenset("tTfFnN")
_NOT_A_WORD = object()

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
    word = _WORDS.get(text, _NOT_A_WORD)
    if word is not _NOT_A_WORD:
        return word
    # Only a few leading characters can start a non-string; skip the regexes otherwise.
    first = text[0]
    if first not in _TYPED_START or first in _LETTERS:
        return text
    if text.isdigit() and text.isascii():
        # The common number (a port, a count): what _INT_RE matches without a sign.
        return _int(text, int(text, 10))
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
            # An ASCII str (known without a scan) is as long in UTF-8 as in characters.
            size = len(data) if data.isascii() else len(data.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise _error("/", f"text holds an unpaired surrogate (character {exc.start})") from exc
        if size > max_bytes:
            raise _error("/", f"document is larger than the limit of {max_bytes} bytes")
        text = data
    if not text or text.isspace():  # `not text.strip()`, without copying the text
        raise _error("/", "document is empty")
    return text


def load_yaml(
    data: str | bytes,
    *,
    max_bytes: int = MAX_INPUT_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
    subject: str = _SUBJECT,
) -> Any:
    """Parse one YAML document safely and return plain Python data.

    Args:
        data: The document, as text or UTF-8 bytes.
        max_bytes: Refuse larger input before parsing it.
        max_depth: Refuse deeper nesting of mappings and sequences.
        max_nodes: Refuse documents with more nodes after alias expansion.
        subject: What the document is, for the error (``"deployment request"``).

    Returns:
        Mappings as ``dict`` (string keys), sequences as ``list``, scalars as ``str``,
        :class:`YamlInt`, :class:`YamlFloat`, ``bool`` or ``None``.

    Raises:
        ValidationError: The input is empty, too large, too deep, an alias bomb, not YAML, or
            holds several documents, duplicate keys, unsupported tags or complex keys.
    """
    try:
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
    except DocumentError as exc:
        if subject == _SUBJECT:
            raise
        raise DocumentError(exc.issues, subject=subject) from None


# One open collection, saved on the stack while a nested one is read: the container, whether it
# is a mapping, the mapping's key whose value is being read, the node count before it opened,
# its anchor and its pending ``<<`` merge sources.
_Saved = tuple[Any, bool, str | None, int, str | None, list[dict[str, Any]] | None]


def _name(container: Any, is_map: bool, key: str | None) -> str:
    """The name the node being read gets in an open collection: its key, or its index."""
    return (key or "") if is_map else str(len(container))


def _path(saved: list[_Saved], child: str | None = None) -> str:
    """The path of the innermost open collection (or of ``child`` inside it).

    Only used to report an error: paths are not tracked while loading. A collection's name is
    its parent's pending key, or for a sequence its index to be (the parent's length: a child
    is appended when it ends). ``saved[0]`` is the list that receives the root, and the root
    has no name.
    """
    parts = [_name(entry[0], entry[1], entry[2]) for entry in saved[1:]]
    if child is not None:
        parts.append(child)
    return "/" + "/".join(parts) if parts else "/"


def _build(text: str, max_depth: int, max_nodes: int) -> Any:  # noqa: C901
    # The hot loop is written out by hand: it runs once per event, and the innermost open
    # collection lives in local variables (pushed to `saved` as a tuple when a child opens).
    anchors: dict[str, tuple[Any, int]] = {}
    saved: list[_Saved] = []
    # The innermost open collection; at first a list that receives the root.
    container: Any = []
    is_map = False
    key: str | None = None
    # Every node adds to `total` what it adds to its collection's size (an alias: the size of
    # what it names), so a collection's size is `total` when it ends minus `total` before it.
    before = 0
    anchor: str | None = None
    merges: list[dict[str, Any]] | None = None
    total = 0
    documents = 0
    scalar_event, alias_event = yaml.ScalarEvent, yaml.AliasEvent
    map_start, seq_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    map_end, seq_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    doc_start, stream_end = yaml.DocumentStartEvent, yaml.StreamEndEvent
    typed_start = _TYPED_START
    # libyaml's parser alone: CSafeLoader would also set up a constructor and a resolver we
    # do not use.
    parser = CParser(text)
    get_event = parser.get_event
    try:
        while True:
            event: Any = get_event()
            kind = event.__class__
            if kind is scalar_event:
                total += 1
                tag = event.tag
                if is_map and key is None:
                    # A key: keep the raw text, as Go does for map[string]... keys.
                    if tag is not None and tag != "!" and tag != _STR_TAG:
                        raise _error(_path(saved), "mapping keys must be plain strings")
                    key = event.value
                    if key in container:
                        raise _error(_path(saved, key), "duplicate key; each key may appear once")
                    if event.anchor is not None:
                        anchors[event.anchor] = (key, 1)
                    continue
                if tag is not None:
                    value: Any = _resolve_tagged(
                        tag, event.value, _path(saved, _child(saved, container, is_map, key))
                    )
                elif not event.style:
                    # libyaml reports a plain scalar's style as "" (the pure-Python parser: None).
                    # Most plain scalars are names: resolve only what could be a non-string.
                    value = event.value
                    if not value or value[0] in typed_start:
                        value = _resolve_plain(value)
                else:
                    value = event.value
                if total > max_nodes:
                    raise _error(_path(saved), _too_many(max_nodes))
                if event.anchor is not None:
                    anchors[event.anchor] = (value, 1)
                if not is_map:
                    container.append(value)
                    continue
            elif kind is map_start or kind is seq_start:
                if is_map and key is None:
                    raise _error(_path(saved), "mapping keys must be plain strings")
                if len(saved) >= max_depth:
                    raise _error(
                        _path(saved, _child(saved, container, is_map, key)),
                        f"nesting is deeper than {max_depth} levels",
                    )
                opens_map = kind is map_start
                tag = event.tag
                if tag is not None and tag != "!" and tag != (_MAP_TAG if opens_map else _SEQ_TAG):
                    raise _error(
                        _path(saved, _child(saved, container, is_map, key)),
                        f"unsupported YAML tag {tag!r}; remove the tag",
                    )
                total += 1
                if total > max_nodes:
                    raise _error(
                        _path(saved, _child(saved, container, is_map, key)), _too_many(max_nodes)
                    )
                saved.append((container, is_map, key, before, anchor, merges))
                before = total - 1
                container = {} if opens_map else []
                is_map = opens_map
                key = None
                anchor = event.anchor
                merges = None
                continue
            elif kind is map_end or kind is seq_end:
                value = container
                if merges:
                    # Explicit keys win over merged ones; earlier merge sources over later ones.
                    for source in merges:
                        for merged_key, item in source.items():
                            value.setdefault(merged_key, item)
                if anchor is not None:
                    anchors[anchor] = (value, total - before)
                container, is_map, key, before, anchor, merges = saved.pop()
                if total > max_nodes:
                    raise _error(_path(saved), _too_many(max_nodes))
            elif kind is alias_event:
                target = anchors.get(event.anchor)
                if target is None:
                    raise _error(
                        _path(saved, _child(saved, container, is_map, key)),
                        f"unknown alias *{event.anchor}",
                    )
                value, node_size = target
                total += node_size
                if is_map and key is None:
                    # An alias in key position names a key; only a string can be one.
                    if not isinstance(value, str):
                        raise _error(_path(saved), "mapping keys must be plain strings")
                    if value in container:
                        raise _error(_path(saved, value), "duplicate key; each key may appear once")
                    key = value
                    continue
                if total > max_nodes:
                    raise _error(_path(saved), _too_many(max_nodes))
            elif kind is doc_start:
                documents += 1
                if documents > 1:
                    raise _error("/", "the file holds several YAML documents; give exactly one")
                continue
            elif kind is stream_end:
                return container[0] if container else None
            else:
                continue
            # A node was read (not a key): add it to the open collection.
            if not is_map:
                container.append(value)
                continue
            if key == _MERGE_KEY:
                merged = value if isinstance(value, list) else [value]
                if not all(isinstance(item, dict) for item in merged):
                    raise _error(
                        _path(saved), "a '<<' merge key must name a mapping or a list of them"
                    )
                merges = (merges or []) + merged
            else:
                container[key] = value
            key = None
    finally:
        parser.dispose()


def _child(saved: list[_Saved], container: Any, is_map: bool, key: str | None) -> str:
    # Outside any collection (the root itself) a node has no name.
    return _name(container, is_map, key) if saved else ""


def _too_many(max_nodes: int) -> str:
    return (
        f"document expands to more than {max_nodes} nodes "
        "(too many aliases or a very large document)"
    )
