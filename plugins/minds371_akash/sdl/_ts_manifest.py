"""Manifests as Console builds them: chain-sdk TypeScript's ``generateManifest`` rules.

Console computes the manifest it returns, and the version hash it puts on chain, with
``generateManifest`` and ``generateManifestVersion`` (``chain-sdk:ts/src/sdl/manifest/``). For
many SDLs that equals Go's manifest; for some it does not, and a provider accepts only the
manifest whose re-hash equals the on-chain version. Where TypeScript differs from Go
(``chain-sdk:go/sdl/groupBuilder_v2.go``, ``groupBuilder_v2_1.go``, ``storage.go``, ``gpu.go``):

- services of one placement that share a compute profile always share one resource unit (Go
  merges only in SDL 2.1; 2.0 gives each service its own unit and id);
- compute storage volumes keep their YAML order (Go sorts by size, persistence, name), a single
  storage mapping keeps its ``name``, and volume attributes are copied as written;
- GPU models keep their YAML order with ``ram`` as written (Go sorts the attribute keys);
- a service's endpoints follow its YAML expose order (Go follows the sorted exposes), while the
  group spec's endpoints are sorted by kind, then sequence number;
- leased-IP sequence numbers count only global IP targets (Go also counts every non-global
  target);
- names are ordered with ``localeCompare``, ``credentials`` are neither trimmed nor stripped of
  ``email`` in 2.0, and empty lists are written ``null``.

The JSON is Go's canonical form (sorted keys, no spaces, ``<>&`` escaped), which is what
``manifestToSortedJSON`` writes; the version is its sha256.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from minds371.errors import ValidationError
from minds371_akash.sdl._canonical import encode_trusted, manifest_version_bytes
from minds371_akash.sdl._manifest import Manifest
from minds371_akash.sdl._ts_js import js_keys, js_number_text, js_string, js_truthy, locale_key
from minds371_akash.sdl._ts_rules import check_console_rules
from minds371_akash.sdl._ts_units import ts_cpu_millis, ts_gpu_units, ts_size
from minds371_akash.sdl._units import format_dec, parse_price
from minds371_akash.sdl._yaml import load_yaml

__all__ = [
    "CONSOLE_SUBJECT",
    "price_objects",
    "build_console_manifest",
    "check_console_sdl",
    "console_manifest_from_data",
    "console_rules_data",
]

CONSOLE_SUBJECT = "SDL (Console rules)"
_SHARED_HTTP, _RANDOM_PORT, _LEASED_IP = 0, 1, 2


def _val(number: float) -> dict[str, str]:
    return {"val": js_number_text(number)}


def _attributes(attrs: Mapping[str, Any] | None) -> list[dict[str, str]]:
    if not attrs:
        return []
    keys = sorted(js_keys(attrs), key=locale_key)
    return [{"key": k, "value": js_string(attrs[k])} for k in keys]


def _storage_attributes(attrs: Mapping[str, Any] | None) -> list[dict[str, str]]:
    if not attrs:
        return []
    pairs = [{"key": k, "value": js_string(attrs[k])} for k in js_keys(attrs)]
    if attrs.get("class") == "ram" and "persistent" not in attrs:
        pairs.append({"key": "persistent", "value": "false"})
    pairs.sort(key=lambda a: locale_key(a["key"]))
    return pairs


def _gpu_attributes(attrs: Mapping[str, Any] | None) -> list[dict[str, str]]:
    vendors = (attrs or {}).get("vendor")
    if not vendors:
        return []
    result = []
    for vendor in sorted(js_keys(vendors), key=locale_key):
        models = vendors[vendor]
        if not js_truthy(models):
            result.append({"key": f"vendor/{vendor}/model/*", "value": "true"})
            continue
        for model in models:
            key = f"vendor/{vendor}/model/{js_string(model.get('model', 'undefined'))}"
            if js_truthy(model.get("ram")):
                key += f"/ram/{js_string(model['ram'])}"
            if js_truthy(model.get("interface")):
                key += f"/interface/{js_string(model['interface'])}"
            result.append({"key": key, "value": "true"})
    return result


def _with_attributes(doc: dict[str, Any], attrs: list[dict[str, str]]) -> dict[str, Any]:
    if attrs:  # an empty list is left out, like Go's omitempty
        doc["attributes"] = attrs
    return doc


def _proto(expose: Mapping[str, Any]) -> str:
    proto = expose.get("proto")
    return str(proto).upper() if js_truthy(proto) else "TCP"


def _endpoints(service: Mapping[str, Any], seqs: Mapping[str, int]) -> list[dict[str, int]]:
    result = []
    for expose in service.get("expose") or ():
        for to in expose.get("to") or ():
            if not js_truthy(to.get("global")):
                continue
            external = expose.get("as") or 0
            effective = expose["port"] if external == 0 else external
            ingress = _proto(expose) == "TCP" and effective == 80
            result.append({"kind": _SHARED_HTTP if ingress else _RANDOM_PORT, "sequenceNumber": 0})
            ip = to.get("ip")
            if ip:
                result.append({"kind": _LEASED_IP, "sequenceNumber": seqs.get(ip, 0)})
    return result


def _resources(
    rid: int, res: Mapping[str, Any], service: Mapping[str, Any], seqs: Mapping[str, int]
) -> dict[str, Any]:
    storage = res.get("storage")
    volumes = storage if isinstance(storage, list) else ([] if storage is None else [storage])
    gpu = res.get("gpu") or {}
    return {
        "id": rid,
        "cpu": _with_attributes(
            {"units": _val(ts_cpu_millis(res["cpu"]["units"]))},
            _attributes(res["cpu"].get("attributes")),
        ),
        "memory": {"quantity": _val(ts_size(str(res["memory"]["size"])))},
        "storage": [
            _with_attributes(
                {
                    "name": v.get("name") or "default",
                    "quantity": _val(ts_size(str(v["size"]))),
                },
                _storage_attributes(v.get("attributes")),
            )
            for v in volumes
        ],
        "gpu": _with_attributes(
            {"units": _val(ts_gpu_units(gpu.get("units")))},
            _gpu_attributes(gpu.get("attributes")) if gpu.get("attributes") else [],
        ),
        "endpoints": _endpoints(service, seqs),
    }


def _sequence_numbers(services: Mapping[str, Any]) -> dict[str, int]:
    names = [
        to["ip"]
        for svc in services.values()
        for expose in svc.get("expose") or ()
        for to in expose.get("to") or ()
        if js_truthy(to.get("global")) and to.get("ip")
    ]
    return {name: index for index, name in enumerate(sorted(names), start=1)}


def _http_options(opts: Mapping[str, Any] | None) -> dict[str, Any]:
    opts = opts or {}

    def pick(key: str, default: Any) -> Any:
        value = opts.get(key)
        return default if value is None else value

    result = {
        "maxBodySize": pick("max_body_size", 1_048_576),
        "readTimeout": pick("read_timeout", 60_000),
        "sendTimeout": pick("send_timeout", 60_000),
        "nextTries": pick("next_tries", 3),
        "nextTimeout": pick("next_timeout", 0),
        "nextCases": list(pick("next_cases", ["error", "timeout"])),
    }
    buffer = pick("proxy_buffer_size", 0)
    if buffer:
        result["proxyBufferSize"] = buffer
    return result


def _exposes(service: Mapping[str, Any], seqs: Mapping[str, int]) -> list[dict[str, Any]]:
    result = []
    for expose in service.get("expose") or ():
        for to in expose.get("to") or ():
            ip = to.get("ip") or ""
            result.append(
                {
                    "port": expose["port"],
                    "externalPort": expose.get("as") or 0,
                    "proto": _proto(expose),
                    "service": to.get("service") or "",
                    "global": bool(to.get("global") or False),
                    "hosts": list(expose.get("accept") or []) or None,
                    "httpOptions": _http_options(expose.get("http_options")),
                    "ip": ip,
                    "endpointSequenceNumber": seqs.get(ip, 0) if ip else 0,
                }
            )
    # Array.prototype.sort is stable: equal entries keep their YAML order.
    result.sort(
        key=lambda e: (locale_key(e["service"]), e["port"], locale_key(e["proto"]), not e["global"])
    )
    return result


def _params(service: Mapping[str, Any]) -> dict[str, Any] | None:
    params = service.get("params")
    if not params:
        return None
    storage = params.get("storage") or {}
    result: dict[str, Any] = {
        "storage": [
            {
                "name": name,
                "mount": storage[name].get("mount") or "",
                "readOnly": bool(storage[name].get("readOnly") or False),
            }
            for name in sorted(storage)
        ]
        or None
    }
    if params.get("permissions"):
        result["permissions"] = params["permissions"]
    if params.get("tee"):
        result["tee"] = {"type": params["tee"], "attestation": True}
    return result


def _credentials(service: Mapping[str, Any]) -> dict[str, Any] | None:
    creds = service.get("credentials")
    if not creds:
        return None
    return {
        "host": creds["host"],
        "email": creds.get("email") or "",
        "username": creds["username"],
        "password": creds["password"],
    }


def _or_null(values: Sequence[Any] | None) -> list[Any] | None:
    return list(values) if values else None


def _manifest_service(
    rid: int,
    name: str,
    service: Mapping[str, Any],
    res: Mapping[str, Any],
    count: int,
    seqs: Mapping[str, int],
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "image": service["image"],
        "command": _or_null(service.get("command")),
        "args": _or_null(service.get("args")),
        "env": _or_null(service.get("env")),
        "resources": _resources(rid, res, service, seqs),
        "count": count,
        "expose": _exposes(service, seqs),
        "credentials": _credentials(service),
    }
    params = _params(service)
    if params is not None:
        doc["params"] = params
    return doc


def _wire(value: Any) -> Any:
    """Rename the TypeScript field names to the JSON keys the manifest is hashed with."""
    if isinstance(value, dict):
        renamed = {"quantity": "size", "sequenceNumber": "sequence_number"}
        out = {}
        for key, item in value.items():
            if key == "kind" and item == 0:
                continue
            out[renamed.get(key, key)] = _wire(item)
        return out
    if isinstance(value, list):
        return [_wire(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def console_manifest_from_data(data: Mapping[str, Any]) -> Manifest:
    """Build the manifest, version and group specs of validated SDL data by chain-sdk's rules.

    Args:
        data: The YAML document, already accepted by :func:`check_console_rules`.
    """
    services: Mapping[str, Any] = data["services"]
    deployment: Mapping[str, Any] = data["deployment"]
    compute: Mapping[str, Any] = data["profiles"]["compute"]
    placement: Mapping[str, Any] = data["profiles"]["placement"]
    seqs = _sequence_numbers(services)

    by_placement: dict[str, list[str]] = {}
    for svc in js_keys(deployment):
        for group in js_keys(deployment[svc]):
            by_placement.setdefault(group, []).append(svc)
    for names in by_placement.values():
        names.sort(key=locale_key)

    specs: dict[str, dict[str, Any]] = {}
    bound: dict[str, dict[str, int]] = {}
    resource_ids: dict[tuple[str, str], int] = {}
    for svc in sorted(js_keys(services), key=locale_key):
        service = services[svc]
        for group in js_keys(deployment[svc]):
            entry = deployment[svc][group]
            profile = entry["profile"]
            infra = placement[group]
            price = infra["pricing"][profile]
            spec = specs.get(group)
            if spec is None:
                signed = infra.get("signedBy") or {}
                attrs = _attributes(infra.get("attributes"))
                spec = specs[group] = {
                    "name": group,
                    "requirements": {
                        "signed_by": {
                            "all_of": list(signed["allOf"]) if signed.get("allOf") else None,
                            "any_of": list(signed["anyOf"]) if signed.get("anyOf") else None,
                        },
                        "attributes": attrs or None,
                    },
                    "resources": [],
                    "tee": None,
                }
                bound[group] = {}
            tee = (service.get("params") or {}).get("tee")
            if tee and not spec["tee"]:
                spec["tee"] = tee
                attrs = [
                    *(spec["requirements"]["attributes"] or []),
                    {"key": "tee/type", "value": tee},
                ]
                attrs.sort(key=lambda a: locale_key(a["key"]))
                spec["requirements"]["attributes"] = attrs
            units = spec["resources"]
            location = bound[group].get(profile)
            res = compute[profile]["resources"]
            if location is None:
                rid = len(units) + 1
                resource_ids[(group, profile)] = rid
                units.append(
                    {
                        "resource": _resources(rid, res, service, seqs),
                        "count": entry["count"],
                        "price": {
                            "denom": price["denom"],
                            "amount": format_dec(_amount(price["amount"])),
                        },
                    }
                )
                bound[group][profile] = len(units) - 1
            else:
                resource_ids.setdefault((group, profile), units[location]["resource"]["id"])
                units[location]["count"] += entry["count"]
                units[location]["resource"]["endpoints"].extend(_endpoints(service, seqs))
    for spec in specs.values():
        for unit in spec["resources"]:
            unit["resource"]["endpoints"].sort(key=lambda e: (e["kind"], e["sequenceNumber"]))

    groups = []
    for group in sorted(specs):
        groups.append(
            {
                "name": group,
                "services": [
                    _manifest_service(
                        resource_ids.get((group, deployment[svc][group]["profile"]), 1),
                        svc,
                        services[svc],
                        compute[deployment[svc][group]["profile"]]["resources"],
                        deployment[svc][group]["count"],
                        seqs,
                    )
                    for svc in by_placement[group]
                ],
            }
        )
    wire_groups = _wire(groups)
    text = encode_trusted(wire_groups)
    digest = manifest_version_bytes(text)
    group_specs = []
    for group in sorted(specs):
        spec = dict(specs[group])
        spec.pop("tee")
        group_specs.append(_wire(spec))
    return Manifest(
        groups=wire_groups,
        json=text,
        version=digest.hex(),
        version_bytes=digest,
        group_specs=group_specs,
    )


def _amount(value: Any) -> Decimal:
    return parse_price(js_string(value) if not isinstance(value, str) else value)


def _mapping(value: Any, key: str) -> dict[str, Any]:
    found = value.get(key) if isinstance(value, dict) else None
    return found if isinstance(found, dict) else {}


def price_objects(data: Any) -> list[dict[str, Any]]:
    """Every price mapping under ``/profiles/placement/*/pricing`` (whatever else is wrong)."""
    placements = _mapping(_mapping(data, "profiles"), "placement")
    return [
        price
        for infra in placements.values()
        for price in _mapping(infra, "pricing").values()
        if isinstance(price, dict)
    ]


# Texts checked by check_console_sdl, with the data the check loaded, until console_rules_data
# hands it out (once). An entry nobody asks for (a task that failed in between) is dropped once
# it is the oldest of too many.
_checked: dict[str, dict[str, Any]] = {}
_CHECKED_LIMIT = 1024


def check_console_sdl(text: str) -> None:
    """Check SDL text by Console's rules, for a :func:`console_rules_data` of it to come.

    What the check loaded is kept for that call, which then does not load and check the text
    again (a deployment checks its SDL before anything is spent, and prepares it later).

    Raises:
        ValidationError: as :func:`console_rules_data`.
    """
    data = console_rules_data(text)
    while len(_checked) >= _CHECKED_LIMIT:
        # Another thread may drop the same entry: one dropped twice is harmless.
        with contextlib.suppress(StopIteration, KeyError, RuntimeError):
            del _checked[next(iter(_checked))]
    _checked[text] = data


def console_rules_data(text: str | bytes, *, denom: str | None = "uact") -> dict[str, Any]:
    """Load SDL text and apply Console's price rewrite; check it by Console's rules.

    Args:
        text: The SDL YAML.
        denom: Console's deployment denom: every price object's ``denom`` becomes it before
            validation (``SdlService.generateManifest``); ``None`` leaves prices as written.

    Raises:
        ValidationError: ``subject`` :data:`CONSOLE_SUBJECT`, every issue with its path.
    """
    if denom == "uact" and isinstance(text, str):
        kept = _checked.pop(text, None)
        if kept is not None:
            return kept
    data = load_yaml(text)
    if denom is not None:
        for price in price_objects(data):
            price["denom"] = denom
    issues = check_console_rules(data)
    if issues:
        raise ValidationError(issues, subject=CONSOLE_SUBJECT)
    checked: dict[str, Any] = data
    return checked


def build_console_manifest(text: str | bytes) -> Manifest:
    """Validate SDL text by Console's rules and build its manifest as Console does.

    Returns:
        The :class:`Manifest` Console would return (``json``) and record on chain (``version``),
        with the group specs it would send.

    Raises:
        ValidationError: Console (or the chain after it) would refuse the SDL.
    """
    return console_manifest_from_data(console_rules_data(text))
