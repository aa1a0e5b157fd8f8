"""Go's unit rules for CPU, sizes, GPU memory and prices."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from minds371_akash.sdl._units import (
    UnitError,
    format_dec,
    parse_cpu_millis,
    parse_gpu_ram,
    parse_gpu_units,
    parse_price,
    parse_size,
)
from minds371_akash.sdl._yaml import load_yaml
from tests.sdl.conftest import FIXTURES


@pytest.mark.parametrize(
    ("value", "millis"),
    [("500m", 500), ("0.5", 500), (0.5, 500), (2, 2000), ("1", 1000), ("0.01", 10), (0.1, 100)],
)
def test_cpu(value: object, millis: int) -> None:
    assert parse_cpu_millis(value) == millis


def test_cpu_truncates_like_go_float64() -> None:
    # 1.001 * 1000 is 1000.9999999999999 in float64; Go's uint32 conversion truncates it.
    assert parse_cpu_millis(1.001) == 1000
    assert parse_cpu_millis(load_yaml("u: 1.001")["u"]) == 1000
    assert parse_cpu_millis("1.001") == 1000


@pytest.mark.parametrize("value", ["-100m", "1.5m", "half", "", True, None, [1], "1e3"])
def test_cpu_refused(value: object) -> None:
    with pytest.raises(UnitError):
        parse_cpu_millis(value)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512M", 512_000_000),
        ("512Mi", 536_870_912),
        ("1k", 1000),
        ("1Ki", 1024),
        ("1G", 10**9),
        ("1Gi", 2**30),
        ("1.5Gi", 1_610_612_736),
        ("1T", 10**12),
        ("2Ti", 2 * 2**40),
        ("1P", 10**15),
        ("1Pi", 2**50),
        ("1E", 10**18),
        ("1Ei", 2**60),
        ("1024", 1024),
        ("0.1Gi", 107_374_182),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["512mi", "1K", "1gb", "-1Gi", "Gi", "1 Gi", "1e3", 512])
def test_sizes_refused(text: object) -> None:
    with pytest.raises(UnitError):
        parse_size(text)


def test_lowercase_suffix_error_explains_case() -> None:
    with pytest.raises(UnitError, match="case-sensitive"):
        parse_size("512mi")


@pytest.mark.parametrize(
    ("text", "out"), [("80Gi", "80Gi"), ("40960Mi", "40Gi"), ("1Ti", "1024Gi")]
)
def test_gpu_ram_is_written_in_whole_gi(text: str, out: str) -> None:
    assert parse_gpu_ram(text) == out


@pytest.mark.parametrize("text", ["80GB", "80G", "80"])
def test_gpu_ram_needs_binary_units(text: str) -> None:
    with pytest.raises(UnitError):
        parse_gpu_ram(text)


def test_gpu_units() -> None:
    assert parse_gpu_units(2) == 2
    assert parse_gpu_units("3") == 3
    for bad in (1.5, "x", True, -1):
        with pytest.raises(UnitError):
            parse_gpu_units(bad)


def test_prices_are_exact_decimals() -> None:
    assert parse_price(1000) == Decimal(1000)
    assert parse_price("0.5") == Decimal("0.5")
    assert parse_price(load_yaml("a: 12.50")["a"]) == Decimal("12.50")
    assert format_dec(Decimal(50)) == "50.000000000000000000"
    assert format_dec(Decimal("0.000000000000000001")) == "0.000000000000000001"
    for bad in ("-1", "1e3", "abc", True, "0.0000000000000000001"):
        with pytest.raises(UnitError):
            parse_price(bad)


def test_quantities_match_go() -> None:
    data = json.loads((FIXTURES / "gounits" / "quantities.json").read_text())
    for text, expected in data["sizes"]:
        try:
            got: str | None = str(parse_size(text))
        except UnitError:
            got = None
        assert got == expected, text
    for text, expected in data["cpus"]:
        try:
            millis: int | None = parse_cpu_millis(text)
        except UnitError:
            millis = None
        assert millis == expected, text
