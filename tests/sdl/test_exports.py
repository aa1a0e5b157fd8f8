"""The package exports exactly the contract other areas code against."""

from __future__ import annotations

import importlib
import pkgutil

import minds371_akash.sdl as sdl

CONTRACT = {
    "Sdl",
    "parse_sdl",
    "Manifest",
    "build_manifest",
    "canonical_json",
    "manifest_version",
    "normalize_manifest",
    "WorkloadSpec",
    "ServiceSpec",
    "PortSpec",
    "VolumeSpec",
    "GpuSpec",
    "GpuModelSpec",
    "PlacementSpec",
    "RegistryCredentials",
    "DEFAULT_AUDITOR",
    "build_sdl",
    "build_sdl_data",
    "CONSOLE_SUBJECT",
    "build_console_manifest",
    "console_manifest_from_data",
    "console_rules_data",
    "check_console_sdl",
    "image_reference_problem",
    "registry_name_problem",
    "nul_problem",
    "attribute_value_problem",
    "runnable_issues",
}


def test_contract_names_are_exported() -> None:
    assert set(sdl.__all__) == CONTRACT
    for name in sdl.__all__:
        assert getattr(sdl, name) is not None


def test_every_module_declares_all() -> None:
    for info in pkgutil.iter_modules(sdl.__path__):
        module = importlib.import_module(f"{sdl.__name__}.{info.name}")
        assert isinstance(module.__all__, list), info.name
        for name in module.__all__:
            assert hasattr(module, name), f"{info.name}.{name}"


def test_manifest_exposes_the_contract_fields() -> None:
    manifest = sdl.build_manifest(
        sdl.parse_sdl(
            sdl.build_sdl(
                sdl.WorkloadSpec(
                    services=(
                        sdl.ServiceSpec(name="web", image="nginx", ports=(sdl.PortSpec(port=80),)),
                    ),
                    max_price_uact=100,
                )
            )
        )
    )
    assert isinstance(manifest.groups, list)
    assert isinstance(manifest.json, str)
    assert len(manifest.version) == 64
    assert len(manifest.version_bytes) == 32
    assert isinstance(manifest.group_specs, list)


def test_models_export_json_schemas() -> None:
    # Actions publish their parameters' JSON schema; a deployment request embeds a WorkloadSpec.
    for model in (sdl.WorkloadSpec, sdl.Sdl):
        schema = model.model_json_schema()
        assert schema["type"] == "object"
        assert schema["properties"]
