"""Semantic SDL rules: each refused with the offending path, all issues collected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from minds371.errors import ValidationError
from minds371_akash.sdl import parse_sdl
from tests.sdl._sdl import base, dump

Doc = dict[str, Any]


def _issues(doc: Doc) -> dict[str, str]:
    with pytest.raises(ValidationError) as info:
        parse_sdl(dump(doc))
    assert info.value.subject == "SDL"
    return {issue.path: issue.message for issue in info.value.issues}


def _web(doc: Doc) -> Doc:
    web: Doc = doc["services"]["web"]
    return web


def _res(doc: Doc) -> Doc:
    res: Doc = doc["profiles"]["compute"]["web"]["resources"]
    return res


def test_base_document_is_valid() -> None:
    sdl = parse_sdl(dump(base()))
    assert sdl.version == "2.0"
    assert sdl.warnings == ()


def _second_service(doc: Doc) -> None:
    doc["services"]["api"] = {"image": "node:20"}


def _deploy_unknown(doc: Doc) -> None:
    doc["deployment"]["ghost"] = {"akash": {"profile": "web", "count": 1}}


def _unknown_placement(doc: Doc) -> None:
    doc["deployment"]["web"] = {"elsewhere": {"profile": "web", "count": 1}}


def _unknown_profile(doc: Doc) -> None:
    doc["deployment"]["web"]["akash"]["profile"] = "big"


def _no_price(doc: Doc) -> None:
    doc["profiles"]["compute"]["big"] = doc["profiles"]["compute"]["web"]
    doc["deployment"]["web"]["akash"]["profile"] = "big"


def _cpu_low(doc: Doc) -> None:
    _res(doc)["cpu"]["units"] = "5m"


def _cpu_high(doc: Doc) -> None:
    _res(doc)["cpu"]["units"] = 385


def _cpu_text(doc: Doc) -> None:
    _res(doc)["cpu"]["units"] = "half"


def _cpu_attr(doc: Doc) -> None:
    _res(doc)["cpu"]["attributes"] = {"vendor": "intel"}


def _memory_low(doc: Doc) -> None:
    _res(doc)["memory"]["size"] = "512Ki"


def _memory_high(doc: Doc) -> None:
    _res(doc)["memory"]["size"] = "3Ti"


def _memory_lowercase(doc: Doc) -> None:
    _res(doc)["memory"]["size"] = "512mi"


def _storage_high(doc: Doc) -> None:
    _res(doc)["storage"] = [{"size": "33Ti"}]


def _dup_volume(doc: Doc) -> None:
    _res(doc)["storage"] = [{"size": "1Gi"}, {"size": "2Gi"}]


def _bad_class(doc: Doc) -> None:
    _res(doc)["storage"] = [
        {"size": "1Gi"},
        {"name": "data", "size": "1Gi", "attributes": {"class": "ssd", "persistent": True}},
    ]
    _web(doc)["params"] = {"storage": {"data": {"mount": "/data"}}}


def _ram_persistent(doc: Doc) -> None:
    _res(doc)["storage"] = [
        {"size": "1Gi"},
        {"name": "shm", "size": "1Gi", "attributes": {"class": "ram", "persistent": True}},
    ]
    _web(doc)["params"] = {"storage": {"shm": {"mount": "/dev/shm"}}}


def _class_not_persistent(doc: Doc) -> None:
    _res(doc)["storage"] = [
        {"size": "1Gi"},
        {"name": "data", "size": "1Gi", "attributes": {"class": "beta2", "persistent": False}},
    ]


def _params_unknown_volume(doc: Doc) -> None:
    _web(doc)["params"] = {"storage": {"data": {"mount": "/data"}}}


def _persistent_no_mount(doc: Doc) -> None:
    _res(doc)["storage"] = [
        {"size": "1Gi"},
        {"name": "data", "size": "1Gi", "attributes": {"class": "beta2", "persistent": True}},
    ]


def _relative_mount(doc: Doc) -> None:
    _res(doc)["storage"] = [
        {"size": "1Gi"},
        {"name": "data", "size": "1Gi", "attributes": {"class": "beta2", "persistent": True}},
    ]
    _web(doc)["params"] = {"storage": {"data": {"mount": "data"}}}


def _dup_mount(doc: Doc) -> None:
    _res(doc)["storage"] = [
        {"size": "1Gi"},
        {"name": "a", "size": "1Gi", "attributes": {"class": "beta2", "persistent": True}},
        {"name": "b", "size": "1Gi", "attributes": {"class": "beta2", "persistent": True}},
    ]
    _web(doc)["params"] = {"storage": {"a": {"mount": "/data"}, "b": {"mount": "/data"}}}


def _ram_read_only(doc: Doc) -> None:
    _res(doc)["storage"] = [
        {"size": "1Gi"},
        {"name": "shm", "size": "1Gi", "attributes": {"class": "ram", "persistent": False}},
    ]
    _web(doc)["params"] = {"storage": {"shm": {"mount": "/dev/shm", "readOnly": True}}}


def _gpu_no_attributes(doc: Doc) -> None:
    _res(doc)["gpu"] = {"units": 1}


def _gpu_attributes_no_units(doc: Doc) -> None:
    _res(doc)["gpu"] = {"units": 0, "attributes": {"vendor": {"nvidia": None}}}


def _gpu_too_many(doc: Doc) -> None:
    _res(doc)["gpu"] = {"units": 25, "attributes": {"vendor": {"nvidia": None}}}


def _gpu_no_vendor(doc: Doc) -> None:
    _res(doc)["gpu"] = {"units": 1, "attributes": {"vendor": {}}}


def _gpu_bad_interface(doc: Doc) -> None:
    _res(doc)["gpu"] = {
        "units": 1,
        "attributes": {"vendor": {"nvidia": [{"model": "h100", "interface": "nvlink"}]}},
    }


def _gpu_bad_ram(doc: Doc) -> None:
    _res(doc)["gpu"] = {
        "units": 1,
        "attributes": {"vendor": {"nvidia": [{"model": "h100", "ram": "80GB"}]}},
    }


def _tee_gpu_without_gpu(doc: Doc) -> None:
    doc["version"] = "2.1"
    _web(doc)["params"] = {"tee": "cpu-gpu"}


def _mixed_tee(doc: Doc) -> None:
    doc["version"] = "2.1"
    _web(doc)["params"] = {"tee": "cpu"}
    doc["services"]["api"] = {"image": "node:20", "params": {"tee": "cpu-gpu"}}
    doc["profiles"]["compute"]["gpu"] = {
        "resources": {
            "cpu": {"units": 1},
            "memory": {"size": "1Gi"},
            "storage": {"size": "1Gi"},
            "gpu": {"units": 1, "attributes": {"vendor": {"nvidia": None}}},
        }
    }
    doc["profiles"]["placement"]["akash"]["pricing"]["gpu"] = {"denom": "uact", "amount": 10}
    doc["deployment"]["api"] = {"akash": {"profile": "gpu", "count": 1}}


def _ip_undeclared(doc: Doc) -> None:
    _web(doc)["expose"][0]["to"] = [{"global": True, "ip": "myip"}]


def _ip_not_global(doc: Doc) -> None:
    doc["endpoints"] = {"myip": {"kind": "ip"}}
    _web(doc)["expose"].append({"port": 443, "to": [{"ip": "myip"}]})


def _ip_port_reused(doc: Doc) -> None:
    doc["endpoints"] = {"myip": {"kind": "ip"}}
    _web(doc)["expose"] = [
        {"port": 80, "to": [{"global": True, "ip": "myip"}]},
        {"port": 8080, "as": 80, "to": [{"global": True, "ip": "myip"}]},
    ]


def _endpoint_unused(doc: Doc) -> None:
    doc["endpoints"] = {"myip": {"kind": "ip"}}


def _endpoint_bad_name(doc: Doc) -> None:
    doc["endpoints"] = {"My_IP": {"kind": "ip"}}
    _web(doc)["expose"][0]["to"] = [{"global": True, "ip": "My_IP"}]


def _no_global(doc: Doc) -> None:
    _web(doc)["expose"][0]["to"] = [{"service": "web"}]


def _bad_host(doc: Doc) -> None:
    _web(doc)["expose"][0]["accept"] = ["Not A Host"]


def _dup_host(doc: Doc) -> None:
    _web(doc)["expose"][0]["accept"] = ["example.com"]
    _web(doc)["expose"].append({"port": 8080, "accept": ["example.com"], "to": [{"global": True}]})


def _bad_env(doc: Doc) -> None:
    _web(doc)["env"] = ["GOOD=1", "1BAD=2"]


def _mixed_denoms(doc: Doc) -> None:
    doc["services"]["api"] = {"image": "node:20"}
    doc["profiles"]["placement"]["other"] = {"pricing": {"web": {"denom": "uakt", "amount": 5}}}
    doc["deployment"]["api"] = {"other": {"profile": "web", "count": 1}}


def _price_high(doc: Doc) -> None:
    doc["profiles"]["placement"]["akash"]["pricing"]["web"]["amount"] = 10_000_001


def _price_precision(doc: Doc) -> None:
    doc["profiles"]["placement"]["akash"]["pricing"]["web"]["amount"] = "0.0000000000000000001"


def _count_high(doc: Doc) -> None:
    doc["deployment"]["web"]["akash"]["count"] = 51


def _too_many_groups(doc: Doc) -> None:
    for index in range(21):
        doc["profiles"]["placement"][f"p{index}"] = doc["profiles"]["placement"]["akash"]
        doc["deployment"]["web"][f"p{index}"] = {"profile": "web", "count": 1}


def _merged_replicas(doc: Doc) -> None:
    doc["version"] = "2.1"
    doc["deployment"]["web"]["akash"]["count"] = 30
    doc["services"]["api"] = {"image": "node:20"}
    doc["deployment"]["api"] = {"akash": {"profile": "web", "count": 30}}


def _group_totals(doc: Doc) -> None:
    _res(doc)["memory"]["size"] = "2Ti"
    doc["deployment"]["web"]["akash"]["count"] = 50
    for index in range(2):
        name = f"s{index}"
        doc["services"][name] = {"image": "x"}
        doc["deployment"][name] = {"akash": {"profile": "web", "count": 50}}


def _bad_service_name(doc: Doc) -> None:
    doc["services"]["Web_1"] = doc["services"].pop("web")
    doc["deployment"]["Web_1"] = doc["deployment"].pop("web")


def _next_cases_off(doc: Doc) -> None:
    _web(doc)["expose"][0]["http_options"] = {"next_cases": ["off", "error"]}


def _to_unknown_service(doc: Doc) -> None:
    _web(doc)["expose"].append({"port": 9000, "to": [{"service": "ghost"}]})


def _blank_credentials(doc: Doc) -> None:
    _web(doc)["credentials"] = {"host": " ", "username": "me", "password": "secret1"}


def _no_placement(doc: Doc) -> None:
    doc["deployment"]["web"] = {}


RULES: list[tuple[str, Callable[[Doc], None], str]] = [
    ("service not deployed", _second_service, "/services/api"),
    ("deployment of an unknown service", _deploy_unknown, "/deployment/ghost"),
    ("unknown placement", _unknown_placement, "/deployment/web/elsewhere"),
    ("unknown compute profile", _unknown_profile, "/deployment/web/akash/profile"),
    ("no price for the profile", _no_price, "/deployment/web/akash/profile"),
    ("no placement at all", _no_placement, "/deployment/web"),
    ("cpu below 10m", _cpu_low, "/profiles/compute/web/resources/cpu/units"),
    ("cpu above 384", _cpu_high, "/profiles/compute/web/resources/cpu/units"),
    ("cpu not a quantity", _cpu_text, "/profiles/compute/web/resources/cpu/units"),
    (
        "unsupported cpu attribute",
        _cpu_attr,
        "/profiles/compute/web/resources/cpu/attributes/vendor",
    ),
    ("memory below 1Mi", _memory_low, "/profiles/compute/web/resources/memory/size"),
    ("memory above 2Ti", _memory_high, "/profiles/compute/web/resources/memory/size"),
    ("lowercase unit", _memory_lowercase, "/profiles/compute/web/resources/memory/size"),
    ("storage above 32Ti", _storage_high, "/profiles/compute/web/resources/storage/0/size"),
    ("duplicate volume", _dup_volume, "/profiles/compute/web/resources/storage/1/name"),
    ("unknown class", _bad_class, "/profiles/compute/web/resources/storage/1/attributes/class"),
    (
        "ram cannot persist",
        _ram_persistent,
        "/profiles/compute/web/resources/storage/1/attributes/persistent",
    ),
    (
        "class needs persistence",
        _class_not_persistent,
        "/profiles/compute/web/resources/storage/1/attributes/class",
    ),
    ("mount of unknown volume", _params_unknown_volume, "/services/web/params/storage/data"),
    ("persistent needs a mount", _persistent_no_mount, "/services/web/params/storage/data/mount"),
    ("mount must be absolute", _relative_mount, "/services/web/params/storage/data/mount"),
    ("duplicate mount", _dup_mount, "/services/web/params/storage/b/mount"),
    ("ram cannot be read-only", _ram_read_only, "/services/web/params/storage/shm/readOnly"),
    ("gpu needs attributes", _gpu_no_attributes, "/profiles/compute/web/resources/gpu/attributes"),
    (
        "gpu attributes need units",
        _gpu_attributes_no_units,
        "/profiles/compute/web/resources/gpu/attributes",
    ),
    ("at most 24 gpus", _gpu_too_many, "/profiles/compute/web/resources/gpu/units"),
    ("gpu needs a vendor", _gpu_no_vendor, "/profiles/compute/web/resources/gpu/attributes/vendor"),
    (
        "gpu interface",
        _gpu_bad_interface,
        "/profiles/compute/web/resources/gpu/attributes/vendor/nvidia/0/interface",
    ),
    (
        "gpu ram unit",
        _gpu_bad_ram,
        "/profiles/compute/web/resources/gpu/attributes/vendor/nvidia/0/ram",
    ),
    ("tee cpu-gpu needs gpus", _tee_gpu_without_gpu, "/services/web/params/tee"),
    ("one tee type per placement", _mixed_tee, "/services/api/params/tee"),
    ("ip endpoint must be declared", _ip_undeclared, "/services/web/expose/0/to/0/ip"),
    ("ip needs global", _ip_not_global, "/services/web/expose/1/to/0/global"),
    ("ip port reused", _ip_port_reused, "/services/web/expose/1/to/0/ip"),
    ("endpoint never used", _endpoint_unused, "/endpoints/myip"),
    ("endpoint name", _endpoint_bad_name, "/endpoints/My_IP"),
    ("a global service is needed", _no_global, "/services"),
    ("hostname", _bad_host, "/services/web/expose/0/accept/0"),
    ("duplicate hostname", _dup_host, "/services/web/expose/1/accept/0"),
    ("env name", _bad_env, "/services/web/env/1"),
    ("one denom", _mixed_denoms, "/profiles/placement/other/pricing/web/denom"),
    ("price cap", _price_high, "/profiles/placement/akash/pricing/web/amount"),
    ("price precision", _price_precision, "/profiles/placement/akash/pricing/web/amount"),
    ("at most 50 replicas", _count_high, "/deployment/web/akash/count"),
    ("at most 20 groups", _too_many_groups, "/deployment"),
    ("merged unit replicas", _merged_replicas, "/profiles/placement/akash"),
    ("group total resources", _group_totals, "/profiles/placement/akash"),
    ("service name", _bad_service_name, "/services/Web_1"),
    ("next_cases off alone", _next_cases_off, "/services/web/expose/0/http_options/next_cases"),
    ("to an unknown service", _to_unknown_service, "/services/web/expose/1/to/0/service"),
    ("blank credentials", _blank_credentials, "/services/web/credentials/host"),
]


@pytest.mark.parametrize(("rule", "mutate", "path"), RULES, ids=[r[0] for r in RULES])
def test_rule_is_enforced_at_its_path(rule: str, mutate: Callable[[Doc], None], path: str) -> None:
    doc = base()
    mutate(doc)
    issues = _issues(doc)
    assert path in issues, issues
    assert issues[path]


def test_every_issue_is_reported_at_once() -> None:
    doc = base()
    _cpu_low(doc)
    _memory_high(doc)
    _bad_env(doc)
    _count_high(doc)
    issues = _issues(doc)
    assert {
        "/profiles/compute/web/resources/cpu/units",
        "/profiles/compute/web/resources/memory/size",
        "/services/web/env/1",
        "/deployment/web/akash/count",
    } <= set(issues)


def test_every_schema_issue_is_reported_at_once() -> None:
    doc = base()
    _web(doc)["expose"][0]["port"] = 0
    _web(doc)["expose"][0]["proto"] = "http"
    _web(doc)["colour"] = "blue"
    issues = _issues(doc)
    assert issues["/services/web/expose/0/port"] == "must be at least 1"
    assert "TCP" in issues["/services/web/expose/0/proto"]
    assert "unknown field" in issues["/services/web/colour"]


def test_unquoted_version_is_explained() -> None:
    text = dump(base()).replace("version: '2.0'", "version: 2.0")
    with pytest.raises(ValidationError) as info:
        parse_sdl(text)
    assert info.value.issues[0].path == "/version"
    assert "quoted" in info.value.issues[0].message


def test_numbers_where_strings_are_required_are_refused() -> None:
    doc = base()
    _web(doc)["command"] = ["sleep", 10]
    issues = _issues(doc)
    assert "quote it" in issues["/services/web/command/1"]


def test_uakt_and_zero_price_are_warnings() -> None:
    doc = base()
    doc["profiles"]["placement"]["akash"]["pricing"]["web"] = {"denom": "uakt", "amount": 0}
    sdl = parse_sdl(dump(doc))
    assert {w.path for w in sdl.warnings} == {
        "/profiles/placement/akash/pricing/web/denom",
        "/profiles/placement/akash/pricing/web/amount",
    }


def test_unused_price_is_a_warning() -> None:
    doc = base()
    doc["profiles"]["placement"]["akash"]["pricing"]["ghost"] = {"denom": "uact", "amount": 1}
    sdl = parse_sdl(dump(doc))
    assert [w.path for w in sdl.warnings] == ["/profiles/placement/akash/pricing/ghost"]


def test_document_must_be_a_mapping() -> None:
    with pytest.raises(ValidationError) as info:
        parse_sdl("- a\n- b\n")
    assert info.value.issues[0].path == "/"


def test_paths_keep_user_keys_and_drop_validator_markers() -> None:
    doc = base()
    doc["profiles"]["placement"]["akash"]["attributes"] = {"a[1]": [1]}
    _res(doc)["storage"] = [
        {"size": "1Gi"},
        {"name": "d", "size": "1Gi", "attributes": {"persistent": 5, "class": "beta2"}},
    ]
    issues = _issues(doc)
    assert set(issues) == {
        "/profiles/placement/akash/attributes/a[1]",
        "/profiles/compute/web/resources/storage/1/attributes/persistent",
    }
