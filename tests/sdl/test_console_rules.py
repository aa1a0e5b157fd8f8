"""Console's SDL rules (chain-sdk TypeScript): what it accepts, refuses and builds differently.

Each expectation is read off ``chain-sdk:ts/src/sdl`` (``sizes.ts``, ``validateSDL/``,
``manifest/generateManifest.ts``, ``manifest/manifestUtils.ts``) and set against the Go engine.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from minds371.errors import ValidationError
from minds371_akash.sdl import CONSOLE_SUBJECT, build_console_manifest, build_manifest, parse_sdl


def document(*, version: str = "2.0") -> dict[str, Any]:
    """A small SDL as data: ``web`` exposes port 80 globally from the ``dcloud`` placement."""
    return {
        "version": version,
        "services": {
            "web": {"image": "nginx:1.27", "expose": [{"port": 80, "to": [{"global": True}]}]}
        },
        "profiles": {
            "compute": {
                "web": {
                    "resources": {
                        "cpu": {"units": 0.5},
                        "memory": {"size": "512Mi"},
                        "storage": [{"size": "1Gi"}],
                    }
                }
            },
            "placement": {"dcloud": {"pricing": {"web": {"denom": "uact", "amount": 1000}}}},
        },
        "deployment": {"web": {"dcloud": {"profile": "web", "count": 1}}},
    }


def text(doc: dict[str, Any]) -> str:
    return str(yaml.safe_dump(doc, sort_keys=False))


def compute(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["profiles"]["compute"]["web"]["resources"]  # type: ignore[no-any-return]


def resources(manifest: Any, service: str = "web") -> dict[str, Any]:
    groups = json.loads(manifest.json)
    return next(s for s in groups[0]["services"] if s["name"] == service)["resources"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("memory", "size"),
    [
        ("16GB", 16 * 10**9),
        ("16gi", 16 * 1024**3),
        ("512mb", 512 * 10**6),
        ("0.3333Gi", 357878150),  # 357878149.94 rounded up (Math.ceil)
    ],
)
def test_console_reads_sizes_by_its_own_rules(memory: str, size: int) -> None:
    doc = document()
    compute(doc)["memory"]["size"] = memory
    built = build_console_manifest(text(doc))
    assert resources(built)["memory"]["size"]["val"] == str(size)


def test_go_truncates_fractional_sizes() -> None:
    doc = document()
    compute(doc)["memory"]["size"] = "0.3333Gi"
    assert resources(build_manifest(parse_sdl(text(doc))))["memory"]["size"]["val"] == "357878149"


@pytest.mark.parametrize("memory", ["16GB", "16gi", "512mb"])
def test_go_refuses_those_units(memory: str) -> None:
    doc = document()
    compute(doc)["memory"]["size"] = memory
    with pytest.raises(ValidationError):
        parse_sdl(text(doc))


def test_console_keeps_the_name_of_a_single_storage_mapping() -> None:
    doc = document()
    compute(doc)["storage"] = {"name": "data", "size": "2Gi"}
    built = build_console_manifest(text(doc))
    assert resources(built)["storage"] == [{"name": "data", "size": {"val": str(2 * 1024**3)}}]
    # Go names a single mapping "default" whatever it says.
    go = build_manifest(parse_sdl(text(doc)))
    assert resources(go)["storage"][0]["name"] == "default"


def _unknown_field(doc: dict[str, Any]) -> str:
    compute(doc)["memory"]["unit"] = "x"
    return "/profiles/compute/web/resources/memory/unit"


def _persistent_without_class(doc: dict[str, Any]) -> str:
    compute(doc)["storage"][0]["attributes"] = {"persistent": True}
    return "/profiles/compute/web/resources/storage/0/attributes/class"


def _size_as_number(doc: dict[str, Any]) -> str:
    compute(doc)["storage"][0]["size"] = 1073741824
    return "/profiles/compute/web/resources/storage/0/size"


def _size_without_unit(doc: dict[str, Any]) -> str:
    compute(doc)["memory"]["size"] = "536870912"
    return "/profiles/compute/web/resources/memory/size"


@pytest.mark.parametrize(
    "change", [_unknown_field, _persistent_without_class, _size_as_number, _size_without_unit]
)
def test_console_refuses_with_a_named_issue(change: Any) -> None:
    doc = document()
    path = change(doc)
    with pytest.raises(ValidationError) as info:
        build_console_manifest(text(doc))
    assert info.value.subject == CONSOLE_SUBJECT
    assert path in [issue.path for issue in info.value.issues], info.value.issues


def test_go_accepts_a_size_console_refuses() -> None:
    doc = document()
    _size_without_unit(doc)
    parse_sdl(text(doc))


def with_sidecar(doc: dict[str, Any]) -> dict[str, Any]:
    """A second service on the same compute profile and placement as ``web``."""
    doc["services"]["sidecar"] = {
        "image": "busybox:1.36",
        "expose": [{"port": 8080, "to": [{"global": True}]}],
    }
    doc["deployment"]["sidecar"] = {"dcloud": {"profile": "web", "count": 2}}
    return doc


def test_console_merges_services_sharing_a_profile_in_sdl_2_0() -> None:
    source = text(with_sidecar(document()))
    go = build_manifest(parse_sdl(source))
    ts = build_console_manifest(source)
    # Go 2.0: one resource unit per service; chain-sdk: one per (placement, profile).
    assert [u["count"] for u in go.group_specs[0]["resources"]] == [2, 1]
    assert [u["count"] for u in ts.group_specs[0]["resources"]] == [3]
    assert {resources(ts, s)["id"] for s in ("web", "sidecar")} == {1}
    assert sorted(resources(go, s)["id"] for s in ("web", "sidecar")) == [1, 2]
    # The merged unit's endpoints are sorted by kind: shared HTTP (0) before random port (1).
    endpoints = ts.group_specs[0]["resources"][0]["resource"]["endpoints"]
    assert endpoints == [{"sequence_number": 0}, {"kind": 1, "sequence_number": 0}]
    assert go.version != ts.version


def test_both_merge_in_sdl_2_1() -> None:
    source = text(with_sidecar(document(version="2.1")))
    go = build_manifest(parse_sdl(source))
    ts = build_console_manifest(source)
    assert [u["count"] for u in go.group_specs[0]["resources"]] == [3]
    assert [u["count"] for u in ts.group_specs[0]["resources"]] == [3]


def test_console_keeps_compute_storage_in_yaml_order() -> None:
    doc = document()
    compute(doc)["storage"] = [
        {"name": "data", "size": "10Gi", "attributes": {"persistent": True, "class": "beta2"}},
        {"size": "1Gi"},
    ]
    doc["services"]["web"]["params"] = {"storage": {"data": {"mount": "/data"}}}
    go = build_manifest(parse_sdl(text(doc)))
    ts = build_console_manifest(text(doc))
    assert [v["name"] for v in resources(go)["storage"]] == ["default", "data"]
    assert [v["name"] for v in resources(ts)["storage"]] == ["data", "default"]
    assert go.version != ts.version


def test_console_keeps_gpu_models_in_yaml_order() -> None:
    doc = document()
    models = [{"model": "h100", "ram": "80Gi"}, {"model": "a100"}]
    compute(doc)["gpu"] = {"units": 1, "attributes": {"vendor": {"nvidia": models}}}
    go = build_manifest(parse_sdl(text(doc)))
    ts = build_console_manifest(text(doc))
    keys = [a["key"] for a in resources(ts)["gpu"]["attributes"]]
    assert keys == ["vendor/nvidia/model/h100/ram/80Gi", "vendor/nvidia/model/a100"]
    assert [a["key"] for a in resources(go)["gpu"]["attributes"]] == sorted(keys)
    assert go.version != ts.version


def test_console_orders_a_service_s_endpoints_as_its_exposes_are_written() -> None:
    doc = document()
    doc["services"]["web"]["expose"].insert(0, {"port": 8080, "to": [{"global": True}]})
    go = build_manifest(parse_sdl(text(doc)))
    ts = build_console_manifest(text(doc))
    http, port = {"sequence_number": 0}, {"kind": 1, "sequence_number": 0}
    assert resources(go)["endpoints"] == [http, port]
    assert resources(ts)["endpoints"] == [port, http]
    assert go.version != ts.version


def test_console_numbers_leased_ips_over_global_targets_only() -> None:
    doc = with_sidecar(document(version="2.1"))
    doc["endpoints"] = {"myip": {"kind": "ip"}}
    doc["services"]["web"]["expose"][0]["to"] = [{"global": True, "ip": "myip"}]
    doc["services"]["sidecar"]["expose"] = [{"port": 8080, "to": [{"service": "web"}]}]
    go = build_manifest(parse_sdl(text(doc)))
    ts = build_console_manifest(text(doc))
    # Go also counts the sidecar's non-global target (as ""), so "myip" becomes 2.
    assert resources(go)["endpoints"][-1] == {"kind": 2, "sequence_number": 2}
    assert resources(ts)["endpoints"][-1] == {"kind": 2, "sequence_number": 1}


def test_same_manifest_where_the_rules_agree() -> None:
    source = text(document())
    assert build_console_manifest(source).json == build_manifest(parse_sdl(source)).json


def _console_valid_texts() -> list[str]:
    from tests.sdl.conftest import FIXTURES

    texts = []
    for path in sorted(FIXTURES.glob("chain-sdk-golden/*/*.sdl.yaml")):
        text = path.read_text()
        try:
            build_console_manifest(text)
        except ValidationError:
            continue
        texts.append(text)
    return texts


def test_one_load_serves_the_console_manifest_and_the_checks_on_every_network() -> None:
    # prepare_sdl reads a Console SDL once: the manifest and runnable_issues share the data, so
    # neither may change it, and the checks must find in it what they find in the text.
    import copy

    from minds371_akash.sdl import console_manifest_from_data, console_rules_data, runnable_issues

    texts = _console_valid_texts()
    assert len(texts) > 50
    for text in texts:
        data = console_rules_data(text)
        before = copy.deepcopy(data)
        manifest = console_manifest_from_data(data)
        assert data == before
        assert manifest.json == build_console_manifest(text).json
        assert runnable_issues(data) == runnable_issues(text)
        assert data == before


def test_a_console_sdl_no_provider_could_run_is_refused_from_its_one_load() -> None:
    from minds371_akash._prepare import prepare_sdl
    from minds371_akash.sdl import runnable_issues

    doc = document()
    doc["services"]["web"]["image"] = "Nginx:Latest"
    doc["services"]["web"]["env"] = ["1BAD=x"]
    doc["profiles"]["placement"]["dcloud"]["attributes"] = {"region": "us$(id)"}
    sdl = text(doc)
    expected = runnable_issues(sdl)
    assert [issue.path for issue in expected] == [
        "/services/web/image",
        "/services/web/env/0",
        "/profiles/placement/dcloud/attributes/region",
    ]
    with pytest.raises(ValidationError) as info:
        prepare_sdl(sdl, rules="console")
    assert list(info.value.issues) == expected


def test_a_text_checked_ahead_is_loaded_once_for_the_next_console_rules_data() -> None:
    from minds371_akash.sdl import _ts_manifest, check_console_sdl, console_rules_data

    sdl = text(document())
    check_console_sdl(sdl)
    assert sdl in _ts_manifest._checked
    first = console_rules_data(sdl)
    assert sdl not in _ts_manifest._checked  # handed out once: nobody else holds that data
    assert first == console_rules_data(sdl) == console_rules_data(sdl.encode())
    assert console_rules_data(sdl, denom=None) is not first


def test_a_text_refused_ahead_keeps_nothing_and_texts_checked_ahead_are_bounded() -> None:
    from minds371_akash.sdl import _ts_manifest, check_console_sdl

    doc = document()
    doc["services"]["web"]["expose"][0]["port"] = 0
    with pytest.raises(ValidationError):
        check_console_sdl(text(doc))
    assert text(doc) not in _ts_manifest._checked
    limit = _ts_manifest._CHECKED_LIMIT
    texts = [f"{text(document())}# {n}\n" for n in range(limit + 5)]
    for sdl in texts:
        check_console_sdl(sdl)
    assert len(_ts_manifest._checked) == limit
    assert texts[0] not in _ts_manifest._checked and texts[-1] in _ts_manifest._checked
    _ts_manifest._checked.clear()
