"""``WorkloadSpec``: a compact, typed description of a workload.

A deployment request carries a :class:`WorkloadSpec`; ``build_sdl`` turns it into SDL 2.0. The
spec checks what it can say in its own terms (names, units, the chain's limits, hostnames,
volume rules), so that a spec that validates builds an SDL that validates.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from minds371_akash.sdl._checks import (
    ATTRIBUTE_KEY,
    LIMITS,
    PERSISTENT_CLASSES,
    attribute_value_problem,
    is_hostname,
    nul_problem,
)
from minds371_akash.sdl._image import image_reference_problem
from minds371_akash.sdl._units import UnitError, parse_cpu_millis, parse_gpu_ram, parse_size

__all__ = [
    "DEFAULT_AUDITOR",
    "GpuModelSpec",
    "GpuSpec",
    "PlacementSpec",
    "PortSpec",
    "RegistryCredentials",
    "ServiceSpec",
    "VolumeSpec",
    "WorkloadSpec",
]

DEFAULT_AUDITOR = "akash1365yvmc4s7awdyj3n2sav7xfx76adc6dnmlx63"
"""The auditor whose signature ``audited_only`` requires (the one Console also requires)."""

_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*\Z")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A region as providers publish it (``us-west``, ``eu-central-1``, ``westcoast``).
_REGION = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?\Z", re.ASCII)

Name = Annotated[str, Field(pattern=_NAME, max_length=63)]
# Numbers and flags are strict: `true` is not a count, "yes" is not a flag, "80" is not a port.
Port = Annotated[int, Field(ge=1, le=65535, strict=True)]
Flag = Annotated[bool, Field(strict=True)]
Text = Annotated[str, Field(min_length=1)]


def _scalar(value: Any) -> Any:
    # One issue for a wrong type, rather than one per member of the union.
    if isinstance(value, bool) or not isinstance(value, float | int | str):
        raise PydanticCustomError("scalar_type", "must be a number of CPUs or a string like 500m")
    return value


def _no_surrogates(value: str) -> str:
    if _SURROGATE.search(value):
        raise ValueError("contains an unpaired surrogate, which cannot be written as UTF-8")
    return value


def _passable(value: str, where: str) -> str:
    """``value`` if a container can receive it (no surrogates, no NUL)."""
    _no_surrogates(value)
    problem = nul_problem(value)
    if problem is not None:
        raise ValueError(f"{where} {problem}")
    return value


def _check_size(value: str, low: int, high: int) -> None:
    try:
        size = parse_size(value)
    except UnitError as exc:
        raise ValueError(str(exc)) from None
    if not low <= size <= high:
        raise ValueError(f"{value} is outside the chain's limits ({low} to {high} bytes)")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class PortSpec(_Spec):
    """A container port and who may reach it.

    Attributes:
        port: The port the container listens on.
        as_: The port to expose it as (``as``); defaults to ``port``. Port 80 over TCP is
            served by the provider's HTTP ingress.
        proto: ``tcp`` or ``udp``.
        global_: Reachable from the internet (``global``).
        accept: Extra hostnames for the HTTP ingress.
        to: Services of this workload allowed to reach the port.
    """

    port: Port
    as_: Port | None = Field(default=None, alias="as")
    proto: Literal["tcp", "udp"] = "tcp"
    global_: Flag = Field(default=True, alias="global")
    accept: tuple[Text, ...] = ()
    to: tuple[Name, ...] = ()

    @field_validator("accept")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for host in value:
            if not is_hostname(host):
                raise ValueError(f"{host!r} is not a valid lowercase hostname")
        if len(set(value)) != len(value):
            raise ValueError("a hostname is listed twice")
        return value


class VolumeSpec(_Spec):
    """A named storage volume.

    Attributes:
        name: Volume name.
        size: Size such as ``"10Gi"``.
        mount: Absolute mount path (required for persistent volumes).
        persistent: Survives restarts of the container.
        class_: Storage class (``class``): ``beta1``, ``beta2``, ``beta3`` (or ``default``,
            the provider's default class) for persistent volumes, required with them; ``ram``
            for memory-backed scratch space.
        read_only: Mount read-only.
    """

    name: Annotated[str, Field(pattern=r"^[a-z][-_a-z0-9]*$", max_length=63)]
    size: Text
    mount: Annotated[str, Field(pattern=r"^/")] | None = None
    persistent: Flag = False
    class_: Literal["default", "beta1", "beta2", "beta3", "ram"] | None = Field(
        default=None, alias="class"
    )
    read_only: Flag = False

    @field_validator("size")
    @classmethod
    def _size(cls, value: str) -> str:
        _check_size(value, LIMITS.storage_min, LIMITS.storage_max)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> VolumeSpec:
        if self.persistent and self.mount is None:
            raise ValueError("a persistent volume needs a mount path")
        if self.persistent and self.class_ is None:
            # The SDL would say class "default", which only a provider that marks one of its
            # classes as default can serve: the deposit would wait out the bid wait instead.
            raise ValueError("a persistent volume needs a class: " + ", ".join(PERSISTENT_CLASSES))
        if self.class_ == "ram" and self.persistent:
            raise ValueError("a ram volume cannot be persistent")
        if self.class_ not in (None, "ram") and not self.persistent:
            raise ValueError(f"class {self.class_} is for persistent volumes")
        if self.class_ == "ram" and self.read_only:
            raise ValueError("a ram volume cannot be read-only")
        if self.mount is None and (self.read_only or self.class_ == "ram"):
            raise ValueError("give the volume a mount path")
        return self


class GpuModelSpec(_Spec):
    """One acceptable GPU model (``h100``), optionally with memory (``80Gi``) and interface."""

    model: Annotated[str, Field(pattern=r"^[^/\s]+$")]
    ram: str | None = None
    interface: Literal["pcie", "sxm"] | None = None

    @field_validator("ram")
    @classmethod
    def _ram(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_gpu_ram(value)
            except UnitError as exc:
                raise ValueError(str(exc)) from None
        return value


class GpuSpec(_Spec):
    """GPUs per replica; no models means any NVIDIA model."""

    units: Annotated[int, Field(ge=1, le=24, strict=True)]
    vendor: Literal["nvidia"] = "nvidia"
    models: tuple[GpuModelSpec, ...] = ()


class RegistryCredentials(_Spec):
    """Login for a private image registry (the password is kept out of logs and reprs)."""

    host: Text
    username: Text
    password: SecretStr
    email: str | None = None

    @field_validator("host", "username")
    @classmethod
    def _one_word(cls, value: str) -> str:
        # A registry host (``ghcr.io``, ``https://index.docker.io/v1/``) or a login name: one
        # printable word, or the provider's image pull could not use it.
        if any(char.isspace() or not char.isprintable() for char in value):
            raise ValueError("must be one word without spaces or control characters")
        return value


class ServiceSpec(_Spec):
    """One container of the workload.

    Attributes:
        name: Service name (lowercase letters, digits, ``-``).
        image: Container image.
        command: Entrypoint override.
        args: Arguments override.
        env: Environment variables, as a mapping.
        cpu: CPUs (``0.5``) or millicores (``"500m"``) per replica.
        memory: Memory per replica (``"512Mi"``).
        storage: Size of the container's own ephemeral disk (``"1Gi"``).
        volumes: Extra volumes, persistent or not.
        gpu: GPUs per replica.
        ports: Exposed ports.
        count: Replicas.
        credentials: Private registry login.
        max_price_uact: Price cap per block for this service, overriding the workload's.
    """

    name: Name
    image: str
    command: tuple[str, ...] | None = None
    args: tuple[str, ...] | None = None
    env: dict[str, str] = Field(default_factory=dict)
    cpu: Annotated[float | int | str, BeforeValidator(_scalar)] = 0.5
    memory: Text = "512Mi"
    storage: Text = "1Gi"
    volumes: tuple[VolumeSpec, ...] = ()
    gpu: GpuSpec | None = None
    ports: tuple[PortSpec, ...] = ()
    count: Annotated[int, Field(ge=1, le=50, strict=True)] = 1
    credentials: RegistryCredentials | None = None
    max_price_uact: Annotated[Decimal, Field(gt=0, le=10_000_000, decimal_places=18)] | None = None

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        problem = image_reference_problem(value)
        if problem is not None:
            raise ValueError(f"invalid image reference: {problem}")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not _ENV_NAME.match(key):
                raise ValueError(f"invalid variable name {key!r}")
            _passable(item, f"the value of {key}")
        return value

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, value: float | int | str) -> float | int | str:
        try:
            millis = parse_cpu_millis(value)
        except UnitError as exc:
            raise ValueError(str(exc)) from None
        if not LIMITS.cpu_min <= millis <= LIMITS.cpu_max:
            raise ValueError(f"CPU must be between {LIMITS.cpu_min}m and {LIMITS.cpu_max}m")
        return value

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: str) -> str:
        _check_size(value, LIMITS.memory_min, LIMITS.memory_max)
        return value

    @field_validator("storage")
    @classmethod
    def _storage(cls, value: str) -> str:
        _check_size(value, LIMITS.storage_min, LIMITS.storage_max)
        return value

    @field_validator("command", "args")
    @classmethod
    def _strings(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for index, item in enumerate(value or ()):
            _passable(item, f"item {index}")
        return value

    @model_validator(mode="after")
    def _volumes(self) -> ServiceSpec:
        names = [v.name for v in self.volumes]
        if "default" in names or len(set(names)) != len(names):
            raise ValueError("volume names must be unique and not 'default'")
        mounts = [v.mount for v in self.volumes if v.mount is not None]
        if len(set(mounts)) != len(mounts):
            raise ValueError("two volumes share a mount path")
        return self


class PlacementSpec(_Spec):
    """Which providers may run the workload.

    Attributes:
        name: Placement group name.
        region: Required provider ``region`` attribute.
        attributes: Other required provider attributes.
        audited_only: Only providers audited by :data:`DEFAULT_AUDITOR`.
        signed_by_any_of: Auditors any one of which must have signed the attributes.
        signed_by_all_of: Auditors all of which must have signed the attributes.
    """

    name: Name = "akash"
    region: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    audited_only: Flag = False
    signed_by_any_of: tuple[Text, ...] = ()
    signed_by_all_of: tuple[Text, ...] = ()

    @field_validator("region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        if value is not None and not _REGION.match(value):
            raise ValueError(
                f"{value[:80]!r} is not a region name: 1-64 letters, digits, '.', '_' or '-', "
                "as providers publish them (us-west, eu-central-1)"
            )
        return value

    @field_validator("attributes")
    @classmethod
    def _attributes(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not ATTRIBUTE_KEY.match(key):
                raise ValueError(
                    f"invalid attribute key {key[:80]!r}: 2-128 ASCII characters, a letter "
                    "then letters, digits, _ / . - (a trailing * is a wildcard)"
                )
            problem = attribute_value_problem(item)
            if problem is not None:
                raise ValueError(f"attribute {key!r} {problem}")
        return value


class WorkloadSpec(_Spec):
    """A workload to deploy: its services, where they may run and the most it may cost.

    Attributes:
        services: The containers; names must be unique.
        placement: Provider requirements.
        max_price_uact: The most to pay per block for each service, in ``uact``
            (1,000,000 uact = 1 ACT, about 1 USD).
    """

    services: tuple[ServiceSpec, ...]
    placement: PlacementSpec = Field(default_factory=PlacementSpec)
    max_price_uact: Annotated[Decimal, Field(gt=0, le=10_000_000, decimal_places=18)]

    @field_validator("services")
    @classmethod
    def _count(cls, value: tuple[ServiceSpec, ...]) -> tuple[ServiceSpec, ...]:
        # Checked here rather than with min_length so that one bad service is one issue.
        if not 1 <= len(value) <= LIMITS.units_per_group_max:
            raise ValueError(f"give 1 to {LIMITS.units_per_group_max} services")
        return value

    @model_validator(mode="after")
    def _references(self) -> WorkloadSpec:
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ValueError("service names must be unique")
        hosts = [h for s in self.services for p in s.ports for h in p.accept]
        if len(set(hosts)) != len(hosts):
            raise ValueError("a hostname is accepted by two ports; each may appear once")
        if not any(p.global_ for s in self.services for p in s.ports):
            raise ValueError("at least one port must be global (reachable from the internet)")
        for service in self.services:
            for port in service.ports:
                unknown = [t for t in port.to if t not in names]
                if unknown:
                    raise ValueError(
                        f"{service.name}: port {port.port} names unknown services {unknown}"
                    )
        return self
