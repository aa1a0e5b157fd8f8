"""Simulated providers: what each one offers, what it charges, and the default set.

A provider is described by a frozen :class:`ProviderSpec`: region and attributes, audit status,
uptime, GPU models, capacity, supported storage classes, a pricing strategy and how many blocks it
takes to bid. The set is configurable: ``minds371 sandbox serve --providers FILE`` reads a YAML or
JSON list of these objects (see the README for an example).
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from minds371.errors import ConfigurationError, ValidationError
from minds371_sandbox._identity import AUDITOR, Identity

__all__ = [
    "Capacity",
    "GpuModel",
    "Pricing",
    "ProviderSpec",
    "default_providers",
    "load_providers",
]

GIB = 1024**3


class GpuModel(BaseModel):
    """One GPU model a provider has (Console's ``gpuModels`` entry)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    vendor: str = "nvidia"
    model: str
    ram: str
    interface: Literal["pcie", "sxm"] = "pcie"
    units: int = Field(default=8, ge=0, description="how many of this model the provider has")
    price: Decimal = Field(default=Decimal(1500), ge=0, description="uact per block per GPU")


class Capacity(BaseModel):
    """Total allocatable resources of a provider."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_millicores: int = Field(default=256_000, ge=0)
    memory_bytes: int = Field(default=1024 * GIB, ge=0)
    storage_bytes: int = Field(default=16 * 1024 * GIB, ge=0)
    persistent_storage_bytes: int = Field(default=8 * 1024 * GIB, ge=0)


class Pricing(BaseModel):
    """How a provider computes its bid, in ``uact`` per block.

    ``scale`` bids the sum of its resource rates (the Go provider's default strategy); ``fixed``
    bids ``fixed_amount`` for any order it can serve; ``fraction`` bids ``fraction`` of the
    order's maximum price but never below its ``scale`` cost. Every strategy declines an order
    whose maximum price is below its bid ("Price too high, not bidding").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    strategy: Literal["scale", "fixed", "fraction"] = "scale"
    cpu_per_core: Decimal = Field(default=Decimal(10), ge=0)
    memory_per_gib: Decimal = Field(default=Decimal(3), ge=0)
    storage_per_gib: Decimal = Field(default=Decimal("0.4"), ge=0)
    persistent_storage_per_gib: Decimal = Field(default=Decimal("0.8"), ge=0)
    endpoint_per_port: Decimal = Field(default=Decimal(1), ge=0)
    ip_per_lease: Decimal = Field(default=Decimal(20), ge=0)
    fixed_amount: Decimal = Field(default=Decimal(40), gt=0)
    fraction: Decimal = Field(default=Decimal("0.6"), gt=0, le=1)


class ProviderSpec(BaseModel):
    """A simulated provider.

    Attributes:
        name: Short unique name; also seeds the address and the hostnames.
        address: The ``akash1…`` owner address (derived from ``name`` when omitted).
        region: The ``region`` attribute.
        attributes: Further on-chain attributes (``host``, ``tier``, ``organization``...).
        audited: Whether the Console auditor signed its attributes.
        uptime: Fraction of checks online over the last days (Console's ``uptime7d``).
        online: Whether it answers and bids; the admin API toggles it.
        bid_delay_blocks: Blocks after an order opens before its bid lands (1 or 2 typically).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    address: str = ""
    region: str
    country: str = "US"
    attributes: dict[str, str] = Field(default_factory=dict)
    audited: bool = True
    uptime: float = Field(default=0.99, ge=0, le=1)
    online: bool = True
    gpu_models: tuple[GpuModel, ...] = ()
    capacity: Capacity = Capacity()
    storage_classes: tuple[str, ...] = ("beta2", "beta3", "ram")
    ip_leases: bool = False
    pricing: Pricing = Pricing()
    bid_delay_blocks: int = Field(default=1, ge=1, le=20)

    def model_post_init(self, context: object, /) -> None:
        if not self.address:
            derived = Identity.from_seed(b"minds371-sandbox/provider/" + self.name.encode())
            object.__setattr__(self, "address", derived.address)

    @property
    def hostname(self) -> str:
        """The cluster's public hostname; ingress URIs are sub-domains of it."""
        return f"{self.name}.provider.sandbox.test"

    @property
    def auditors(self) -> tuple[str, ...]:
        """The auditors whose signature covers this provider's attributes."""
        return (AUDITOR,) if self.audited else ()

    def all_attributes(self) -> dict[str, str]:
        """The on-chain attributes, ``region`` included, sorted by key."""
        merged = {"host": "akash", "tier": "community", **self.attributes, "region": self.region}
        return dict(sorted(merged.items()))


def default_providers() -> list[ProviderSpec]:
    """The default marketplace: five providers across regions, audited and not, one with GPUs."""
    return [
        ProviderSpec(name="falcon", region="us-west", country="US", audited=True, uptime=0.998),
        ProviderSpec(
            name="harbor",
            region="eu-central",
            country="DE",
            audited=True,
            uptime=0.995,
            pricing=Pricing(strategy="fraction", fraction=Decimal("0.6")),
        ),
        ProviderSpec(
            name="summit",
            region="us-east",
            country="US",
            audited=True,
            uptime=0.99,
            bid_delay_blocks=2,
            ip_leases=True,
            gpu_models=(
                GpuModel(model="h100", ram="80Gi", interface="sxm", units=8, price=Decimal(2500)),
                GpuModel(model="a100", ram="80Gi", interface="pcie", units=8, price=Decimal(1500)),
                GpuModel(
                    model="rtx4090", ram="24Gi", interface="pcie", units=16, price=Decimal(500)
                ),
            ),
            pricing=Pricing(cpu_per_core=Decimal(12), memory_per_gib=Decimal(4)),
        ),
        ProviderSpec(
            name="pebble",
            region="ap-southeast",
            country="SG",
            audited=False,
            uptime=0.97,
            pricing=Pricing(cpu_per_core=Decimal(5), memory_per_gib=Decimal("1.5")),
        ),
        ProviderSpec(
            name="lantern",
            region="eu-west",
            country="FR",
            audited=False,
            uptime=0.93,
            bid_delay_blocks=2,
            storage_classes=("ram",),
            pricing=Pricing(strategy="fixed", fixed_amount=Decimal(40)),
        ),
    ]


def load_providers(path: Path) -> list[ProviderSpec]:
    """Read a provider set from a YAML or JSON file holding a list of :class:`ProviderSpec`.

    Raises:
        ConfigurationError: If the file cannot be read or parsed.
        ValidationError: If an entry is invalid (every issue named by its path).
    """
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"cannot read providers file {path}: {exc}") from exc
    if isinstance(raw, dict) and "providers" in raw:
        raw = raw["providers"]
    try:
        specs = pydantic.TypeAdapter(list[ProviderSpec]).validate_python(raw)
    except pydantic.ValidationError as exc:
        raise ValidationError.from_pydantic(exc, subject="providers file") from exc
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names) or not specs:
        raise ConfigurationError(f"providers file {path}: names must be unique and non-empty")
    return specs
