"""``build_sdl``: write the SDL 2.0 document of a :class:`WorkloadSpec`.

Each service gets a compute profile of its own name; all services go to one placement group
priced in ``uact`` (the denom the chain accepts for new deployments). Strings are written
plainly only when they are plain names; everything else is double-quoted, so values with
quotes, newlines, ``&``, ``<``, YAML keywords (``yes``, ``off``) or any Unicode survive the
round trip exactly, whichever YAML schema reads them back.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal
from typing import Any

import pydantic
import yaml

from minds371.errors import FieldIssue, ValidationError
from minds371_akash.sdl._parse import parse_sdl, schema_issues
from minds371_akash.sdl._workload import DEFAULT_AUDITOR, ServiceSpec, WorkloadSpec

__all__ = ["build_sdl", "build_sdl_data"]

_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./:@+-]*\Z")
_RESERVED = re.compile(
    r"(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF"
    r"|null|Null|NULL)\Z"
)


# libyaml's emitter when PyYAML has it (the wheels do): several times faster than the Python one.
_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_SafeDumper):  # type: ignore[valid-type,misc]
    """Writes plain names plainly and every other string double-quoted."""

    def ignore_aliases(self, data: object) -> bool:
        # A value shared by two services (one price object) is written out twice, never as an
        # ``&id001`` anchor and ``*id001`` alias: the SDL is for people to read and edit.
        return True


@functools.lru_cache(maxsize=4096)
def _may_be_plain(value: str) -> bool:
    # Cached: names, images, units and keys recur in every SDL a runtime builds.
    return bool(_PLAIN.match(value)) and not _RESERVED.match(value)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = None if _may_be_plain(value) else '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _decimal_text(value: Decimal) -> str:
    # A decimal is written as a plain number: exact, never in exponent form.
    return f"{value.normalize():f}" if value == value.to_integral_value() else f"{value:f}"


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    text = _decimal_text(value)
    kind = "int" if "." not in text else "float"
    return dumper.represent_scalar(f"tag:yaml.org,2002:{kind}", text)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(Decimal, _represent_decimal)


def _service_doc(service: ServiceSpec) -> dict[str, Any]:
    doc: dict[str, Any] = {"image": service.image}
    if service.command is not None:
        doc["command"] = list(service.command)
    if service.args is not None:
        doc["args"] = list(service.args)
    if service.env:
        doc["env"] = [f"{key}={value}" for key, value in service.env.items()]
    if service.credentials is not None:
        creds = service.credentials
        doc["credentials"] = {
            "host": creds.host,
            "username": creds.username,
            "password": creds.password.get_secret_value(),
            **({"email": creds.email} if creds.email else {}),
        }
    expose = []
    for port in service.ports:
        entry: dict[str, Any] = {"port": port.port}
        if port.as_ is not None:
            entry["as"] = port.as_
        if port.proto != "tcp":
            entry["proto"] = port.proto
        if port.accept:
            entry["accept"] = list(port.accept)
        targets: list[dict[str, Any]] = [{"global": True}] if port.global_ else []
        targets += [{"service": name} for name in port.to]
        if targets:
            entry["to"] = targets
        expose.append(entry)
    if expose:
        doc["expose"] = expose
    mounted = [v for v in service.volumes if v.mount is not None]
    if mounted:
        doc["params"] = {
            "storage": {
                v.name: {"mount": v.mount, **({"readOnly": True} if v.read_only else {})}
                for v in mounted
            }
        }
    return doc


def _resources_doc(service: ServiceSpec) -> dict[str, Any]:
    storage: list[dict[str, Any]] = [{"size": service.storage}]
    for volume in service.volumes:
        entry: dict[str, Any] = {"name": volume.name, "size": volume.size}
        if volume.persistent or volume.class_ is not None:
            entry["attributes"] = {
                "persistent": volume.persistent,
                "class": volume.class_ or "default",
            }
        storage.append(entry)
    cpu = service.cpu
    doc: dict[str, Any] = {
        "cpu": {"units": cpu if isinstance(cpu, str) else Decimal(repr(cpu))},
        "memory": {"size": service.memory},
        "storage": storage,
    }
    if service.gpu is not None:
        models = [
            {
                "model": m.model,
                **({"ram": m.ram} if m.ram else {}),
                **({"interface": m.interface} if m.interface else {}),
            }
            for m in service.gpu.models
        ]
        doc["gpu"] = {
            "units": service.gpu.units,
            "attributes": {"vendor": {service.gpu.vendor: models or None}},
        }
    return doc


def _placement_doc(spec: WorkloadSpec) -> dict[str, Any]:
    placement = spec.placement
    doc: dict[str, Any] = {}
    attributes = dict(placement.attributes)
    if placement.region is not None:
        attributes["region"] = placement.region
    if attributes:
        doc["attributes"] = attributes
    any_of = list(placement.signed_by_any_of)
    if placement.audited_only and DEFAULT_AUDITOR not in any_of:
        any_of.append(DEFAULT_AUDITOR)
    signed: dict[str, Any] = {}
    if placement.signed_by_all_of:
        signed["allOf"] = list(placement.signed_by_all_of)
    if any_of:
        signed["anyOf"] = any_of
    if signed:
        doc["signedBy"] = signed
    doc["pricing"] = {
        s.name: {"denom": "uact", "amount": s.max_price_uact or spec.max_price_uact}
        for s in spec.services
    }
    return doc


def build_sdl(spec: WorkloadSpec | dict[str, Any]) -> str:
    """Write an SDL 2.0 document for a workload.

    Args:
        spec: The workload (a :class:`WorkloadSpec`, or its fields as a mapping).

    Returns:
        SDL YAML text that ``parse_sdl`` accepts and that describes exactly ``spec``.

    Raises:
        ValidationError: ``spec`` is invalid (``subject="workload spec"``), with every issue.
    """
    return _build(spec)[0]


def build_sdl_data(spec: WorkloadSpec | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """:func:`build_sdl`'s text, and the data that safe YAML loading reads back from it.

    The data is what ``yaml.load(text, Loader=yaml.CSafeLoader)`` returns (numbers as ``int`` and
    ``float``, fresh containers), built without parsing the text: a caller that changes the
    document and writes it again (the task marker) skips a YAML load.

    Raises:
        ValidationError: as :func:`build_sdl`.
    """
    text, document = _build(spec)
    loaded: dict[str, Any] = _as_loaded(document)
    return text, loaded


def _build(spec: WorkloadSpec | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    if not isinstance(spec, WorkloadSpec):
        try:
            spec = WorkloadSpec.model_validate(spec)
        except pydantic.ValidationError as exc:
            raise ValidationError(schema_issues(exc), subject="workload spec") from None
    document = {
        "version": "2.0",
        "services": {s.name: _service_doc(s) for s in spec.services},
        "profiles": {
            "compute": {s.name: {"resources": _resources_doc(s)} for s in spec.services},
            "placement": {spec.placement.name: _placement_doc(spec)},
        },
        "deployment": {
            s.name: {spec.placement.name: {"profile": s.name, "count": s.count}}
            for s in spec.services
        },
    }
    text = yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=2**31 - 1,
    )
    try:
        _check_built(text)
    except ValidationError as exc:
        # The spec's own checks let through something the SDL rules refuse (a size beyond the
        # chain's limits, an invalid hostname, ...): report it against the SDL path.
        raise ValidationError(
            [FieldIssue(f"/sdl{issue.path}", issue.message) for issue in exc.issues],
            subject="workload spec",
        ) from None
    return text, document


@functools.lru_cache(maxsize=256)
def _check_built(text: str) -> None:
    """Check a built SDL by the SDL rules (raises ``ValidationError``).

    A function of the text alone, so a text that passed once passes again: many tasks of one
    workload build the same text (their task marker is added afterwards), and each check is a
    YAML load. A refusal is not kept (an exception leaves the cache untouched).
    """
    parse_sdl(text)


def _as_loaded(value: Any) -> Any:
    """``value`` as the YAML :class:`_Dumper` writes for it is read back by safe loading.

    Every string is written so that it reads back as itself (plainly only when no resolver
    would take it for anything else), ``int``, ``bool`` and ``None`` as themselves, and a
    ``Decimal`` as the plain number :func:`_represent_decimal` writes, which reads back as an
    ``int`` or a ``float``. Containers are new, none shared: text read back never shares one.
    """
    if isinstance(value, dict):
        return {key: _as_loaded(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_loaded(item) for item in value]
    if isinstance(value, Decimal):
        text = _decimal_text(value)
        return float(text) if "." in text else int(text)
    return value
