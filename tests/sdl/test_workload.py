"""WorkloadSpec -> SDL: round trips, exact values, and properties over generated specs."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minds371.errors import ValidationError
from minds371_akash.sdl import (
    DEFAULT_AUDITOR,
    GpuModelSpec,
    GpuSpec,
    PlacementSpec,
    PortSpec,
    RegistryCredentials,
    ServiceSpec,
    VolumeSpec,
    WorkloadSpec,
    build_manifest,
    build_sdl,
    build_sdl_data,
    parse_sdl,
)
from minds371_akash.sdl._build import _Dumper

HOSTILE_ENV = {
    "QUOTES": "he said \"hi\" and 'bye'",
    "NEWLINES": "line1\nline2\r\nline3\n",
    "HTML": "<script>alert(1)</script> & more",
    "UNICODE": "ü 漢字 🚀 \u2028\u2029 \ufeff",
    "YAMLISH": "yes",
    "NUMERIC": "0o17",
    "EMPTY": "",
    "SPACES": "  padded  ",
    "COLON": "a: b # not a comment",
    "CONTROL": "\x01\x1b\x7f\x85",
}


def _env_of(sdl_env: tuple[str, ...] | None) -> dict[str, str]:
    return dict(entry.split("=", 1) for entry in sdl_env or ())


def _full_spec() -> WorkloadSpec:
    return WorkloadSpec(
        services=(
            ServiceSpec(
                name="web",
                image="ghcr.io/example/web:1.2.3",
                command=("sh", "-c"),
                args=("exec nginx -g 'daemon off;'",),
                env=HOSTILE_ENV,
                cpu="250m",
                memory="256Mi",
                storage="2Gi",
                volumes=(
                    VolumeSpec(
                        name="data", size="10Gi", mount="/data", persistent=True, class_="beta2"
                    ),
                    VolumeSpec(name="shm", size="1Gi", mount="/dev/shm", class_="ram"),
                ),
                ports=(
                    PortSpec(port=8080, as_=80, accept=("www.example.com",)),
                    PortSpec(port=9090, proto="udp"),
                    PortSpec(port=5432, global_=False, to=("worker",)),
                ),
                count=2,
                credentials=RegistryCredentials(
                    host="ghcr.io", username="bot", password="s3cret-token"
                ),
            ),
            ServiceSpec(
                name="worker",
                image="python:3.12",
                cpu=2,
                memory="4Gi",
                gpu=GpuSpec(
                    units=1, models=(GpuModelSpec(model="a100", ram="80Gi", interface="pcie"),)
                ),
                max_price_uact=Decimal("2500.5"),
            ),
        ),
        placement=PlacementSpec(
            region="us-west", attributes={"tier": "community"}, audited_only=True
        ),
        max_price_uact=Decimal(1000),
    )


def test_full_spec_round_trips() -> None:
    spec = _full_spec()
    sdl = parse_sdl(build_sdl(spec))
    assert sdl.version == "2.0"
    assert sdl.warnings == ()
    web = sdl.services["web"]
    assert _env_of(web.env) == HOSTILE_ENV
    assert web.command == ("sh", "-c")
    assert web.args == ("exec nginx -g 'daemon off;'",)
    assert web.credentials is not None and web.credentials.password == "s3cret-token"
    placement = sdl.profiles.placement["akash"]
    assert placement.signed_by is not None and placement.signed_by.any_of == (DEFAULT_AUDITOR,)
    assert placement.attributes == {"tier": "community", "region": "us-west"}
    assert placement.pricing["worker"].denom == "uact"
    manifest = build_manifest(sdl)
    units = {u["resource"]["id"]: u for u in manifest.group_specs[0]["resources"]}
    assert units[1]["price"]["amount"] == "1000.000000000000000000"
    assert units[2]["price"]["amount"] == "2500.500000000000000000"
    assert units[2]["resource"]["gpu"]["attributes"] == [
        {"key": "vendor/nvidia/model/a100/ram/80Gi/interface/pcie", "value": "true"}
    ]
    web_manifest = manifest.groups[0]["services"][0]
    assert web_manifest["count"] == 2
    assert [v["name"] for v in web_manifest["resources"]["storage"]] == ["shm", "default", "data"]


def test_spec_from_a_mapping() -> None:
    text = build_sdl(
        {
            "services": [{"name": "web", "image": "nginx", "ports": [{"port": 80}]}],
            "max_price_uact": 100,
        }
    )
    assert parse_sdl(text).services["web"].expose is not None


def test_password_is_not_in_the_spec_repr() -> None:
    assert "s3cret-token" not in repr(_full_spec())


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"services": [], "max_price_uact": 1}, "/services"),
        ({"services": [{"name": "Web", "image": "x"}], "max_price_uact": 1}, "/services/0/name"),
        (
            {"services": [{"name": "web", "image": "x", "cpu": "lots"}], "max_price_uact": 1},
            "/services/0/cpu",
        ),
        (
            {"services": [{"name": "web", "image": "x", "memory": "1GB"}], "max_price_uact": 1},
            "/services/0/memory",
        ),
        (
            {"services": [{"name": "web", "image": "x", "env": {"1X": "v"}}], "max_price_uact": 1},
            "/services/0/env",
        ),
        (
            {
                "services": [
                    {
                        "name": "web",
                        "image": "x",
                        "volumes": [{"name": "d", "size": "1Gi", "persistent": True}],
                    }
                ],
                "max_price_uact": 1,
            },
            "/services/0/volumes/0",
        ),
        (
            {
                "services": [{"name": "web", "image": "x", "ports": [{"port": 80}]}],
                "max_price_uact": 0,
            },
            "/max_price_uact",
        ),
        ({"services": [{"name": "web", "image": "x", "ports": [{"port": 80}]}]}, "/max_price_uact"),
        ({"services": [{"name": "web", "image": "x"}], "max_price_uact": 1}, "/"),
        (
            {
                "services": [{"name": "web", "image": "x", "ports": [{"port": 80, "to": ["db"]}]}],
                "max_price_uact": 1,
            },
            "/",
        ),
        (
            {"services": [{"name": "web", "image": "x", "colour": "red"}], "max_price_uact": 1},
            "/services/0/colour",
        ),
    ],
)
def test_invalid_specs_name_the_field(spec: dict[str, Any], path: str) -> None:
    with pytest.raises(ValidationError) as info:
        build_sdl(spec)
    assert info.value.subject == "workload spec"
    assert path in [issue.path for issue in info.value.issues]


def test_chain_limits_are_checked_on_the_spec() -> None:
    spec = {
        "services": [{"name": "web", "image": "x", "memory": "3Ti", "ports": [{"port": 80}]}],
        "max_price_uact": 1,
    }
    with pytest.raises(ValidationError) as info:
        build_sdl(spec)
    assert [issue.path for issue in info.value.issues] == ["/services/0/memory"]


def test_duplicate_hostnames_are_refused_on_the_spec() -> None:
    port = {"port": 80, "accept": ["www.example.com"]}
    spec = {
        "services": [
            {"name": "a", "image": "x", "ports": [port]},
            {"name": "b", "image": "x", "ports": [port]},
        ],
        "max_price_uact": 1,
    }
    with pytest.raises(ValidationError) as info:
        build_sdl(spec)
    assert "hostname" in info.value.issues[0].message


# -- properties -------------------------------------------------------------------------------

_names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
# Any text a process can receive: everything UTF-8 can write except NUL.
_env_values = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)
_env = st.dictionaries(
    st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True), _env_values, max_size=4
)
_hosts = st.from_regex(r"[a-z]{1,8}\.(com|org|net)", fullmatch=True)


@st.composite
def _ports(draw: st.DrawFn, service: str, index: int) -> PortSpec:
    port = draw(st.integers(1, 65535))
    return PortSpec(
        port=port,
        as_=draw(st.none() | st.sampled_from([80, 443, 8080])),
        proto=draw(st.sampled_from(["tcp", "udp"])),
        global_=index == 0 or draw(st.booleans()),
        accept=tuple(
            f"{service}-{index}-{h}" for h in draw(st.lists(_hosts, max_size=2, unique=True))
        ),
    )


@st.composite
def _volumes(draw: st.DrawFn) -> tuple[VolumeSpec, ...]:
    kinds = draw(st.lists(st.sampled_from(["persistent", "ram", "scratch"]), max_size=3))
    volumes = []
    for index, kind in enumerate(kinds):
        name = f"vol{index}"
        size = draw(st.sampled_from(["64Mi", "1Gi", "10Gi"]))
        if kind == "persistent":
            volumes.append(
                VolumeSpec(
                    name=name,
                    size=size,
                    mount=f"/mnt/{name}",
                    persistent=True,
                    class_=draw(st.sampled_from(["default", "beta1", "beta2", "beta3"])),
                    read_only=draw(st.booleans()),
                )
            )
        elif kind == "ram":
            volumes.append(VolumeSpec(name=name, size=size, mount=f"/mnt/{name}", class_="ram"))
        else:
            volumes.append(VolumeSpec(name=name, size=size, mount=f"/mnt/{name}"))
    return tuple(volumes)


@st.composite
def _specs(draw: st.DrawFn) -> WorkloadSpec:
    names = draw(st.lists(_names, min_size=1, max_size=3, unique=True))
    services = []
    for position, name in enumerate(names):
        ports = tuple(
            draw(_ports(name, i)) for i in range(draw(st.integers(1 if position == 0 else 0, 3)))
        )
        gpu = draw(st.none() | st.builds(GpuSpec, units=st.integers(1, 4)))
        services.append(
            ServiceSpec(
                name=name,
                image=draw(
                    st.from_regex(
                        r"([a-z0-9]{1,6}\.[a-z]{2,3}(:[0-9]{1,5})?/)?[a-z0-9]{1,8}"
                        r"([._-][a-z0-9]{1,4}){0,2}(/[a-z0-9]{1,6}){0,2}(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,9})?",
                        fullmatch=True,
                    )
                ),
                command=draw(st.none() | st.lists(_env_values, max_size=2).map(tuple)),
                env=draw(_env),
                cpu=draw(st.sampled_from([0.1, 0.5, 1, 2, "250m", "1500m"])),
                memory=draw(st.sampled_from(["128Mi", "512Mi", "1Gi", "2G"])),
                storage=draw(st.sampled_from(["512Mi", "1Gi", "5G"])),
                volumes=draw(_volumes()),
                gpu=gpu,
                ports=ports,
                count=draw(st.integers(1, 5)),
            )
        )
    return WorkloadSpec(
        services=tuple(services),
        placement=PlacementSpec(
            region=draw(st.none() | st.sampled_from(["us-west", "eu-central"])),
            audited_only=draw(st.booleans()),
        ),
        max_price_uact=draw(st.decimals(min_value=Decimal("0.001"), max_value=100000, places=3)),
    )


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {key: _shuffled(item, rng) for key, item in items}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


_SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_specs())
def test_any_valid_spec_builds_an_sdl_that_validates(spec: WorkloadSpec) -> None:
    sdl = parse_sdl(build_sdl(spec))
    for service in spec.services:
        parsed = sdl.services[service.name]
        assert _env_of(parsed.env) == service.env
        assert parsed.command == service.command
        assert parsed.image == service.image
        assert sdl.deployment[service.name]["akash"].count == service.count


@_SETTINGS
@given(_specs(), st.randoms(use_true_random=False))
def test_manifest_hash_is_stable_across_runs_and_key_order(
    spec: WorkloadSpec, rng: random.Random
) -> None:
    text = build_sdl(spec)
    first = build_manifest(parse_sdl(text))
    again = build_manifest(parse_sdl(build_sdl(spec)))
    assert again.version == first.version
    assert again.json == first.json
    reordered = yaml.dump(
        _shuffled(yaml.safe_load(text), rng), Dumper=_Dumper, sort_keys=False, allow_unicode=True
    )
    assert build_manifest(parse_sdl(reordered)).version == first.version


def _typed(value: Any) -> Any:
    """``value`` with every scalar's exact type next to it (``1``, ``1.0`` and ``True`` differ)."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)


def _containers(value: Any) -> list[int]:
    if isinstance(value, dict):
        return [id(value), *(i for item in value.values() for i in _containers(item))]
    if isinstance(value, list):
        return [id(value), *(i for item in value for i in _containers(item))]
    return []


@_SETTINGS
@given(_specs())
def test_the_built_data_is_what_loading_the_built_text_gives(spec: WorkloadSpec) -> None:
    text, data = build_sdl_data(spec)
    assert text == build_sdl(spec)
    loaded = yaml.load(text, Loader=yaml.CSafeLoader)
    assert _typed(data) == _typed(loaded)
    assert list(data) == list(loaded)  # key order too: the data is written again as it is
    ids = _containers(data)
    assert len(ids) == len(set(ids))  # nothing shared, so nothing is written as an alias


def test_the_built_data_reads_decimals_back_as_the_numbers_written() -> None:
    spec = _full_spec().model_copy(update={"max_price_uact": Decimal("2500.50")})
    text, data = build_sdl_data(spec)
    prices = [p["amount"] for p in data["profiles"]["placement"]["akash"]["pricing"].values()]
    loaded = yaml.load(text, Loader=yaml.CSafeLoader)["profiles"]["placement"]["akash"]
    assert _typed(prices) == _typed([p["amount"] for p in loaded["pricing"].values()])
    assert {type(p) for p in prices} <= {int, float}
