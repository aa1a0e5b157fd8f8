"""Console's SDL input schema: the structural rules chain-sdk TypeScript validates first.

``chain-sdk:ts/src/sdl/validateSDL/validateSDLInput.ts`` is compiled from the schema document
``chain-sdk:go/sdl/sdl-input.schema.yaml``: no unknown fields anywhere, sizes and images as
strings, storage attributes with both ``class`` and ``persistent``, GPU units and attributes
together, ports 1 to 65535, HTTP option bounds. Every issue is collected with its path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from minds371.errors import FieldIssue

__all__ = ["schema_issues"]

_NEXT_CASES = {"error", "timeout", "500", "502", "503", "504", "403", "404", "429", "off"}
_ENDPOINT_KEY = re.compile(r"[a-z]+[-_0-9a-z]+\Z")
_CPU_TEXT = re.compile(r"[0-9]+(\.[0-9]+)?[a-zA-Z]*\Z")
_ZERO_CPU = re.compile(r"0+(\.0+)?m?\Z")
_ZERO = re.compile(r"0+(\.0+)?\Z")
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?\Z")
_MIN_WINDOW = re.compile(r"[1-9][0-9]*(s|m|h)\Z")
_NON_RAM_CLASSES = {"beta1", "beta2", "beta3", "default"}


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


def schema_issues(data: Mapping[str, Any]) -> list[FieldIssue]:
    schema = _Schema()
    schema.document(data)
    return schema.issues
