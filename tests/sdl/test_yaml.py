"""Bounded, YAML 1.2 core-schema loading of untrusted SDL text."""

from __future__ import annotations

import tracemalloc

import pytest

from minds371.errors import ValidationError
from minds371_akash.sdl import parse_sdl
from minds371_akash.sdl._yaml import (
    MAX_DEPTH,
    MAX_INPUT_BYTES,
    MAX_NODES,
    YamlFloat,
    YamlInt,
    load_yaml,
)


def _refused(data: str | bytes, **limits: int) -> str:
    with pytest.raises(ValidationError) as info:
        load_yaml(
            data,
            max_bytes=limits.get("max_bytes", MAX_INPUT_BYTES),
            max_depth=limits.get("max_depth", MAX_DEPTH),
            max_nodes=limits.get("max_nodes", MAX_NODES),
        )
    assert len(info.value.issues) == 1
    return str(info.value.issues[0])


def _billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for index in range(1, levels + 1):
        name, prev = chr(ord("a") + index), chr(ord("a") + index - 1)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_with_bounded_memory() -> None:
    tracemalloc.start()
    try:
        message = _refused(_billion_laughs())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "expands to more than" in message
    # The fully expanded document would be 10**10 nodes; refusing it must stay small.
    assert peak < 5_000_000


def test_alias_bomb_is_refused_by_parse_sdl_too() -> None:
    with pytest.raises(ValidationError):
        parse_sdl(_billion_laughs())


def test_aliases_within_the_budget_are_expanded() -> None:
    assert load_yaml("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}


def test_oversized_input_is_refused_before_parsing() -> None:
    big = b"a: " + b"x" * (MAX_INPUT_BYTES + 1)
    assert "limit" in _refused(big)
    assert "limit" in _refused(big.decode())


def test_deep_nesting_is_refused() -> None:
    assert "deeper than" in _refused("[" * 200 + "]" * 200)
    assert "deeper than" in _refused("a:\n" + "".join(f"{' ' * i}b{i}:\n" for i in range(1, 80)))


def test_node_limit_counts_plain_documents_too() -> None:
    assert "expands to more than" in _refused("[" + "1," * 50 + "1]", max_nodes=20)


@pytest.mark.parametrize("text", ["", "   \n", b"\n\n"])
def test_empty_documents_are_refused(text: str | bytes) -> None:
    assert "empty" in _refused(text)


def test_comment_only_document_loads_as_none() -> None:
    # A comment alone is a valid YAML stream with an empty document: not refused as "empty".
    assert load_yaml("# nothing here\n") is None
    assert load_yaml("# one\n\n# two\n") is None


def test_a_comment_only_sdl_is_refused_as_not_a_mapping() -> None:
    with pytest.raises(ValidationError) as info:
        parse_sdl("# nothing here\n")
    (issue,) = info.value.issues
    assert str(issue) == "/: an SDL is a YAML mapping, not null"


def test_not_yaml_is_refused_with_a_position() -> None:
    assert "line 2" in _refused("a: [\n")


def test_invalid_utf8_is_refused() -> None:
    assert "UTF-8" in _refused(b"a: \xff\xfe\n")


def test_unpaired_surrogates_in_text_are_refused() -> None:
    assert "surrogate" in _refused("a: \ud800\n")


def test_utf8_bom_is_accepted() -> None:
    assert load_yaml("\ufeffa: 1\n".encode()) == {"a": 1}


def test_several_documents_are_refused() -> None:
    assert "several" in _refused("a: 1\n---\nb: 2\n")


def test_duplicate_keys_are_refused_with_their_path() -> None:
    assert _refused("a:\n  b: 1\n  b: 2\n").startswith("/a/b:")


def test_unknown_tags_are_refused() -> None:
    assert "tag" in _refused("a: !!python/object:os.system ls\n")
    assert "tag" in _refused("a: !custom 1\n")


def test_complex_keys_are_refused() -> None:
    assert "keys" in _refused("? [a, b]\n: 1\n")


def test_yaml_1_2_core_scalars() -> None:
    data = load_yaml(
        "a: yes\nb: off\nc: 0x1F\nd: 1.50\ne: 2024-01-01\nf: 1_000\ng: true\nh: ~\ni: 0o17\n"
        "j: '80'\nk: 1e3\nl: -5\n"
    )
    assert data["a"] == "yes"
    assert data["b"] == "off"
    assert data["c"] == 31 and isinstance(data["c"], YamlInt) and data["c"].text == "0x1F"
    assert isinstance(data["d"], YamlFloat) and data["d"].text == "1.50"
    assert data["e"] == "2024-01-01"
    assert data["f"] == "1_000"
    assert data["g"] is True
    assert data["h"] is None
    assert data["i"] == 15
    assert data["j"] == "80"
    assert data["k"] == 1000.0
    assert data["l"] == -5


def test_explicit_core_tags() -> None:
    assert load_yaml("a: !!str 80\nb: !!int '12'\nc: !!float 1\n") == {"a": "80", "b": 12, "c": 1.0}
    assert "not a valid int" in _refused("a: !!int x\n")


def test_merge_keys_follow_explicit_keys() -> None:
    data = load_yaml("base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n")
    assert data["c"] == {"y": 3, "x": 1}


def test_merge_of_a_scalar_is_refused() -> None:
    assert "merge" in _refused("a:\n  <<: 1\n")


def test_unknown_alias_is_refused() -> None:
    assert "alias" in _refused("a: *nowhere\n")


def test_aliases_in_key_position() -> None:
    assert load_yaml("a: &k name\n*k : 1\n") == {"a": "name", "name": 1}
    assert "keys" in _refused("a: &m {x: 1}\n*m : 1\n")
    assert "duplicate" in _refused("a: &k a\n*k : 1\n")


@pytest.mark.parametrize(
    ("text", "limits", "issue"),
    [
        ("a:\n  - x\n  - b: !!int q\n", {}, "/a/1/b: value 'q' is not a valid int"),
        ("a:\n  - [1, *nope]\n", {}, "/a/0/1: unknown alias *nope"),
        ("a: [[[1]]]\n", {"max_depth": 2}, "/a/0: nesting is deeper than 2 levels"),
        ("a: {b: [1, 2, 3]}\n", {"max_nodes": 5}, "/a/b: document expands to more than 5 nodes"),
        ("x: &v [1, 2]\ny: {z: [*v, *v]}\n", {"max_nodes": 9}, "/y/z: document expands"),
        ("s: [{<<: 1}]\n", {}, "/s/0: a '<<' merge key must name a mapping"),
        ("- [a, {k: !x 1}]\n", {}, "/0/1/k: unsupported YAML tag '!x'"),
        ("l:\n - {? [a]: 1}\n", {}, "/l/0: mapping keys must be plain strings"),
    ],
)
def test_errors_inside_nested_collections_name_their_path(
    text: str, limits: dict[str, int], issue: str
) -> None:
    assert _refused(text, **limits).startswith(issue)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("to", "to"),
        ("nvidia", "nvidia"),
        ("nULL", "nULL"),
        ("tRUE", "tRUE"),
        ("Null", None),
        ("NULL", None),
        ("True", True),
        ("FALSE", False),
        ("\u0663", "\u0663"),  # an Arabic-Indic digit is not a YAML integer
        ("1\u00b2", "1\u00b2"),
        (".5", 0.5),
        ("-.inf", float("-inf")),
    ],
)
def test_plain_scalar_resolution(text: str, expected: object) -> None:
    value = load_yaml(f"v: {text}\n")["v"]
    assert value == expected
    # Floats come back as YamlFloat (with their text); everything else as the plain type.
    assert type(value) is (YamlFloat if isinstance(expected, float) else type(expected))


@pytest.mark.parametrize(("text", "number"), [("80", 80), ("0123", 123), ("+5", 5), ("-0", 0)])
def test_integers_keep_their_text(text: str, number: int) -> None:
    value = load_yaml(f"v: {text}\n")["v"]
    assert isinstance(value, YamlInt) and value == number and value.text == text
