"""Event data is made JSON-plain as a JSON round trip (``default=str``) would make it."""

from __future__ import annotations

import enum
import json
import math
from collections import namedtuple
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from minds371_deploy.agent import _jsonable


def round_trip(data: dict[str, Any]) -> Any:
    return json.loads(json.dumps(data, default=str))


class Color(enum.StrEnum):
    RED = "red"


class Level(enum.IntEnum):
    HIGH = 3


Pair = namedtuple("Pair", "a b")

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from([Color.RED, Level.HIGH, datetime(2026, 12, 5, tzinfo=UTC), Pair(1, "x")]),
)
keys = st.one_of(st.text(max_size=5), st.integers(), st.booleans(), st.none(), st.floats(0, 9))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(keys, inner, max_size=4),
    ),
    max_leaves=20,
)


@given(st.dictionaries(keys, values, max_size=6))
def test_event_data_equals_its_json_round_trip(data: dict[Any, Any]) -> None:
    assert _jsonable(data) == round_trip(data)


def test_types_are_those_the_round_trip_gives() -> None:
    data: dict[Any, Any] = {
        2: Decimal("6.9"),
        "c": Color.RED,
        "l": Level.HIGH,
        "t": (1, 2),
        True: None,
    }
    plain = _jsonable(data)
    assert plain == {"2": "6.9", "c": "red", "l": 3, "t": [1, 2], "true": None}
    assert [type(v) for v in plain.values()] == [str, str, int, list, type(None)]
    assert math.isnan(_jsonable({"x": float("nan")})["x"])
