"""Pydantic models mirroring the SDL 2.0/2.1 input schema.

The models enforce the schema's structure (types, required fields, enums, ranges, unknown
fields); cross-references and the Go parser's semantic rules live in ``_validate``. Field names
are Python names; the SDL's own keys (``as``, ``global``, ``signedBy``, ``readOnly``,
``class``) are aliases, and ``model_dump(by_alias=True)`` gives back SDL keys.

Quantities that the SDL lets be a number or a string (CPU units, GPU units, price amounts,
placement attribute values) are kept as read (:data:`Scalar`) and parsed by ``_units``, so that
their exact source text survives.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr
from pydantic_core import PydanticCustomError

from minds371.errors import FieldIssue

__all__ = [
    "ComputeProfile",
    "ComputeResources",
    "CpuResource",
    "Credentials",
    "Dependency",
    "DeploymentEntry",
    "Endpoint",
    "Expose",
    "ExposeTo",
    "GpuAttributes",
    "GpuModel",
    "GpuResource",
    "GpuVendor",
    "HttpOptions",
    "MemoryResource",
    "Permissions",
    "Placement",
    "Price",
    "Profiles",
    "Reclamation",
    "Scalar",
    "Sdl",
    "Service",
    "ServiceParams",
    "SignedBy",
    "StorageAttributes",
    "StorageParams",
    "StorageVolume",
]

NextCase = Literal["error", "timeout", "500", "502", "503", "504", "403", "404", "429", "off"]


def _scalar(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PydanticCustomError("scalar_type", "must be a number or a string")
    return value


def _attribute_value(value: Any) -> Any:
    if not isinstance(value, str | int | float | bool):
        raise PydanticCustomError("scalar_type", "attribute values must be strings or numbers")
    return value


def _bool_or_text(value: Any) -> Any:
    # Checked here, as one issue, rather than by a union that reports each member's failure.
    if not isinstance(value, bool | str):
        raise PydanticCustomError("bool_type", "must be true or false")
    return value


def _volumes(value: Any) -> Any:
    # The single-mapping form is one volume, always named "default" (the Go parser ignores a
    # name given there); the list form names volumes "default" when they carry no name.
    if isinstance(value, dict):
        return [{**value, "name": "default"}]
    return value


Scalar = Annotated[Any, BeforeValidator(_scalar)]
"""A YAML scalar that may be a number or a string (kept as read)."""

AttributeValue = Annotated[Any, BeforeValidator(_attribute_value)]
T = TypeVar("T")

# Sequences arrive from YAML as lists; the field is lax only to turn the list into a tuple
# (the items are still checked strictly).
Seq = Annotated[tuple[T, ...], Field(strict=False)]
Port = Annotated[int, Field(ge=1, le=65535)]
UInt32 = Annotated[int, Field(ge=0, le=4_294_967_295)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        populate_by_name=True,
        serialize_by_alias=True,
    )


class HttpOptions(_Model):
    """``expose[].http_options``: ingress proxy settings (0 or absent means the default)."""

    max_body_size: Annotated[int, Field(ge=0, le=104_857_600)] | None = None
    read_timeout: Annotated[int, Field(ge=0, le=60_000)] | None = None
    send_timeout: Annotated[int, Field(ge=0, le=60_000)] | None = None
    next_tries: UInt32 | None = None
    next_timeout: UInt32 | None = None
    next_cases: Seq[NextCase] | None = None
    proxy_buffer_size: Annotated[int, Field(ge=0, le=1_048_576)] | None = None


class ExposeTo(_Model):
    """``expose[].to[]``: who may reach the port (another service, or the world)."""

    service: str | None = None
    global_: bool | None = Field(default=None, alias="global")
    ip: Annotated[str, Field(min_length=1)] | None = None


class Expose(_Model):
    """``services.<name>.expose[]``: one container port and where it is exposed."""

    port: Port
    as_: Port | None = Field(default=None, alias="as")
    proto: Literal["TCP", "UDP", "tcp", "udp"] | None = None
    accept: Seq[str] | None = None
    http_options: HttpOptions | None = None
    to: Seq[ExposeTo] | None = None


class Credentials(_Model):
    """``services.<name>.credentials``: login for a private image registry."""

    host: Annotated[str, Field(min_length=1)]
    username: Annotated[str, Field(min_length=1)]
    password: Annotated[str, Field(min_length=6)]
    email: Annotated[str, Field(min_length=5)] | None = None


class Dependency(_Model):
    """``services.<name>.dependencies[]`` (accepted, not used by the manifest)."""

    service: str | None = None


class StorageParams(_Model):
    """``services.<name>.params.storage.<volume>``: where a volume is mounted."""

    mount: Annotated[str, Field(min_length=1, pattern=r"^/")] | None = None
    read_only: bool | None = Field(default=None, alias="readOnly")


class Permissions(_Model):
    """``services.<name>.params.permissions``: what the workload may read from the provider."""

    read: Seq[Literal["deployment", "logs", "events"]] | None = None


class ServiceParams(_Model):
    """``services.<name>.params``."""

    storage: dict[str, StorageParams] | None = None
    permissions: Permissions | None = None
    tee: Literal["cpu", "cpu-gpu"] | None = None


class Service(_Model):
    """``services.<name>``: one container."""

    image: Annotated[str, Field(min_length=1)]
    command: Seq[str] | None = None
    args: Seq[str] | None = None
    env: Seq[str] | None = None
    credentials: Credentials | None = None
    dependencies: Seq[Dependency] | None = None
    expose: Seq[Expose] | None = None
    params: ServiceParams | None = None


class CpuResource(_Model):
    """``resources.cpu``: ``units`` as CPUs (``0.5``) or millicores (``"500m"``)."""

    units: Scalar
    attributes: dict[str, AttributeValue] | None = None


class MemoryResource(_Model):
    """``resources.memory``: ``size`` such as ``"512Mi"``."""

    size: str


class StorageAttributes(_Model):
    """``resources.storage[].attributes``.

    ``persistent`` defaults to false; a persistent volume without a class gets ``default``.
    """

    class_: str | None = Field(default=None, alias="class")
    persistent: Annotated[bool | str, BeforeValidator(_bool_or_text)] = False


class StorageVolume(_Model):
    """One storage volume; the unnamed (or single) volume is called ``default``."""

    name: str | None = None
    size: str
    attributes: StorageAttributes | None = None


class GpuModel(_Model):
    """``gpu.attributes.vendor.nvidia[]``: one acceptable GPU model."""

    model: str | None = None
    ram: str | None = None
    interface: Literal["pcie", "sxm"] | None = None


class GpuVendor(_Model):
    """``gpu.attributes.vendor``: ``nvidia`` (a list of models, or null for any model)."""

    nvidia: Seq[GpuModel] | None = None


class GpuAttributes(_Model):
    """``gpu.attributes``."""

    vendor: GpuVendor


class GpuResource(_Model):
    """``resources.gpu``: ``units`` GPUs; attributes are required when units > 0."""

    units: Scalar = 0
    attributes: GpuAttributes | None = None


class ComputeResources(_Model):
    """``profiles.compute.<name>.resources``."""

    cpu: CpuResource
    memory: MemoryResource
    storage: Annotated[Seq[StorageVolume], BeforeValidator(_volumes)]
    gpu: GpuResource | None = None


class ComputeProfile(_Model):
    """``profiles.compute.<name>``."""

    resources: ComputeResources


class SignedBy(_Model):
    """``placement.<name>.signedBy``: auditors whose signatures providers must carry."""

    all_of: Seq[str] | None = Field(default=None, alias="allOf")
    any_of: Seq[str] | None = Field(default=None, alias="anyOf")


class Price(_Model):
    """``placement.<name>.pricing.<profile>``: the most to pay per block, in micro-units."""

    denom: Literal["uakt", "uact"]
    amount: Scalar


class Placement(_Model):
    """``profiles.placement.<name>``: provider requirements and prices of one group."""

    attributes: dict[str, AttributeValue] | None = None
    signed_by: SignedBy | None = Field(default=None, alias="signedBy")
    pricing: dict[str, Price]


class Profiles(_Model):
    """``profiles``."""

    compute: dict[str, ComputeProfile]
    placement: dict[str, Placement]


class DeploymentEntry(_Model):
    """``deployment.<service>.<placement>``."""

    profile: str
    count: Annotated[int, Field(ge=1)]


class Endpoint(_Model):
    """``endpoints.<name>``: a leased IP."""

    kind: Literal["ip"]


class Reclamation(_Model):
    """``reclamation``: the shortest reclamation window a provider must offer."""

    min_window: Annotated[str, Field(pattern=r"^[1-9][0-9]*(s|m|h)$")]


class Sdl(_Model):
    """A parsed and validated SDL document (build one with ``parse_sdl``).

    Attributes:
        version: ``"2.0"`` or ``"2.1"``.
        warnings: Problems that do not stop a deployment (for example the ``uakt`` denom,
            which the current chain refuses for new deployments).
    """

    version: Literal["2.0", "2.1"]
    services: dict[str, Service]
    profiles: Profiles
    deployment: dict[str, dict[str, DeploymentEntry]]
    endpoints: dict[str, Endpoint] | None = None
    reclamation: Reclamation | None = None
    include: Seq[str] | None = None

    # None until the semantic rules have run. One private attribute, not two: pydantic sets
    # each one up with several Python calls on every validation.
    _warnings: tuple[FieldIssue, ...] | None = PrivateAttr(default=None)

    @property
    def warnings(self) -> tuple[FieldIssue, ...]:
        """Problems that do not stop a deployment, each with its path."""
        return self._warnings or ()
