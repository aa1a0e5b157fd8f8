"""Manifest and group-spec rules of the Go builder beyond what the golden fixtures cover."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import yaml

from minds371.errors import ValidationError
from minds371_akash.sdl import (
    Sdl,
    build_manifest,
    canonical_json,
    manifest_version,
    normalize_manifest,
    parse_sdl,
)
from tests.sdl._sdl import base, dump

Doc = dict[str, Any]


def _two_services(version: str) -> Doc:
    doc = base()
    doc["version"] = version
    doc["services"]["api"] = {
        "image": "node:20",
        "expose": [{"port": 3000, "to": [{"global": True}]}],
    }
    doc["profiles"]["placement"]["akash"]["pricing"]["web"]["amount"] = 7
    doc["deployment"]["api"] = {"akash": {"profile": "web", "count": 2}}
    return doc


def test_v2_0_gives_each_service_its_own_resource_unit() -> None:
    manifest = build_manifest(parse_sdl(dump(_two_services("2.0"))))
    units = manifest.group_specs[0]["resources"]
    assert [u["resource"]["id"] for u in units] == [1, 2]
    assert [u["count"] for u in units] == [2, 1]
    assert [s["resources"]["id"] for s in manifest.groups[0]["services"]] == [1, 2]


def test_v2_1_merges_services_sharing_a_profile() -> None:
    manifest = build_manifest(parse_sdl(dump(_two_services("2.1"))))
    (unit,) = manifest.group_specs[0]["resources"]
    assert unit["resource"]["id"] == 1
    assert unit["count"] == 3
    # api (3000/TCP -> random port) then web (80 -> shared HTTP), re-sorted by sequence number.
    assert unit["resource"]["endpoints"] == [
        {"kind": 1, "sequence_number": 0},
        {"sequence_number": 0},
    ]
    assert unit["price"] == {"denom": "uact", "amount": "7.000000000000000000"}
    services = manifest.groups[0]["services"]
    assert [(s["name"], s["resources"]["id"], s["count"]) for s in services] == [
        ("api", 1, 2),
        ("web", 1, 1),
    ]


def test_groups_and_services_are_sorted_by_name() -> None:
    doc = _two_services("2.0")
    doc["profiles"]["placement"]["aaa"] = doc["profiles"]["placement"]["akash"]
    doc["deployment"]["api"] = {"aaa": {"profile": "web", "count": 1}}
    manifest = build_manifest(parse_sdl(dump(doc)))
    assert [g["name"] for g in manifest.groups] == ["aaa", "akash"]
    assert [g["name"] for g in manifest.group_specs] == ["aaa", "akash"]


def test_exposes_are_sorted_and_endpoints_follow_them() -> None:
    doc = base()
    doc["services"]["web"]["expose"] = [
        {"port": 80, "to": [{"global": True}]},
        {"port": 22, "to": [{"global": True}]},
        {"port": 53, "proto": "udp", "to": [{"global": True}]},
        {"port": 53, "to": [{"global": True}]},
    ]
    service = build_manifest(parse_sdl(dump(doc))).groups[0]["services"][0]
    assert [(e["port"], e["proto"]) for e in service["expose"]] == [
        (22, "TCP"),
        (53, "TCP"),
        (53, "UDP"),
        (80, "TCP"),
    ]
    kinds = [e.get("kind", 0) for e in service["resources"]["endpoints"]]
    assert kinds == [1, 1, 1, 0]


def test_expose_without_to_is_kept_as_non_global() -> None:
    doc = base()
    doc["services"]["web"]["expose"].append({"port": 6379})
    exposes = build_manifest(parse_sdl(dump(doc))).groups[0]["services"][0]["expose"]
    assert exposes[0]["port"] == 80
    assert exposes[1] == {
        "port": 6379,
        "externalPort": 0,
        "proto": "TCP",
        "service": "",
        "global": False,
        "hosts": None,
        "httpOptions": exposes[0]["httpOptions"],
        "ip": "",
        "endpointSequenceNumber": 0,
    }


def test_ip_sequence_numbers_count_non_global_targets_like_go() -> None:
    doc = base()
    doc["endpoints"] = {"pub": {"kind": "ip"}}
    doc["services"]["web"]["expose"] = [
        {"port": 80, "to": [{"global": True, "ip": "pub"}]},
        {"port": 9000, "to": [{"service": "web"}]},
    ]
    service = build_manifest(parse_sdl(dump(doc))).groups[0]["services"][0]
    # Names sorted: "" (the non-global target) is 1, "pub" is 2.
    assert service["expose"][0]["endpointSequenceNumber"] == 2
    assert {"kind": 2, "sequence_number": 2} in service["resources"]["endpoints"]


def test_storage_volumes_sorted_and_attributes_completed() -> None:
    doc = base()
    doc["profiles"]["compute"]["web"]["resources"]["storage"] = [
        {"size": "10Gi"},
        {"name": "data", "size": "1Gi", "attributes": {"persistent": "true"}},
        {"name": "shm", "size": "1Gi", "attributes": {"class": "ram"}},
    ]
    doc["services"]["web"]["params"] = {
        "storage": {"shm": {"mount": "/dev/shm"}, "data": {"mount": "/data", "readOnly": True}}
    }
    manifest = build_manifest(parse_sdl(dump(doc)))
    service = manifest.groups[0]["services"][0]
    assert service["resources"]["storage"] == [
        {
            "name": "shm",
            "size": {"val": str(2**30)},
            "attributes": [
                {"key": "class", "value": "ram"},
                {"key": "persistent", "value": "false"},
            ],
        },
        {
            "name": "data",
            "size": {"val": str(2**30)},
            "attributes": [
                {"key": "class", "value": "default"},
                {"key": "persistent", "value": "true"},
            ],
        },
        {"name": "default", "size": {"val": str(10 * 2**30)}},
    ]
    assert service["params"] == {
        "storage": [
            {"name": "data", "mount": "/data", "readOnly": True},
            {"name": "shm", "mount": "/dev/shm", "readOnly": False},
        ]
    }


def test_gpu_attribute_keys() -> None:
    doc = base()
    doc["profiles"]["compute"]["web"]["resources"]["gpu"] = {
        "units": 2,
        "attributes": {
            "vendor": {
                "nvidia": [
                    {"model": "h100", "ram": "81920Mi", "interface": "sxm"},
                    {"model": "a100"},
                ]
            }
        },
    }
    gpu = build_manifest(parse_sdl(dump(doc))).group_specs[0]["resources"][0]["resource"]["gpu"]
    assert gpu == {
        "units": {"val": "2"},
        "attributes": [
            {"key": "vendor/nvidia/model/a100", "value": "true"},
            {"key": "vendor/nvidia/model/h100/ram/80Gi/interface/sxm", "value": "true"},
        ],
    }
    doc["profiles"]["compute"]["web"]["resources"]["gpu"]["attributes"] = {
        "vendor": {"nvidia": None}
    }
    gpu = build_manifest(parse_sdl(dump(doc))).group_specs[0]["resources"][0]["resource"]["gpu"]
    assert gpu["attributes"] == [{"key": "vendor/nvidia/model/*", "value": "true"}]


def test_credentials_by_version() -> None:
    doc = base()
    doc["services"]["web"]["credentials"] = {
        "host": " registry.example.com ",
        "username": "me",
        "password": "secret-pw",
        "email": "me@example.com",
    }
    v20 = build_manifest(parse_sdl(dump(doc))).groups[0]["services"][0]["credentials"]
    assert v20 == {
        "host": " registry.example.com ",
        "email": "",
        "username": "me",
        "password": "secret-pw",
    }
    doc["version"] = "2.1"
    v21 = build_manifest(parse_sdl(dump(doc))).groups[0]["services"][0]["credentials"]
    assert v21["host"] == "registry.example.com"
    assert v21["email"] == "me@example.com"


def test_params_permissions_and_tee() -> None:
    doc = base()
    doc["version"] = "2.1"
    doc["services"]["web"]["params"] = {"permissions": {"read": ["logs"]}, "tee": "cpu"}
    manifest = build_manifest(parse_sdl(dump(doc)))
    assert manifest.groups[0]["services"][0]["params"] == {
        "storage": None,
        "permissions": {"read": ["logs"]},
        "tee": {"type": "cpu", "attestation": True},
    }
    assert {"key": "tee/type", "value": "cpu"} in manifest.group_specs[0]["requirements"][
        "attributes"
    ]


def test_http_options_defaults_and_proxy_buffer() -> None:
    doc = base()
    doc["services"]["web"]["expose"][0]["http_options"] = {
        "max_body_size": 0,
        "proxy_buffer_size": 65536,
        "next_cases": ["off"],
    }
    options = build_manifest(parse_sdl(dump(doc))).groups[0]["services"][0]["expose"][0][
        "httpOptions"
    ]
    assert options == {
        "maxBodySize": 1048576,
        "readTimeout": 60000,
        "sendTimeout": 60000,
        "nextTries": 3,
        "nextTimeout": 0,
        "nextCases": ["off"],
        "proxyBufferSize": 65536,
    }


def test_placement_requirements() -> None:
    doc = base()
    doc["profiles"]["placement"]["akash"]["attributes"] = {"region": "us-west", "tier": 1.50}
    doc["profiles"]["placement"]["akash"]["signedBy"] = {"allOf": [], "anyOf": ["akash1x"]}
    text = dump(doc).replace("tier: 1.5", "tier: 1.50")
    requirements = build_manifest(parse_sdl(text)).group_specs[0]["requirements"]
    assert requirements == {
        "signed_by": {"all_of": [], "any_of": ["akash1x"]},
        # Go reads attribute values from the raw scalar text.
        "attributes": [
            {"key": "region", "value": "us-west"},
            {"key": "tier", "value": "1.50"},
        ],
    }


def test_canonical_json_escapes_like_go() -> None:
    doc = base()
    doc["services"]["web"]["env"] = ["HTML=<a href='x'>&amp;</a>", "SEP=\u2028\u2029", "NL=a\nb\tc"]
    manifest = build_manifest(parse_sdl(dump(doc)))
    assert "\\u003ca href='x'\\u003e\\u0026amp;\\u003c/a\\u003e" in manifest.json
    assert "\\u2028\\u2029" in manifest.json
    assert "a\\nb\\tc" in manifest.json
    assert manifest.version == hashlib.sha256(manifest.json.encode()).hexdigest()
    assert json.loads(manifest.json) == manifest.groups


def test_canonical_json_control_characters() -> None:
    assert canonical_json(["\x00\x01\x08\x0c\x1f\x7f"]) == '["\\u0000\\u0001\\b\\f\\u001f\x7f"]'
    assert canonical_json({"b": 1, "a": [True, None]}) == '{"a":[true,null],"b":1}'


def test_hash_ignores_yaml_key_order_and_formatting() -> None:
    doc = base()
    original = build_manifest(parse_sdl(dump(doc))).version
    reordered = {key: doc[key] for key in reversed(list(doc))}
    flow = yaml.safe_dump(reordered, default_flow_style=True, sort_keys=True)
    assert build_manifest(parse_sdl(flow)).version == original
    assert manifest_version(build_manifest(parse_sdl(flow)).json) == original


def test_empty_lists_stay_lists() -> None:
    doc = base()
    doc["services"]["web"]["command"] = []
    doc["services"]["web"]["expose"][0]["accept"] = []
    service = build_manifest(parse_sdl(dump(doc))).groups[0]["services"][0]
    assert service["command"] == []
    assert service["args"] is None
    assert service["expose"][0]["hosts"] == []


def test_an_sdl_built_without_parse_sdl_is_validated_first() -> None:
    doc = base()
    doc["deployment"]["ghost"] = {"akash": {"profile": "web", "count": 1}}
    with pytest.raises(ValidationError) as info:
        build_manifest(Sdl.model_validate(doc))
    assert [i.path for i in info.value.issues] == ["/deployment/ghost"]
    good = Sdl.model_validate(base())
    assert build_manifest(good).version == build_manifest(parse_sdl(dump(base()))).version


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        1.0,  # integral: Python writes 1.0 where Go writes 1
        float("nan"),
        {"a": {"b": 2.5}},
        [1, [2, [0.5]]],
        (1, 2.0),
        {"list": [{"deep": [{"deeper": 1e21}]}]},
    ],
    ids=["float", "integral", "nan", "nested-dict", "nested-list", "tuple", "deep"],
)
def test_canonical_json_refuses_a_float_anywhere(value: Any) -> None:
    with pytest.raises(TypeError, match=r"^canonical manifest JSON holds no floats$"):
        canonical_json(value)


def test_canonical_json_takes_ints_and_bools_which_are_not_floats() -> None:
    assert canonical_json({"n": [0, 2**64, True]}) == '{"n":[0,18446744073709551616,true]}'


def test_an_empty_storage_list_leaves_no_storage_key_like_go() -> None:
    # Go's Resources.Storage is `json:"storage,omitempty"` (chain-sdk
    # go/node/types/resources/v1beta4/resources.pb.go): the manifest a provider re-marshals and
    # hashes has no "storage" key, so ours must have none either or the versions differ.
    doc = base()
    doc["profiles"]["compute"]["web"]["resources"]["storage"] = []
    manifest = build_manifest(parse_sdl(dump(doc)))
    (service,) = manifest.groups[0]["services"]
    assert "storage" not in service["resources"]
    assert '"storage"' not in manifest.json
    assert json.loads(manifest.json) == manifest.groups
    assert normalize_manifest(json.loads(manifest.json)) == manifest.groups
    assert manifest.version == hashlib.sha256(manifest.json.encode()).hexdigest()
