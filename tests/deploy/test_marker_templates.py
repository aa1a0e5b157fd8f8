"""Task-marked SDLs derived from a workload's template equal those written for the task directly.

A runtime marks a workload's SDL once with a placeholder id and gives each task that text with its
own id (``minds371_deploy._marker``); the task's preparation (manifest, version) is derived the
same way (``minds371_akash._prepare.with_value_replaced``). Everything a network sees must be
what marking and preparing the task's own text gives.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minds371.errors import ValidationError
from minds371_akash import AkashIntegrationProvider
from minds371_akash._prepare import prepare_sdl, with_value_replaced
from minds371_akash.bidding import BidPolicy
from minds371_akash.market.console import ConsoleBackend
from minds371_deploy._marker import marked_sdl, with_task_marker
from minds371_deploy._yaml import load_checked_sdl
from minds371_deploy.request import _BUILD_FIELDS, _NOT_IN_SDL, DeploymentRequest, parse_request

WEB = (Path(__file__).parents[1] / "fixtures" / "market" / "web.yaml").read_text()
HEX_ID = st.text("0123456789abcdef", min_size=32, max_size=32)
DASHED_ID = st.uuids().map(str)

names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
env_values = st.text(
    st.characters(blacklist_categories=("Cs", "Cc")), max_size=12
)  # quotes, colons, unicode: whatever YAML must quote


@st.composite
def requests(draw: st.DrawFn) -> DeploymentRequest:
    services = []
    for index, name in enumerate(draw(st.lists(names, min_size=1, max_size=3, unique=True))):
        image = draw(st.sampled_from(["nginx:1.27", "redis:7"]))
        service: dict[str, Any] = {"name": name, "image": image}
        if index == 0 or draw(st.booleans()):  # one port at least must be global
            service["ports"] = [{"port": draw(st.sampled_from([80, 8080, 9000]))}]
        service["env"] = draw(
            st.dictionaries(
                st.from_regex(r"[A-Z][A-Z_]{0,5}", fullmatch=True), env_values, max_size=3
            )
        )
        services.append(service)
    payload: dict[str, Any] = {
        "name": "app",
        "infra_spec": {"services": services, "max_price_uact": draw(st.sampled_from([100, 1000]))},
        "environment_vars": draw(
            st.dictionaries(st.from_regex(r"[A-Z]{1,4}", fullmatch=True), env_values, max_size=2)
        ),
    }
    return parse_request(payload)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests(), st.lists(st.one_of(HEX_ID, DASHED_ID), min_size=2, max_size=3, unique=True))
def test_a_template_gives_each_task_its_own_marked_text_and_preparation(
    request: DeploymentRequest, task_ids: list[str]
) -> None:
    key = f"{request.base_sdl_key()}{secrets.token_hex(4)}"  # a template of this example's own
    for task_id in task_ids:
        marked = marked_sdl(key, request.base_sdl_data, task_id)
        direct = with_task_marker(request.base_sdl(), task_id)
        assert marked.text == direct
        for rules in ("console", "go"):
            marked.check(rules)
            derived = marked.prepared(rules)
            assert derived is not None
            assert derived == prepare_sdl(direct, rules=rules)


def test_ids_unlike_the_placeholder_are_marked_directly() -> None:
    request = parse_request({"name": "web", "image": "nginx:1.27"})
    marked = marked_sdl(request.base_sdl_key(), request.base_sdl_data, "job-7")
    assert marked.text == with_task_marker(request.base_sdl(), "job-7")
    assert marked.prepared("console") is None  # the provider prepares the text itself


def test_a_template_that_fails_the_rules_fails_each_task_as_its_own_text_would() -> None:
    # chain-sdk's schema wants sizes as strings: Console's rules refuse this SDL.
    refused = WEB.replace("size: 1Gi", "size: 1073741824")
    task_id = secrets.token_hex(16)
    marked = marked_sdl(f"refused-{task_id}", lambda: load_checked_sdl(refused), task_id)
    with pytest.raises(ValidationError) as from_template:
        marked.check("console")
    with pytest.raises(ValidationError) as direct:
        prepare_sdl(with_task_marker(refused, task_id), rules="console")
    assert from_template.value.issues == direct.value.issues
    assert marked.prepared("console") is None  # the provider prepares the text, and fails


# -- what the base SDL depends on ----------------------------------------------------------------

BASE: dict[str, Any] = {
    "name": "shop",
    "infra_spec": {
        "services": [{"name": "web", "image": "nginx:1.27", "ports": [{"port": 80}]}],
        "max_price_uact": 100,
    },
}

#: The build fields apply to a request with a repository only.
BUILT: dict[str, Any] = {
    **BASE,
    "repo_url": "https://github.com/acme/shop",
    "container_registry": "ghcr.io/acme",
}
BUILD_FIELDS = set(_BUILD_FIELDS)

#: For each field the base SDL does not read: a value other than the base request's.
OTHER_VALUES: dict[str, Any] = {
    "task_id": "another-task",
    "repo_branch": "develop",
    "container_registry": "registry.example.com/other",
    "cloud_provider": "akash",  # its only value: nothing else to try
    "target_environment": "staging",
    "build_commands": ["make"],
    "build_shell": True,
    "build_timeout": 120,
    "dockerfile": "build/Dockerfile",
    "network": "console",
    "redundancy": 2,
    "bid_policy": {"audited_only": True, "enough_bids": 2},
    "budget": {"max_uact_per_block": 90},
    "deposit_uact": "600000",
    "ttl": 3600,
    "idle": {"probe": "/requests", "after": 3600},
    "if_running": "new",
}


@pytest.mark.parametrize("field", sorted(_NOT_IN_SDL), ids=lambda field: f"without-{field}")
def test_fields_left_out_of_the_key_do_not_change_the_base_sdl(field: str) -> None:
    assert field in OTHER_VALUES, f"give {field} another value here"
    start = BUILT if field in BUILD_FIELDS else BASE
    try:
        other = parse_request({**start, field: OTHER_VALUES[field]})
    except ValidationError as exc:
        pytest.fail(f"{field}: {exc}")
    base = parse_request(start)
    assert other.base_sdl_key() == base.base_sdl_key()
    assert other.base_sdl() == base.base_sdl()


def test_the_name_is_in_the_key_of_a_bare_image_only() -> None:
    image = {"name": "one", "image": "nginx:1.27"}
    assert parse_request(image).base_sdl() != parse_request({**image, "name": "two"}).base_sdl()
    assert (
        parse_request(image).base_sdl_key()
        != parse_request({**image, "name": "two"}).base_sdl_key()
    )
    assert parse_request(BASE).base_sdl_key() == parse_request({**BASE, "name": "x"}).base_sdl_key()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("environment_vars", {"MODE": "on"}),
        ("domain", "shop.example.com"),
        ("image", None),
    ],
)
def test_fields_the_sdl_reads_change_the_key(field: str, value: Any) -> None:
    payload = {**BASE, field: value}
    if field == "image":
        payload = {"name": "shop", "image": "nginx:1.28"}
    assert parse_request(payload).base_sdl_key() != parse_request(BASE).base_sdl_key()


# -- deriving a preparation -----------------------------------------------------------------------


def test_only_same_length_plain_values_are_replaced() -> None:
    request = parse_request(BASE)
    old, new = "a" * 32, "b" * 32
    prepared = prepare_sdl(with_task_marker(request.base_sdl(), old), rules="console")
    with pytest.raises(ValueError, match="same-length"):
        with_value_replaced(prepared, old, "b" * 31)
    with pytest.raises(ValueError, match="same-length"):
        with_value_replaced(prepared, old, "b" * 31 + ":")
    assert with_value_replaced(prepared, old, new) == prepare_sdl(
        with_task_marker(request.base_sdl(), new), rules="console"
    )


def test_a_value_that_stands_in_the_groups_is_not_replaced() -> None:
    prepared = prepare_sdl(with_task_marker(parse_request(BASE).base_sdl(), "x" * 32), rules="go")
    with pytest.raises(ValueError, match="groups"):
        with_value_replaced(prepared, "uact", "uakt")


# -- the provider uses a preparation it is given --------------------------------------------------


async def test_the_provider_uses_the_preparation_given_for_its_text_only() -> None:
    request = parse_request(BASE)
    task_id = secrets.token_hex(16)
    marked = marked_sdl(request.base_sdl_key(), request.base_sdl_data, task_id)
    given_prepared = marked.prepared("console")
    assert given_prepared is not None
    backend = ConsoleBackend("http://127.0.0.1:9", api_key="unused")  # prepare() sends nothing
    provider = AkashIntegrationProvider(
        backend, policy=BidPolicy(), prepared=given_prepared, own_backend=True
    )
    async with provider:
        assert provider.prepare(marked.text) is given_prepared
        other = with_task_marker(request.base_sdl(), "b" * 32)
        assert provider.prepare(other) is not given_prepared
        assert provider.prepare(other).sdl == other
        assert given_prepared.max_price_per_block == Decimal(100)
