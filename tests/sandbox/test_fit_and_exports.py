from __future__ import annotations

import importlib
import pkgutil
from decimal import Decimal
from pathlib import Path

import pytest

import minds371_sandbox as sandbox
from minds371.errors import ConfigurationError, ValidationError
from minds371_sandbox import ProviderSpec, default_providers, load_providers
from minds371_sandbox._fit import decide, order_needs
from tests.sandbox.specs import GI, MI, group_spec


def test_every_exported_name_resolves_and_every_module_declares_all() -> None:
    for name in sandbox.__all__:
        assert getattr(sandbox, name) is not None
    with pytest.raises(AttributeError):
        _ = sandbox.NotAThing
    for info in pkgutil.iter_modules(sandbox.__path__):
        module = importlib.import_module(f"{sandbox.__name__}.{info.name}")
        declared = set(module.__all__)
        assert all(hasattr(module, n) for n in declared), info.name


def test_order_needs_sums_units_times_counts() -> None:
    needs = order_needs(
        group_spec(cpu=250, memory=256 * MI, count=3, price="10.5", persistent_class="beta2")
    )
    assert needs.cpu_millicores == 750
    assert needs.memory_bytes == 768 * MI
    assert needs.storage_bytes == 3 * GI
    assert needs.persistent_storage_bytes == 30 * GI
    assert needs.storage_classes == {"beta2"}
    assert needs.max_price == Decimal("31.5")


def refusal(provider: ProviderSpec, **spec: object) -> str:
    decision = decide(provider, group_spec(**spec), used={}, used_gpus={}, online=True)  # type: ignore[arg-type]
    return decision.reason


def test_refusals_carry_the_provider_wording() -> None:
    lantern = next(p for p in default_providers() if p.name == "lantern")  # ram storage only
    falcon = next(p for p in default_providers() if p.name == "falcon")
    assert refusal(falcon, denom="uakt") == "Unsupported Denomination"
    assert (
        refusal(falcon, attributes={"region": "eu-west"})
        == "incompatible provider/order attributes"
    )
    assert refusal(lantern, persistent_class="beta3") == "unsupported storage class beta3"
    assert refusal(falcon, cpu=10_000_000) == "insufficient capacity"
    assert refusal(falcon, price="0.5") == "Price too high, not bidding"
    assert refusal(falcon) == "bid"
    offline = decide(falcon, group_spec(), used={}, used_gpus={}, online=False)
    assert (offline.bids, offline.reason) == (False, "provider offline")


def test_gpu_price_and_wildcard_model() -> None:
    summit = next(p for p in default_providers() if p.name == "summit")
    h100 = decide(
        summit, group_spec(gpu_model="h100", price="10000"), used={}, used_gpus={}, online=True
    )
    assert h100.price is not None and h100.price > Decimal(2500)
    anything = decide(
        summit, group_spec(gpu_model="*", price="10000"), used={}, used_gpus={}, online=True
    )
    assert anything.price is not None and anything.price < h100.price  # the cheapest model fits
    busy = decide(
        summit,
        group_spec(gpu_model="h100", price="10000"),
        used={},
        used_gpus={"h100": 8},
        online=True,
    )
    assert not busy.bids


def test_provider_file_loading(tmp_path: Path) -> None:
    good = tmp_path / "p.json"
    good.write_text('{"providers": [{"name": "a", "region": "r"}, {"name": "b", "region": "r"}]}')
    specs = load_providers(good)
    assert [s.name for s in specs] == ["a", "b"] and specs[0].address.startswith("akash1")
    dup = tmp_path / "dup.yaml"
    dup.write_text("- {name: a, region: r}\n- {name: a, region: s}\n")
    with pytest.raises(ConfigurationError, match="unique"):
        load_providers(dup)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: A!, region: r, colour: blue}\n")
    with pytest.raises(ValidationError) as info:
        load_providers(bad)
    paths = {issue.path for issue in info.value.issues}
    assert {"/0/name", "/0/colour"} <= paths
    with pytest.raises(ConfigurationError):
        load_providers(tmp_path / "missing.yaml")
