"""The Akash SDL engine: parse, validate, build manifests, hash them, derive group specs.

``parse_sdl`` turns SDL 2.0/2.1 YAML into a validated :class:`Sdl`; ``build_manifest`` gives the
manifest groups exactly as Go marshals them, the canonical JSON a provider re-hashes, its
version hash and the on-chain group specs. ``build_console_manifest`` does the same by the
rules of Console (chain-sdk TypeScript), whose manifest and version differ for some SDLs.
``runnable_issues`` (with ``image_reference_problem``, ``nul_problem``,
``attribute_value_problem``) finds what the chain accepts but no provider could run or bid on,
for a client to refuse before it spends.
"""

from minds371_akash.sdl._build import build_sdl, build_sdl_data
from minds371_akash.sdl._canonical import canonical_json, manifest_version
from minds371_akash.sdl._checks import attribute_value_problem, nul_problem
from minds371_akash.sdl._image import image_reference_problem, registry_name_problem
from minds371_akash.sdl._manifest import Manifest, build_manifest
from minds371_akash.sdl._models import Sdl
from minds371_akash.sdl._normalize import normalize_manifest
from minds371_akash.sdl._parse import parse_sdl
from minds371_akash.sdl._runnable import runnable_issues
from minds371_akash.sdl._ts_manifest import (
    CONSOLE_SUBJECT,
    build_console_manifest,
    check_console_sdl,
    console_manifest_from_data,
    console_rules_data,
)
from minds371_akash.sdl._workload import (
    DEFAULT_AUDITOR,
    GpuModelSpec,
    GpuSpec,
    PlacementSpec,
    PortSpec,
    RegistryCredentials,
    ServiceSpec,
    VolumeSpec,
    WorkloadSpec,
)

__all__ = [
    "CONSOLE_SUBJECT",
    "DEFAULT_AUDITOR",
    "GpuModelSpec",
    "GpuSpec",
    "Manifest",
    "PlacementSpec",
    "PortSpec",
    "RegistryCredentials",
    "Sdl",
    "ServiceSpec",
    "VolumeSpec",
    "WorkloadSpec",
    "attribute_value_problem",
    "build_console_manifest",
    "build_manifest",
    "build_sdl",
    "build_sdl_data",
    "canonical_json",
    "check_console_sdl",
    "console_manifest_from_data",
    "console_rules_data",
    "image_reference_problem",
    "manifest_version",
    "normalize_manifest",
    "nul_problem",
    "parse_sdl",
    "registry_name_problem",
    "runnable_issues",
]
