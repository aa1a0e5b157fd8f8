"""The Akash SDL engine: parse, validate, build manifests, hash them, derive group specs.

``parse_sdl`` turns SDL 2.0/2.1 YAML into a validated :class:`Sdl`; ``build_manifest`` gives the
manifest groups exactly as Go marshals them, the canonical JSON a provider re-hashes, its
version hash and the on-chain group specs.
"""

from minds371_akash.sdl._canonical import canonical_json, manifest_version
from minds371_akash.sdl._manifest import Manifest, build_manifest
from minds371_akash.sdl._models import Sdl
from minds371_akash.sdl._normalize import normalize_manifest
from minds371_akash.sdl._parse import parse_sdl

__all__ = [
    "Manifest",
    "Sdl",
    "build_manifest",
    "canonical_json",
    "manifest_version",
    "normalize_manifest",
    "parse_sdl",
]
