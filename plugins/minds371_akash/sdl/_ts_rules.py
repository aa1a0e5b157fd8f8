"""Console's SDL rules: what chain-sdk's TypeScript accepts, checked on the raw YAML data.

Console validates an SDL with ``validateSDL`` (``chain-sdk:ts/src/sdl/validateSDL/validateSDL.ts``):
the SDL input JSON schema (the same document as ``chain-sdk:go/sdl/sdl-input.schema.yaml``)
followed by its cross-reference checks, and then builds the manifest, which throws on sizes it
cannot read. These rules differ from Go's: sizes are read case-insensitively with any unit
letter after the prefix (``16GB`` is 16·10⁹ bytes, ``16gi`` is 16 GiB), a single storage mapping
keeps its own name, price denoms are rewritten by Console before validation, and unknown fields
are refused everywhere. On top, the chain's limits apply to what Console would put in the
transaction (``validation_config.go``), since the chain refuses it otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from minds371.errors import FieldIssue
from minds371_akash.sdl._checks import LIMITS, fmt_bytes
from minds371_akash.sdl._ts_js import js_parse_float, js_parse_int, js_truthy

__all__ = ["check_console_rules", "ts_cpu_millis", "ts_gpu_units", "ts_size"]

_NEXT_CASES = {"error", "timeout", "500", "502", "503", "504", "403", "404", "429", "off"}
_ENDPOINT_KEY = re.compile(r"[a-z]+[-_0-9a-z]+\Z")
_CPU_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?[a-zA-Z]*\Z")
_ZERO_CPU = re.compile(r"0+(\.0+)?m?\Z")
_ZERO = re.compile(r"0+(\.0+)?\Z")
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?\Z")
_MIN_WINDOW = re.compile(r"[1-9][0-9]*(s|m|h)\Z")
_SIZE = re.compile(r"([\d.]+)([a-z])([a-z]*)\Z")
_CPU_UNITS = re.compile(r"([\d.]+)([a-z]*)\Z")
_PREFIXES = "kmgtpe"
_NON_RAM_CLASSES = {"beta1", "beta2", "beta3", "default"}


class TsValueError(ValueError):
    """chain-sdk cannot turn a value into a resource quantity (it throws, Console answers 500)."""


def ts_size(text: str) -> int:
    """Bytes as chain-sdk's ``convertResourceString`` reads them (``sizes.ts``).

    The text is lowercased; a number, one prefix letter and optional letters: ``i`` after the
    prefix means 1024-based, anything else 1000-based; the result is rounded up.

    Raises:
        TsValueError: no unit letter, or no number chain-sdk can use.
    """
    match = _SIZE.match(text.lower())
    if match is None:
        raise TsValueError(f"invalid size string {text!r} (chain-sdk needs a number and a unit)")
    value = js_parse_float(match.group(1))
    power = _PREFIXES.find(match.group(2))
    base = 1024 if match.group(3) == "i" else 1000
    result = value * base ** (power + 1) if power != -1 else value
    if not math.isfinite(result):
        raise TsValueError(f"invalid size string {text!r}")
    return math.ceil(result)


def ts_cpu_millis(value: Any) -> float:
    """Millicores as chain-sdk's ``parseCpuUnits`` reads them (may be fractional)."""
    if isinstance(value, str):
        match = _CPU_UNITS.match(value.lower())
        if match is None:
            raise TsValueError(f"invalid CPU units {value!r}")
        number = js_parse_float(match.group(1))
        return number if match.group(2) == "m" else number * 1000
    return float(value) * 1000


def ts_gpu_units(value: Any) -> float:
    """GPU units as chain-sdk's ``parseGpuUnits`` reads them (``parseInt`` of a string)."""
    if value is None:
        return 0
    if isinstance(value, str):
        return js_parse_int(value)
    return float(value)


def _is_int(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        or (isinstance(value, float) and value.is_integer())
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Schema:
    """The SDL input schema's structural rules, collecting every issue with its path."""

    def __init__(self) -> None:
        self.issues: list[FieldIssue] = []

    def error(self, path: str, message: str) -> None:
        self.issues.append(FieldIssue(path or "/", message))

    def mapping(
        self,
        value: Any,
        path: str,
        fields: Mapping[str, Callable[[Any, str], None]] | None,
        required: tuple[str, ...] = (),
    ) -> bool:
        """An object with only ``fields`` (``None``: any), the ``required`` ones present."""
        if not isinstance(value, Mapping):
            self.error(path, "must be a mapping")
            return False
        for key in required:
            if key not in value:
                self.error(f"{path}/{key}", "required field is missing")
        for key, item in value.items():
            if fields is None:
                continue
            check = fields.get(str(key))
            if check is None:
                self.error(f"{path}/{key}", "unknown field; Console's schema refuses it")
            else:
                check(item, f"{path}/{key}")
        return True

    def string(self, value: Any, path: str, min_length: int = 0) -> None:
        if not isinstance(value, str):
            self.error(path, "must be a string")
        elif len(value) < min_length:
            self.error(path, f"must be at least {min_length} characters")

    def strings(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            self.error(path, "must be a list of strings")
            return
        for index, item in enumerate(value):
            self.string(item, f"{path}/{index}")

    def integer(self, value: Any, path: str, low: int | None = None, high: int | None = None) -> None:
        if not _is_int(value):
            self.error(path, "must be a whole number")
        elif (low is not None and value < low) or (high is not None and value > high):
            self.error(path, f"must be between {low} and {high}" if high else f"must be ≥ {low}")

    def boolean(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            self.error(path, "must be true or false")

    def choice(self, value: Any, path: str, allowed: tuple[str, ...]) -> None:
        if value not in allowed or not isinstance(value, str):
            self.error(path, f"must be one of {', '.join(allowed)}")


def _schema_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    s = _Schema()

    def any_value(_value: Any, _path: str) -> None:
        return None

    def object_any(value: Any, path: str) -> None:
        s.mapping(value, path, None)

    def each(check: Callable[[Any, str], None]) -> Callable[[Any, str], None]:
        def run(value: Any, path: str) -> None:
            if s.mapping(value, path, None):
                for key, item in value.items():
                    check(item, f"{path}/{key}")

        return run

    def string_or_null_list(value: Any, path: str) -> None:
        if value is not None:
            s.strings(value, path)

    def port(value: Any, path: str) -> None:
        s.integer(value, path, 1, 65535)

    def deployment_entry(value: Any, path: str) -> None:
        s.mapping(
            value,
            path,
            {"count": lambda v, p: s.integer(v, p, 1), "profile": s.string},
            ("profile", "count"),
        )

    def endpoints(value: Any, path: str) -> None:
        if not s.mapping(value, path, None):
            return
        for key, item in value.items():
            if not _ENDPOINT_KEY.match(str(key)):
                s.error(f"{path}/{key}", "endpoint names match ^[a-z]+[-_0-9a-z]+$")
                continue
            s.mapping(
                item, f"{path}/{key}", {"kind": lambda v, p: s.choice(v, p, ("ip",))}, ("kind",)
            )

    def cpu_units(value: Any, path: str) -> None:
        if isinstance(value, str):
            if not _CPU_TEXT.match(value) or _ZERO_CPU.match(value):
                s.error(path, 'must be a positive number of CPUs or a string such as "500m"')
        elif not _is_number(value) or value <= 0:
            s.error(path, "must be a positive number of CPUs")

    def gpu(value: Any, path: str) -> None:
        def nvidia(v: Any, p: str) -> None:
            if v is None:
                return
            if not isinstance(v, list):
                s.error(p, "must be a list of models or null")
                return
            for index, model in enumerate(v):
                s.mapping(
                    model,
                    f"{p}/{index}",
                    {
                        "interface": lambda x, q: s.choice(x, q, ("pcie", "sxm")),
                        "model": s.string,
                        "ram": s.string,
                    },
                )

        def vendor(v: Any, p: str) -> None:
            if s.mapping(v, p, {"nvidia": nvidia}) and not v:
                s.error(p, "must name at least one vendor")

        def units(v: Any, p: str) -> None:
            if not isinstance(v, str) and not _is_number(v):
                s.error(p, "must be a number or a string")

        if not s.mapping(
            value,
            path,
            {"attributes": lambda v, p: s.mapping(v, p, {"vendor": vendor}), "units": units},
        ):
            return
        units_value = value.get("units")
        positive = (_is_number(units_value) and units_value > 0) or (
            isinstance(units_value, str) and not _ZERO.match(units_value)
        )
        if "units" in value and positive and "attributes" not in value:
            s.error(f"{path}/attributes", "GPU units above 0 need attributes (a vendor)")
        if "attributes" in value and not positive:
            s.error(f"{path}/units", "GPU attributes need units above 0")

    def storage_attributes(value: Any, path: str) -> None:
        def persistent(v: Any, p: str) -> None:
            if not isinstance(v, bool | str):
                s.error(p, "must be true or false")

        if not s.mapping(
            value, path, {"class": s.string, "persistent": persistent}, ("class", "persistent")
        ):
            return
        klass, flag = value.get("class"), value.get("persistent")
        is_true = flag is True or flag == "true"
        if klass == "ram" and "persistent" in value and is_true:
            s.error(path, '"ram" storage cannot be persistent')
        if klass in _NON_RAM_CLASSES and not is_true:
            s.error(f"{path}/persistent", f"storage class {klass!r} requires persistent: true")

    def volume(value: Any, path: str) -> None:
        s.mapping(
            value,
            path,
            {"attributes": storage_attributes, "name": s.string, "size": s.string},
            ("size",),
        )

    def storage(value: Any, path: str) -> None:
        if isinstance(value, list):
            for index, item in enumerate(value):
                volume(item, f"{path}/{index}")
        else:
            volume(value, path)

    def resources(value: Any, path: str) -> None:
        s.mapping(
            value,
            path,
            {
                "cpu": lambda v, p: s.mapping(
                    v, p, {"attributes": object_any, "units": cpu_units}, ("units",)
                ),
                "gpu": gpu,
                "memory": lambda v, p: s.mapping(v, p, {"size": s.string}, ("size",)),
                "storage": storage,
            },
            ("cpu", "memory", "storage"),
        )

    def price(value: Any, path: str) -> None:
        def amount(v: Any, p: str) -> None:
            if isinstance(v, str):
                if not _AMOUNT.match(v):
                    s.error(p, "must be a positive decimal number")
            elif not _is_number(v) or v < 0:
                s.error(p, "must be a positive number")

        s.mapping(
            value,
            path,
            {"amount": amount, "denom": lambda v, p: s.choice(v, p, ("uakt", "uact"))},
            ("denom", "amount"),
        )

    def placement(value: Any, path: str) -> None:
        s.mapping(
            value,
            path,
            {
                "attributes": object_any,
                "pricing": each(price),
                "signedBy": lambda v, p: s.mapping(v, p, {"allOf": s.strings, "anyOf": s.strings}),
            },
            ("pricing",),
        )

    def profiles(value: Any, path: str) -> None:
        s.mapping(
            value,
            path,
            {
                "compute": each(lambda v, p: s.mapping(v, p, {"resources": resources}, ("resources",))),
                "placement": each(placement),
            },
            ("compute", "placement"),
        )

    def http_options(value: Any, path: str) -> None:
        def cases(v: Any, p: str) -> None:
            if not isinstance(v, list) or any(c not in _NEXT_CASES for c in v):
                s.error(p, f"must be a list of {', '.join(sorted(_NEXT_CASES))}")
            elif "off" in v and len(v) != 1:
                s.error(p, "'off' cannot be combined with other cases")

        s.mapping(
            value,
            path,
            {
                "max_body_size": lambda v, p: s.integer(v, p, 0, 104_857_600),
                "next_cases": cases,
                "next_timeout": lambda v, p: s.integer(v, p, 0),
                "next_tries": lambda v, p: s.integer(v, p, 0),
                "proxy_buffer_size": lambda v, p: s.integer(v, p, 0, 1_048_576),
                "read_timeout": lambda v, p: s.integer(v, p, 0, 60_000),
                "send_timeout": lambda v, p: s.integer(v, p, 0, 60_000),
            },
        )

    def to(value: Any, path: str) -> None:
        if not isinstance(value, list):
            s.error(path, "must be a list")
            return
        for index, item in enumerate(value):
            where = f"{path}/{index}"
            if not s.mapping(
                item,
                where,
                {
                    "global": s.boolean,
                    "ip": lambda v, p: s.string(v, p, 1),
                    "service": s.string,
                },
            ):
                continue
            ip = item.get("ip")
            if isinstance(ip, str) and ip and item.get("global") is not True:
                s.error(f"{where}/global", "an ip endpoint needs global: true")

    def expose(value: Any, path: str) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            s.error(path, "must be a list or null")
            return
        for index, item in enumerate(value):
            s.mapping(
                item,
                f"{path}/{index}",
                {
                    "accept": s.strings,
                    "as": port,
                    "http_options": http_options,
                    "port": port,
                    "proto": lambda v, p: s.choice(v, p, ("TCP", "UDP", "tcp", "udp")),
                    "to": to,
                },
                ("port",),
            )

    def params(value: Any, path: str) -> None:
        def mount(v: Any, p: str) -> None:
            if not isinstance(v, str) or not v.startswith("/"):
                s.error(p, "must be an absolute path")

        def read(v: Any, p: str) -> None:
            if not isinstance(v, list) or any(
                x not in ("deployment", "logs", "events") for x in v
            ):
                s.error(p, "must be a list of deployment, logs, events")

        s.mapping(
            value,
            path,
            {
                "storage": each(
                    lambda v, p: s.mapping(v, p, {"mount": mount, "readOnly": s.boolean})
                ),
                "permissions": lambda v, p: s.mapping(v, p, {"read": read}),
                "tee": lambda v, p: s.choice(v, p, ("cpu", "cpu-gpu")),
            },
        )

    def credentials(value: Any, path: str) -> None:
        s.mapping(
            value,
            path,
            {
                "email": lambda v, p: s.string(v, p, 5),
                "host": lambda v, p: s.string(v, p, 1),
                "password": lambda v, p: s.string(v, p, 6),
                "username": lambda v, p: s.string(v, p, 1),
            },
            ("host", "username", "password"),
        )

    def service(value: Any, path: str) -> None:
        def dependencies(v: Any, p: str) -> None:
            if not isinstance(v, list):
                s.error(p, "must be a list")
                return
            for index, item in enumerate(v):
                s.mapping(item, f"{p}/{index}", {"service": s.string})

        s.mapping(
            value,
            path,
            {
                "args": string_or_null_list,
                "command": string_or_null_list,
                "credentials": credentials,
                "dependencies": dependencies,
                "env": string_or_null_list,
                "expose": expose,
                "image": lambda v, p: s.string(v, p, 1),
                "params": params,
            },
            ("image",),
        )

    def reclamation(value: Any, path: str) -> None:
        def window(v: Any, p: str) -> None:
            if not isinstance(v, str) or not _MIN_WINDOW.match(v):
                s.error(p, 'must be a whole number followed by s, m or h (e.g. "24h")')

        s.mapping(value, path, {"min_window": window}, ("min_window",))

    s.mapping(
        data,
        "",
        {
            "deployment": each(each(deployment_entry)),
            "endpoints": endpoints,
            "include": s.strings,
            "profiles": profiles,
            "services": each(service),
            "reclamation": reclamation,
            "version": lambda v, p: s.choice(v, p, ("2.0", "2.1")),
        },
        ("version", "services", "profiles", "deployment"),
    )
    _ = any_value
    return s.issues


def _volumes(resources: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    storage = resources.get("storage")
    if storage is None:
        return []
    return list(storage) if isinstance(storage, list) else [storage]


def _relation_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """``SDLValidator``: deployments, storage mounts, GPUs, TEE, leased IPs, endpoints."""
    issues: list[FieldIssue] = []
    services: Mapping[str, Any] = data["services"]
    deployment: Mapping[str, Any] = data["deployment"]
    compute: Mapping[str, Any] = data["profiles"]["compute"]
    placement: Mapping[str, Any] = data["profiles"]["placement"]
    endpoints: Mapping[str, Any] = data.get("endpoints") or {}
    used_endpoints: set[str] = set()
    ports: set[tuple[str, Any, str]] = set()
    tee_by_group: dict[str, str] = {}

    for name, svc in services.items():
        if name not in deployment:
            issues.append(FieldIssue("/deployment", f"service {name!r} is not deployed"))
        for group, entry in (deployment.get(name) or {}).items():
            profile = entry["profile"]
            infra = placement.get(group)
            if infra is None:
                issues.append(
                    FieldIssue("/profiles/placement", f"placement {group!r} is not defined")
                )
            elif profile not in infra["pricing"]:
                issues.append(
                    FieldIssue(
                        f"/profiles/placement/{group}/pricing",
                        f"no price for the {profile!r} profile",
                    )
                )
            res = compute.get(profile, {}).get("resources")
            if res is None:
                issues.append(
                    FieldIssue("/profiles/compute", f"compute profile {profile!r} is not defined")
                )
                continue
            volumes = _volumes(res)
            names = {v.get("name") for v in volumes}
            storage_params = (svc.get("params") or {}).get("storage") or {}
            mounts: dict[str, str] = {}
            for volume_name, conf in storage_params.items():
                where = f"/services/{name}/params/storage/{volume_name}"
                if not conf:
                    issues.append(FieldIssue(where, f"storage {volume_name!r} is not configured"))
                    continue
                if volume_name not in names:
                    issues.append(
                        FieldIssue(
                            f"/profiles/compute/{profile}/resources/storage",
                            f"service {name!r} references no volume named {volume_name!r}"
                            + (" (a single storage mapping without a name has none)"
                               if not isinstance(res.get("storage"), list) else ""),
                        )
                    )
                    continue
                mount = str(conf.get("mount")) if "mount" in conf else "undefined"
                if mount in mounts:
                    message = (
                        f"mount {mount!r} already used by volume {mounts[mount]!r}"
                        if conf.get("mount")
                        else "several root ephemeral volumes"
                    )
                    issues.append(FieldIssue(where, message))
                mounts[mount] = volume_name
            for volume in volumes:
                attrs = volume.get("attributes") or {}
                flag = attrs.get("persistent", False)
                persistent = flag if isinstance(flag, bool) else str(flag).lower() not in (
                    "false", "no", "0", ""
                )
                vol_name = volume.get("name") or ""
                if persistent and not (storage_params.get(vol_name) or {}).get("mount"):
                    issues.append(
                        FieldIssue(
                            f"/services/{name}/params/storage/{vol_name or 'default'}",
                            f"persistent volume {vol_name or 'default'!r} needs a mount path",
                        )
                    )
            gpu = res.get("gpu")
            if gpu:
                units = gpu.get("units")
                has_units = units is not None and units != 0
                gpu_path = f"/profiles/compute/{profile}/resources/gpu"
                if not has_units and "attributes" in gpu:
                    issues.append(FieldIssue(f"{gpu_path}/attributes", "GPU attributes need units"))
                if has_units and "attributes" not in gpu:
                    issues.append(FieldIssue(gpu_path, "GPU units need attributes"))
                if has_units and "vendor" not in (gpu.get("attributes") or {}):
                    issues.append(FieldIssue(f"{gpu_path}/attributes", "GPU units need a vendor"))
            tee = (svc.get("params") or {}).get("tee")
            if tee:
                if tee == "cpu-gpu" and not (gpu and gpu.get("units") not in (None, 0)):
                    issues.append(
                        FieldIssue(f"/services/{name}/params/tee", "tee cpu-gpu needs GPUs")
                    )
                if tee_by_group.setdefault(group, tee) != tee:
                    issues.append(
                        FieldIssue(
                            f"/services/{name}/params/tee",
                            f"conflicting tee types in placement {group!r}",
                        )
                    )
        for index, exp in enumerate(svc.get("expose") or ()):
            proto = str(exp.get("proto") or "TCP").upper()
            for to_index, target in enumerate(exp.get("to") or ()):
                ip = target.get("ip")
                if not ip:
                    continue
                where = f"/services/{name}/expose/{index}/to/{to_index}"
                if ip not in endpoints:
                    issues.append(
                        FieldIssue(f"{where}/ip", f"no endpoint named {ip!r} under /endpoints")
                    )
                used_endpoints.add(ip)
                key = (ip, exp.get("as") if exp.get("as") is not None else exp.get("port"), proto)
                if key in ports:
                    issues.append(
                        FieldIssue(f"{where}/ip", f"endpoint {ip!r} port {key[1]} {proto} in use")
                    )
                ports.add(key)
    for endpoint in endpoints:
        if endpoint not in used_endpoints:
            issues.append(FieldIssue(f"/endpoints/{endpoint}", "endpoint declared but never used"))
    for name in deployment:
        if name not in services:
            issues.append(
                FieldIssue(
                    f"/deployment/{name}",
                    f"no service named {name!r} (chain-sdk fails building this manifest)",
                )
            )
    return issues


def _quantity_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """Quantities chain-sdk cannot compute, or that the chain refuses in the transaction."""
    issues: list[FieldIssue] = []
    for profile, conf in data["profiles"]["compute"].items():
        base = f"/profiles/compute/{profile}/resources"
        res = conf["resources"]
        try:
            millis = ts_cpu_millis(res["cpu"]["units"])
        except TsValueError as exc:
            issues.append(FieldIssue(f"{base}/cpu/units", str(exc)))
        else:
            if not float(millis).is_integer():
                issues.append(
                    FieldIssue(f"{base}/cpu/units", "the chain takes whole millicores only")
                )
            elif not LIMITS.cpu_min <= millis <= LIMITS.cpu_max:
                issues.append(
                    FieldIssue(
                        f"{base}/cpu/units",
                        f"{int(millis)}m is outside the chain's limits "
                        f"({LIMITS.cpu_min}m to {LIMITS.cpu_max}m)",
                    )
                )
        try:
            memory = ts_size(str(res["memory"]["size"]))
        except TsValueError as exc:
            issues.append(FieldIssue(f"{base}/memory/size", str(exc)))
        else:
            if not LIMITS.memory_min <= memory <= LIMITS.memory_max:
                issues.append(
                    FieldIssue(
                        f"{base}/memory/size",
                        f"{memory} bytes is outside the chain's limits "
                        f"({fmt_bytes(LIMITS.memory_min)} to {fmt_bytes(LIMITS.memory_max)})",
                    )
                )
        storage = res["storage"]
        volumes = storage if isinstance(storage, list) else [storage]
        if not volumes:
            issues.append(FieldIssue(f"{base}/storage", "at least one volume is needed"))
        for index, volume in enumerate(volumes):
            where = f"{base}/storage/{index}" if isinstance(storage, list) else f"{base}/storage"
            try:
                size = ts_size(str(volume["size"]))
            except TsValueError as exc:
                issues.append(FieldIssue(f"{where}/size", str(exc)))
                continue
            if not LIMITS.storage_min <= size <= LIMITS.storage_max:
                issues.append(
                    FieldIssue(
                        f"{where}/size",
                        f"{size} bytes is outside the chain's limits "
                        f"({fmt_bytes(LIMITS.storage_min)} to {fmt_bytes(LIMITS.storage_max)})",
                    )
                )
        gpu = res.get("gpu") or {}
        units = ts_gpu_units(gpu.get("units"))
        if math.isnan(units) or not float(units).is_integer() or units < 0:
            issues.append(FieldIssue(f"{base}/gpu/units", "must be a whole number of GPUs"))
        elif units > LIMITS.gpu_max:
            issues.append(FieldIssue(f"{base}/gpu/units", f"at most {LIMITS.gpu_max} GPUs"))
        for vendor_models in ((gpu.get("attributes") or {}).get("vendor") or {}).values():
            for index, model in enumerate(vendor_models or ()):
                if not js_truthy(model.get("model")):
                    issues.append(
                        FieldIssue(
                            f"{base}/gpu/attributes/vendor/nvidia/{index}/model",
                            "a GPU entry needs a model (chain-sdk would ask for model 'undefined')",
                        )
                    )
    return issues


def check_console_rules(data: Any) -> list[FieldIssue]:
    """Every issue Console (chain-sdk TypeScript) and then the chain find in raw SDL data.

    Args:
        data: The YAML document as loaded (after Console's own rewrites, when modelling it).

    Returns:
        The issues, each with its path; empty when Console would build and send the SDL.
    """
    if not isinstance(data, Mapping):
        return [FieldIssue("/", "an SDL is a YAML mapping")]
    issues = _schema_issues(data)
    if issues:
        return issues
    issues = _relation_issues(data)
    if issues:
        return issues
    return _quantity_issues(data)
