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
from minds371_akash.sdl._ts_js import js_parse_float, js_parse_int, js_string, js_truthy
from minds371_akash.sdl._units import UnitError, parse_price

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
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, float) and value.is_integer()
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


Check = Callable[[Any, str], object]


class _Schema:
    """The SDL input schema's structural rules, collecting every issue with its path."""

    def __init__(self) -> None:
        self.issues: list[FieldIssue] = []

    def error(self, path: str, message: str) -> None:
        self.issues.append(FieldIssue(path or "/", message))

    # -- generic node kinds ------------------------------------------------------------------

    def mapping(
        self,
        value: Any,
        path: str,
        fields: Mapping[str, Check] | None,
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
            check = None if fields is None else fields.get(str(key))
            if fields is not None and check is None:
                self.error(f"{path}/{key}", "unknown field; Console's schema refuses it")
            elif check is not None:
                check(item, f"{path}/{key}")
        return True

    def any_mapping(self, value: Any, path: str) -> None:
        self.mapping(value, path, None)

    def each(self, check: Check) -> Check:
        """A mapping whose every value passes ``check``."""

        def run(value: Any, path: str) -> None:
            if self.mapping(value, path, None):
                for key, item in value.items():
                    check(item, f"{path}/{key}")

        return run

    def items(self, check: Check) -> Check:
        """A list whose every item passes ``check``."""

        def run(value: Any, path: str) -> None:
            if not isinstance(value, list):
                self.error(path, "must be a list")
                return
            for index, item in enumerate(value):
                check(item, f"{path}/{index}")

        return run

    def string(self, value: Any, path: str, min_length: int = 0) -> None:
        if not isinstance(value, str):
            self.error(path, "must be a string")
        elif len(value) < min_length:
            self.error(path, f"must be at least {min_length} characters")

    def min_string(self, min_length: int) -> Check:
        return lambda value, path: self.string(value, path, min_length)

    def strings(self, value: Any, path: str) -> None:
        self.items(self.string)(value, path)

    def strings_or_null(self, value: Any, path: str) -> None:
        if value is not None:
            self.strings(value, path)

    def integer(self, low: int, high: int | None = None) -> Check:
        def run(value: Any, path: str) -> None:
            if not _is_int(value):
                self.error(path, "must be a whole number")
            elif value < low or (high is not None and value > high):
                bound = f"between {low} and {high}" if high is not None else f"at least {low}"
                self.error(path, f"must be {bound}")

        return run

    def boolean(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            self.error(path, "must be true or false")

    def choice(self, *allowed: str) -> Check:
        def run(value: Any, path: str) -> None:
            if not isinstance(value, str) or value not in allowed:
                self.error(path, f"must be one of {', '.join(allowed)}")

        return run

    # -- the document ------------------------------------------------------------------------

    def document(self, data: Any) -> None:
        self.mapping(
            data,
            "",
            {
                "deployment": self.each(self.each(self.deployment_entry)),
                "endpoints": self.endpoints,
                "include": self.strings,
                "profiles": self.profiles,
                "services": self.each(self.service),
                "reclamation": self.reclamation,
                "version": self.choice("2.0", "2.1"),
            },
            ("version", "services", "profiles", "deployment"),
        )

    def deployment_entry(self, value: Any, path: str) -> None:
        self.mapping(
            value, path, {"count": self.integer(1), "profile": self.string}, ("profile", "count")
        )

    def endpoints(self, value: Any, path: str) -> None:
        if not self.mapping(value, path, None):
            return
        for key, item in value.items():
            if not _ENDPOINT_KEY.match(str(key)):
                self.error(f"{path}/{key}", "endpoint names match ^[a-z]+[-_0-9a-z]+$")
            else:
                self.mapping(item, f"{path}/{key}", {"kind": self.choice("ip")}, ("kind",))

    def reclamation(self, value: Any, path: str) -> None:
        def window(v: Any, p: str) -> None:
            if not isinstance(v, str) or not _MIN_WINDOW.match(v):
                self.error(p, 'must be a whole number followed by s, m or h (e.g. "24h")')

        self.mapping(value, path, {"min_window": window}, ("min_window",))

    # -- profiles ----------------------------------------------------------------------------

    def profiles(self, value: Any, path: str) -> None:
        compute = self.each(
            lambda v, p: self.mapping(v, p, {"resources": self.resources}, ("resources",))
        )
        self.mapping(
            value,
            path,
            {"compute": compute, "placement": self.each(self.placement)},
            ("compute", "placement"),
        )

    def resources(self, value: Any, path: str) -> None:
        self.mapping(
            value,
            path,
            {
                "cpu": lambda v, p: self.mapping(
                    v, p, {"attributes": self.any_mapping, "units": self.cpu_units}, ("units",)
                ),
                "gpu": self.gpu,
                "memory": lambda v, p: self.mapping(v, p, {"size": self.string}, ("size",)),
                "storage": self.storage,
            },
            ("cpu", "memory", "storage"),
        )

    def cpu_units(self, value: Any, path: str) -> None:
        if isinstance(value, str):
            if not _CPU_TEXT.match(value) or _ZERO_CPU.match(value):
                self.error(path, 'must be a positive number of CPUs or a string such as "500m"')
        elif not _is_number(value) or value <= 0:
            self.error(path, "must be a positive number of CPUs")

    def gpu_model(self, value: Any, path: str) -> None:
        self.mapping(
            value,
            path,
            {"interface": self.choice("pcie", "sxm"), "model": self.string, "ram": self.string},
        )

    def gpu_vendor(self, value: Any, path: str) -> None:
        def nvidia(v: Any, p: str) -> None:
            if v is not None:
                self.items(self.gpu_model)(v, p)

        if self.mapping(value, path, {"nvidia": nvidia}) and not value:
            self.error(path, "must name at least one vendor")

    def gpu(self, value: Any, path: str) -> None:
        def units(v: Any, p: str) -> None:
            if not isinstance(v, str) and not _is_number(v):
                self.error(p, "must be a number or a string")

        attributes: Check = lambda v, p: self.mapping(v, p, {"vendor": self.gpu_vendor})  # noqa: E731
        if not self.mapping(value, path, {"attributes": attributes, "units": units}):
            return
        units_value = value.get("units")
        positive = (_is_number(units_value) and units_value > 0) or (
            isinstance(units_value, str) and not _ZERO.match(units_value)
        )
        if "units" in value and positive and "attributes" not in value:
            self.error(f"{path}/attributes", "GPU units above 0 need attributes (a vendor)")
        if "attributes" in value and not positive:
            self.error(f"{path}/units", "GPU attributes need units above 0")

    def storage_attributes(self, value: Any, path: str) -> None:
        def persistent(v: Any, p: str) -> None:
            if not isinstance(v, bool | str):
                self.error(p, "must be true or false")

        fields: dict[str, Check] = {"class": self.string, "persistent": persistent}
        if not self.mapping(value, path, fields, ("class", "persistent")):
            return
        klass, flag = value.get("class"), value.get("persistent")
        if not isinstance(klass, str):
            return  # reported above
        is_true = flag is True or flag == "true"
        if klass == "ram" and is_true:
            self.error(path, '"ram" storage cannot be persistent')
        if klass in _NON_RAM_CLASSES and not is_true:
            self.error(f"{path}/persistent", f"storage class {klass!r} requires persistent: true")

    def volume(self, value: Any, path: str) -> None:
        fields = {"attributes": self.storage_attributes, "name": self.string, "size": self.string}
        self.mapping(value, path, fields, ("size",))

    def storage(self, value: Any, path: str) -> None:
        if isinstance(value, list):
            self.items(self.volume)(value, path)
        else:
            self.volume(value, path)  # a single mapping is one volume

    def placement(self, value: Any, path: str) -> None:
        signed = {"allOf": self.strings, "anyOf": self.strings}
        self.mapping(
            value,
            path,
            {
                "attributes": self.any_mapping,
                "pricing": self.each(self.price),
                "signedBy": lambda v, p: self.mapping(v, p, signed),
            },
            ("pricing",),
        )

    def price(self, value: Any, path: str) -> None:
        def amount(v: Any, p: str) -> None:
            if isinstance(v, str):
                if not _AMOUNT.match(v):
                    self.error(p, "must be a positive decimal number")
            elif not _is_number(v) or v < 0:
                self.error(p, "must be a positive number")

        fields = {"amount": amount, "denom": self.choice("uakt", "uact")}
        self.mapping(value, path, fields, ("denom", "amount"))

    # -- services ----------------------------------------------------------------------------

    def service(self, value: Any, path: str) -> None:
        dependency: Check = lambda v, p: self.mapping(v, p, {"service": self.string})  # noqa: E731
        self.mapping(
            value,
            path,
            {
                "args": self.strings_or_null,
                "command": self.strings_or_null,
                "credentials": self.credentials,
                "dependencies": self.items(dependency),
                "env": self.strings_or_null,
                "expose": self.exposes,
                "image": self.min_string(1),
                "params": self.params,
            },
            ("image",),
        )

    def credentials(self, value: Any, path: str) -> None:
        fields = {
            "email": self.min_string(5),
            "host": self.min_string(1),
            "password": self.min_string(6),
            "username": self.min_string(1),
        }
        self.mapping(value, path, fields, ("host", "username", "password"))

    def params(self, value: Any, path: str) -> None:
        def mount(v: Any, p: str) -> None:
            if not isinstance(v, str) or not v.startswith("/"):
                self.error(p, "must be an absolute path")

        def read(v: Any, p: str) -> None:
            if not isinstance(v, list) or any(x not in ("deployment", "logs", "events") for x in v):
                self.error(p, "must be a list of deployment, logs, events")

        volume: Check = lambda v, p: self.mapping(v, p, {"mount": mount, "readOnly": self.boolean})  # noqa: E731
        self.mapping(
            value,
            path,
            {
                "storage": self.each(volume),
                "permissions": lambda v, p: self.mapping(v, p, {"read": read}),
                "tee": self.choice("cpu", "cpu-gpu"),
            },
        )

    def exposes(self, value: Any, path: str) -> None:
        if value is not None:
            self.items(self.expose)(value, path)

    def expose(self, value: Any, path: str) -> None:
        port = self.integer(1, 65535)
        self.mapping(
            value,
            path,
            {
                "accept": self.strings,
                "as": port,
                "http_options": self.http_options,
                "port": port,
                "proto": self.choice("TCP", "UDP", "tcp", "udp"),
                "to": self.items(self.target),
            },
            ("port",),
        )

    def target(self, value: Any, path: str) -> None:
        fields = {"global": self.boolean, "ip": self.min_string(1), "service": self.string}
        if not self.mapping(value, path, fields):
            return
        ip = value.get("ip")
        if isinstance(ip, str) and ip and value.get("global") is not True:
            self.error(f"{path}/global", "an ip endpoint needs global: true")

    def http_options(self, value: Any, path: str) -> None:
        def cases(v: Any, p: str) -> None:
            if not isinstance(v, list) or any(
                not isinstance(c, str) or c not in _NEXT_CASES for c in v
            ):
                self.error(p, f"must be a list of {', '.join(sorted(_NEXT_CASES))}")
            elif "off" in v and len(v) != 1:
                self.error(p, "'off' cannot be combined with other cases")

        self.mapping(
            value,
            path,
            {
                "max_body_size": self.integer(0, 104_857_600),
                "next_cases": cases,
                "next_timeout": self.integer(0),
                "next_tries": self.integer(0),
                "proxy_buffer_size": self.integer(0, 1_048_576),
                "read_timeout": self.integer(0, 60_000),
                "send_timeout": self.integer(0, 60_000),
            },
        )


def _schema_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    schema = _Schema()
    schema.document(data)
    return schema.issues


def _volumes(resources: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    storage = resources.get("storage")
    if storage is None:
        return []
    return list(storage) if isinstance(storage, list) else [storage]


def _storage_issues(
    name: str, svc: Mapping[str, Any], profile: str, res: Mapping[str, Any]
) -> list[FieldIssue]:
    """``#validateServiceStorages`` and ``#validateStorages`` for one service and profile."""
    issues: list[FieldIssue] = []
    volumes = _volumes(res)
    names = {v.get("name") for v in volumes}
    storage_params: Mapping[str, Any] = (svc.get("params") or {}).get("storage") or {}
    mounts: dict[str, str] = {}
    for volume_name, conf in storage_params.items():
        where = f"/services/{name}/params/storage/{volume_name}"
        if not conf:
            issues.append(FieldIssue(where, f"storage {volume_name!r} is not configured"))
            continue
        if volume_name not in names:
            single = "" if isinstance(res.get("storage"), list) else " (a single mapping: no name)"
            issues.append(
                FieldIssue(
                    f"/profiles/compute/{profile}/resources/storage",
                    f"service {name!r} references no volume named {volume_name!r}{single}",
                )
            )
            continue
        # String(undefined) is "undefined": volumes without a mount share that key.
        mount = str(conf.get("mount")) if "mount" in conf else "undefined"
        if mount in mounts:
            issues.append(
                FieldIssue(
                    where,
                    f"mount {mount!r} already used by volume {mounts[mount]!r}"
                    if conf.get("mount")
                    else "several root ephemeral volumes",
                )
            )
        mounts[mount] = volume_name
    for volume in volumes:
        flag = (volume.get("attributes") or {}).get("persistent", False)
        persistent = (
            flag if isinstance(flag, bool) else str(flag).lower() not in ("false", "no", "0", "")
        )
        vol_name = volume.get("name") or ""
        if persistent and not (storage_params.get(vol_name) or {}).get("mount"):
            shown = vol_name or "default"
            issues.append(
                FieldIssue(
                    f"/services/{name}/params/storage/{shown}",
                    f"persistent volume {shown!r} needs a mount path",
                )
            )
    return issues


def _gpu_tee_issues(
    name: str,
    svc: Mapping[str, Any],
    group: str,
    profile: str,
    res: Mapping[str, Any],
    tee_by_group: dict[str, str],
) -> list[FieldIssue]:
    """``#validateGPU`` and ``#validateTEE`` for one service in one placement."""
    issues: list[FieldIssue] = []
    gpu: Mapping[str, Any] = res.get("gpu") or {}
    has_units = gpu.get("units") is not None and gpu.get("units") != 0
    if gpu:
        gpu_path = f"/profiles/compute/{profile}/resources/gpu"
        if not has_units and "attributes" in gpu:
            issues.append(FieldIssue(f"{gpu_path}/attributes", "GPU attributes need units"))
        if has_units and "attributes" not in gpu:
            issues.append(FieldIssue(gpu_path, "GPU units need attributes"))
        if has_units and "vendor" not in (gpu.get("attributes") or {}):
            issues.append(FieldIssue(f"{gpu_path}/attributes", "GPU units need a vendor"))
    tee = (svc.get("params") or {}).get("tee")
    if tee:
        where = f"/services/{name}/params/tee"
        if tee == "cpu-gpu" and not has_units:
            issues.append(FieldIssue(where, "tee cpu-gpu needs GPUs"))
        if tee_by_group.setdefault(group, tee) != tee:
            issues.append(FieldIssue(where, f"conflicting tee types in placement {group!r}"))
    return issues


def _placement_issues(
    data: Mapping[str, Any], name: str, tee_by_group: dict[str, str]
) -> list[FieldIssue]:
    """``#validateDeploymentWithRelations`` for one service."""
    deployment: Mapping[str, Any] = data["deployment"]
    if name not in deployment:
        return [FieldIssue("/deployment", f"service {name!r} is not deployed")]
    issues: list[FieldIssue] = []
    svc = data["services"][name]
    for group, entry in deployment[name].items():
        profile = entry["profile"]
        infra = data["profiles"]["placement"].get(group)
        if infra is None:
            issues.append(FieldIssue("/profiles/placement", f"placement {group!r} is not defined"))
        elif profile not in infra["pricing"]:
            issues.append(
                FieldIssue(
                    f"/profiles/placement/{group}/pricing", f"no price for the {profile!r} profile"
                )
            )
        res = data["profiles"]["compute"].get(profile, {}).get("resources")
        if res is None:
            issues.append(
                FieldIssue("/profiles/compute", f"compute profile {profile!r} is not defined")
            )
            continue
        issues += _storage_issues(name, svc, profile, res)
        issues += _gpu_tee_issues(name, svc, group, profile, res, tee_by_group)
    return issues


def _leased_ip_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """``#validateLeaseIP`` and ``#validateEndpoints``."""
    issues: list[FieldIssue] = []
    endpoints: Mapping[str, Any] = data.get("endpoints") or {}
    used: set[str] = set()
    ports: set[tuple[str, Any, str]] = set()
    for name, svc in data["services"].items():
        for index, exp in enumerate(svc.get("expose") or ()):
            proto = str(exp.get("proto") or "TCP").upper()
            for to_index, target in enumerate(exp.get("to") or ()):
                ip = target.get("ip")
                if not ip:
                    continue
                where = f"/services/{name}/expose/{index}/to/{to_index}/ip"
                if ip not in endpoints:
                    issues.append(FieldIssue(where, f"no endpoint named {ip!r} under /endpoints"))
                used.add(ip)
                port = exp.get("as") if exp.get("as") is not None else exp.get("port")
                if (ip, port, proto) in ports:
                    issues.append(FieldIssue(where, f"endpoint {ip!r} port {port} {proto} in use"))
                ports.add((ip, port, proto))
    issues += [
        FieldIssue(f"/endpoints/{e}", "endpoint declared but never used")
        for e in endpoints
        if e not in used
    ]
    return issues


def _relation_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """``SDLValidator``: deployments, storage mounts, GPUs, TEE, leased IPs, endpoints."""
    issues: list[FieldIssue] = []
    tee_by_group: dict[str, str] = {}
    for name in data["services"]:
        issues += _placement_issues(data, name, tee_by_group)
    issues += _leased_ip_issues(data)
    issues += [
        FieldIssue(
            f"/deployment/{name}",
            f"no service named {name!r} (chain-sdk fails building this manifest)",
        )
        for name in data["deployment"]
        if name not in data["services"]
    ]
    return issues


def _limit(where: str, value: int, low: int, high: int, shown: str) -> list[FieldIssue]:
    if low <= value <= high:
        return []
    return [
        FieldIssue(
            where,
            f"{shown} is outside the chain's limits ({fmt_bytes(low)} to {fmt_bytes(high)})",
        )
    ]


def _cpu_issues(base: str, units: Any) -> list[FieldIssue]:
    try:
        millis = ts_cpu_millis(units)
    except TsValueError as exc:
        return [FieldIssue(f"{base}/cpu/units", str(exc))]
    if not float(millis).is_integer():
        return [FieldIssue(f"{base}/cpu/units", "the chain takes whole millicores only")]
    if not LIMITS.cpu_min <= millis <= LIMITS.cpu_max:
        return [
            FieldIssue(
                f"{base}/cpu/units",
                f"{int(millis)}m is outside the chain's limits "
                f"({LIMITS.cpu_min}m to {LIMITS.cpu_max}m)",
            )
        ]
    return []


def _size_issues(where: str, text: Any, low: int, high: int) -> list[FieldIssue]:
    try:
        size = ts_size(str(text))
    except TsValueError as exc:
        return [FieldIssue(where, str(exc))]
    return _limit(where, size, low, high, f"{text!r} ({size} bytes)")


def _gpu_issues(base: str, gpu: Mapping[str, Any]) -> list[FieldIssue]:
    issues: list[FieldIssue] = []
    units = ts_gpu_units(gpu.get("units"))
    if math.isnan(units) or not float(units).is_integer() or units < 0:
        issues.append(FieldIssue(f"{base}/gpu/units", "must be a whole number of GPUs"))
    elif units > LIMITS.gpu_max:
        issues.append(FieldIssue(f"{base}/gpu/units", f"at most {LIMITS.gpu_max} GPUs"))
    for vendor, models in ((gpu.get("attributes") or {}).get("vendor") or {}).items():
        for index, model in enumerate(models or ()):
            if not js_truthy(model.get("model")):
                issues.append(
                    FieldIssue(
                        f"{base}/gpu/attributes/vendor/{vendor}/{index}/model",
                        "a GPU entry needs a model (chain-sdk would ask for model 'undefined')",
                    )
                )
    return issues


def _price_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """Prices the chain cannot read as a ``DecCoin`` once chain-sdk wrote them as text."""
    issues: list[FieldIssue] = []
    for group, infra in data["profiles"]["placement"].items():
        for profile, price in infra["pricing"].items():
            where = f"/profiles/placement/{group}/pricing/{profile}/amount"
            amount = price["amount"]
            text = amount if isinstance(amount, str) else js_string(amount)
            try:
                value = parse_price(text)
            except UnitError as exc:
                issues.append(FieldIssue(where, f"chain-sdk writes {text!r}: {exc}"))
                continue
            if value > LIMITS.price_max:
                issues.append(FieldIssue(where, f"at most {LIMITS.price_max} per block per unit"))
    return issues


def _group_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """The chain's limits on groups and units, as chain-sdk merges units.

    One unit per placement and profile, its replicas added up.
    """
    units: dict[str, dict[str, int]] = {}
    for targets in data["deployment"].values():
        for group, entry in targets.items():
            per_group = units.setdefault(group, {})
            per_group[entry["profile"]] = per_group.get(entry["profile"], 0) + entry["count"]
    issues: list[FieldIssue] = []
    if len(units) > LIMITS.groups_max:
        issues.append(FieldIssue("/deployment", f"at most {LIMITS.groups_max} placement groups"))
    for group, profiles in units.items():
        where = f"/profiles/placement/{group}"
        if len(profiles) > LIMITS.units_per_group_max:
            issues.append(FieldIssue(where, f"at most {LIMITS.units_per_group_max} resource units"))
        issues += [
            FieldIssue(
                where,
                f"{count} replicas of profile {profile!r} in one resource unit; "
                f"the chain allows {LIMITS.count_max}",
            )
            for profile, count in profiles.items()
            if count > LIMITS.count_max
        ]
    return issues


def _quantity_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    """Quantities chain-sdk cannot compute, or that the chain refuses in the transaction."""
    issues: list[FieldIssue] = _price_issues(data) + _group_issues(data)
    for profile, conf in data["profiles"]["compute"].items():
        base = f"/profiles/compute/{profile}/resources"
        res = conf["resources"]
        issues += _cpu_issues(base, res["cpu"]["units"])
        issues += _size_issues(
            f"{base}/memory/size", res["memory"]["size"], LIMITS.memory_min, LIMITS.memory_max
        )
        storage = res["storage"]
        listed = isinstance(storage, list)
        volumes = storage if listed else [storage]
        if not volumes:
            issues.append(FieldIssue(f"{base}/storage", "at least one volume is needed"))
        for index, volume in enumerate(volumes):
            where = f"{base}/storage/{index}/size" if listed else f"{base}/storage/size"
            issues += _size_issues(where, volume["size"], LIMITS.storage_min, LIMITS.storage_max)
        issues += _gpu_issues(base, res.get("gpu") or {})
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
